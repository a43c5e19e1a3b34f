"""What the scan needs to know about each integration, derived from the catalog (scanner.catalog) only.

No integration is named in code: the rules name the integrations they apply to (`integration:` in a rule
or its pack.yaml), and everything else (which roles the collector keeps, which facts the evaluator
computes, what a report's header says) follows from those ids and the catalog's entries for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from scanner.catalog import Integration, load_catalog
from scanner.catalog.loader import catalog_dir
from scanner.catalog.model import SERVICE_LINKED_ROLE_PATH_PREFIX
from scanner.model import EVERY_INTEGRATION, Markers


@dataclass(frozen=True, slots=True)
class Known:
    """One integration's identifiers as the collector and the evaluator use them (all from its catalog entry)."""

    id: str
    name: str
    trusted_access_principals: tuple[str, ...]  # current ones, in catalog order
    legacy_trusted_access_principals: tuple[str, ...]  # legacy and misspelt: enabled, either is a finding
    service_principals: tuple[str, ...]  # every service principal a trust policy may name for it
    # those whose trust in a role concerns the integration: all but the ones customers' own roles trust for
    # unrelated purposes (catalog `customer_role_principals`, e.g. every EC2 instance role's ec2.amazonaws.com)
    trust_principals: tuple[str, ...]
    # (name, path) of each service-linked role it owns whose name and trusted principal are known
    service_linked_roles: tuple[tuple[str, str], ...]
    legacy_role_names: tuple[str, ...]

    @property
    def role_names(self) -> frozenset[str]:
        """Lower-cased names of its roles: IAM role names are unique case-insensitively."""
        return frozenset(n.lower() for n, _ in self.service_linked_roles) | {n.lower() for n in self.legacy_role_names}

    def is_service_linked_role(self, name: str, path: str) -> bool:
        return (name, path) in self.service_linked_roles

    def names_service_principal(self, principal: str) -> bool:
        return principal.strip().lower() in self._lower_principals

    @property
    def _lower_principals(self) -> frozenset[str]:
        return frozenset(p.lower() for p in self.service_principals)


def _known(entry: Integration) -> Known:
    return Known(
        id=entry.id,
        name=entry.name,
        trusted_access_principals=entry.current_principals,
        legacy_trusted_access_principals=entry.legacy_principals,
        service_principals=entry.service_principals,
        trust_principals=entry.trust_principals,
        service_linked_roles=tuple(
            (r.name, r.path) for r in entry.service_linked_roles if r.name is not None and r.path is not None
        ),
        legacy_role_names=tuple(r.name for r in entry.legacy_roles),
    )


class UnknownIntegration(KeyError):
    """An id the catalog does not hold."""


EVERY = EVERY_INTEGRATION
"""`integration: "*"` in a rule or pack: the rule applies to every catalog integration (scanner.rules)."""


_KIND_INTEGRATION = re.compile(r"^kind:\s*integration\s*$", re.MULTILINE)


@cache
def integration_ids() -> tuple[str, ...]:
    """Every catalog entry of kind `integration`, sorted: what a rule of `integration: "*"` applies to.

    Read from each file's top-level `kind:` line, as ids() reads the file names: deciding a collection's scope
    costs no parsing and validating of the whole catalog before the collection (and its handling of an
    interruption) has started; `known` loads and checks the catalog when an id is used."""
    return tuple(
        sorted(
            path.stem
            for path in catalog_dir().glob("*.yaml")
            if _KIND_INTEGRATION.search(path.read_text(encoding="utf-8"))
        )
    )


@cache
def known(integration_id: str) -> Known:
    entry = load_catalog().get(integration_id)
    if entry is None or entry.kind != "integration":
        raise UnknownIntegration(integration_id)
    return _known(entry)


def ids() -> tuple[str, ...]:
    """Every entry id of the catalog, sorted: the keys facts per integration may have.

    Read from the file names (the loader holds each file's id to its name), so that building the fact
    schemas at import costs no YAML parsing; `known` loads and checks the catalog when an id is used."""
    return tuple(sorted(path.stem for path in catalog_dir().glob("*.yaml")))


def _builtin_pack_declarations() -> set[str]:
    """The `integration` values of the built-in rule packs' pack.yaml (EVERY included as written)."""
    found: set[str] = set()
    for manifest in Path(str(resources.files("scanner").joinpath("builtin_rules"))).glob("*/pack.yaml"):
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("integration"), str):
            found.add(data["integration"])
    return found


def builtin_pack_integrations() -> tuple[str, ...]:
    """The integrations the built-in rule packs declare in their pack.yaml (for callers with no rule set)."""
    declared = _builtin_pack_declarations()
    return tuple(sorted((declared - {EVERY}) | (set(integration_ids()) if EVERY in declared else set())))


def builtin_pack_dedicated() -> tuple[str, ...]:
    """The integrations a built-in pack names specifically (RuleSet.dedicated of the built-in packs, for
    callers with no rule set)."""
    return tuple(sorted(_builtin_pack_declarations() - {EVERY}))


def scope(named: Iterable[str | None]) -> tuple[Known, ...]:
    """The integrations named (None, EVERY and repeats ignored), sorted by id: what a run collects and evaluates.

    EVERY stands for the whole catalog only in a rule set's own scope (RuleSet.integrations spells it out);
    here, given the rules' own `integration` values (a report's header lines), it adds no integration."""
    return tuple(known(i) for i in sorted({i for i in named if i is not None and i != EVERY}))


def at_service_linked_role_path(path: str) -> bool:
    return path.startswith(SERVICE_LINKED_ROLE_PATH_PREFIX)


def principals_by_integration(integrations: Iterable[Known]) -> Mapping[str, tuple[str, ...]]:
    """integration id -> the principals whose trust in a role concerns it (the role facts' `trust.integrations`)."""
    return {k.id: k.trust_principals for k in integrations}


def trusted_access_seen(markers: Markers, integration: Known) -> str:
    """Which of an integration's principals have trusted access, with when each was enabled, for a header.

    `markers.trusted_access` (principal -> DateEnabled) is None when ListAWSServiceAccessForOrganization
    was not read, so an unread list never reads as "not enabled".
    """
    enabled = markers.trusted_access
    if enabled is None:
        return "not read"
    seen = []
    for principal in (*integration.trusted_access_principals, *integration.legacy_trusted_access_principals):
        if principal in enabled:
            legacy = " (legacy or misspelt)" if principal in integration.legacy_trusted_access_principals else ""
            since = f", enabled {enabled[principal]}" if enabled[principal] else ""
            seen.append(f"{principal}{legacy}{since}")
    return "; ".join(seen) or f"not enabled for any {integration.name} principal"


def headers(markers: Markers, integration_ids: Iterable[str | None]) -> tuple[tuple[str, str], ...]:
    """("<name> trusted access", what was seen) for each integration the rules apply to: the reports' header lines."""
    return tuple((f"{k.name} trusted access", trusted_access_seen(markers, k)) for k in scope(integration_ids))


def needs_delegated_administrators(integration_ids: Iterable[str | None]) -> bool:
    """Whether a collection for these integrations reads the delegated administrators: only when one of
    them can have one (catalog `delegated_administrator.supported`), so an Artifact-only run costs no call.

    An id the catalog does not hold (a snapshot from another version) needs nothing."""
    catalog = load_catalog()
    return any(
        entry is not None and entry.delegated_administrator.supported is True
        for entry in (catalog.get(i) for i in {i for i in integration_ids if i is not None})
    )


@dataclass(frozen=True, slots=True)
class CatalogRole:
    """A service-linked role the catalog names with its trusted principal (so its path is known), as the
    role facts and the collector compare a role with it."""

    integration: str
    name: str
    path: str
    principal: str
    policy_arns: tuple[str, ...]
    created_in: tuple[str, ...]
    verified_identity: bool  # its name and its trusted principal are confirmed by a source
    verified_policies: bool  # every policy's attachment to it is documented (not inferred from a name)

    @property
    def created_in_members(self) -> bool:
        return "members" in self.created_in


def _catalog_roles(entry: Integration) -> tuple[CatalogRole, ...]:
    return tuple(
        CatalogRole(
            integration=entry.id,
            name=role.name,
            path=role.path,
            principal=role.trusted_principal,
            policy_arns=role.managed_policy_arns,
            created_in=role.created_in,
            verified_identity=role.is_verified("name") and role.is_verified("trusted_principal"),
            verified_policies=role.is_verified("managed_policies")
            and all(p.attachment == "documented" for p in role.managed_policies),
        )
        for role in entry.service_linked_roles
        if role.name is not None and role.trusted_principal is not None and role.path is not None
    )


@cache
def catalog_roles(integration_id: str) -> tuple[CatalogRole, ...]:
    """The integration's service-linked roles whose name and principal the catalog knows."""
    known(integration_id)  # the same refusal of an id that is not an integration
    entry = load_catalog().get(integration_id)
    assert entry is not None
    return _catalog_roles(entry)
