"""The `aws.organizations.integration` resource: one per catalog integration in scope, in the management account.

Its facts join three things: what the catalog says the integration is (principals, service-linked roles,
delegated-administrator support), what the snapshot read (trusted access, delegated administrators, the
management account's roles), and what the configuration wants (`integrations:`, scanner.config). Data that
was not read makes its fact unknown (the rules give `error`), never an empty list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from scanner.catalog import Integration, load_catalog
from scanner.catalog.model import ServiceLinkedRole
from scanner.config import DEFAULT_INTEGRATION_POLICY, IntegrationPolicy
from scanner.model import AccountSnapshot, CollectionError, Resource, Snapshot

INTEGRATION = "aws.organizations.integration"

_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "additionalProperties": False}


FACT_SCHEMA = _object(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "enable_via": {"type": "string", "enum": ["organizations", "either", "service-console"]},
        "dedicated_pack": {"type": "boolean"},
        "desired": {"type": "string", "enum": ["require", "forbid", "allow", "deny", "report"]},
        "how_to_enable": {"type": "string"},
        "trusted_access": _object(
            {
                "enabled": {"type": "boolean"},
                "principals": _STRINGS,
                "legacy_principals": _STRINGS,
                "principal_verified": {"type": "boolean"},
            }
        ),
        "delegated_administrator": _object(
            {
                "supported": {"type": ["boolean", "null"]},
                "expected": {"type": ["string", "null"]},
                # whether `expected` is among `accounts` (None when the configuration names no account)
                "expected_registered": {"type": ["boolean", "null"]},
                "accounts": _STRINGS,
                "inactive_accounts": _STRINGS,
                "unexpected_accounts": _STRINGS,
            }
        ),
        "service_linked_roles": _object(
            {
                "missing": _STRINGS,
                "missing_unverified": _STRINGS,
                "stale": _STRINGS,
                "stale_kept_by_design": _STRINGS,
            }
        ),
    }
)

# The delegated-administrator facts that need the snapshot's reads (`supported` and `expected` never do)
_DA_READ = ("expected_registered", "accounts", "inactive_accounts", "unexpected_accounts")
# A service-linked role's cells a "missing" finding rests on: an unverified one makes it informational
_PROMISE_FIELDS = frozenset({"name", "trusted_principal", "created_in", "created_when"})


@cache
def known_principals() -> frozenset[str]:
    """Every trusted-access principal any catalog entry names (any status), lower case."""
    return frozenset(p.lower() for entry in load_catalog().entries for p in entry.principals())


def unknown_principals(enabled: Iterable[str]) -> list[str]:
    """Enabled principals no catalog entry knows: a service the scanner cannot speak for."""
    return sorted({p for p in enabled if p.lower() not in known_principals()})


def how_to_enable(entry: Integration) -> str:
    """The way to turn the integration on: never enable-aws-service-access for a service-console service."""
    principal = next(iter(entry.current_principals), None)
    if entry.enable_via == "service-console" or principal is None:
        return f"from the {entry.name} console (enable-aws-service-access is not the way for this service)"
    return f"aws organizations enable-aws-service-access --service-principal {principal}"


def desired(policy: IntegrationPolicy, integration_id: str) -> str:
    if integration_id in policy.require:
        return "require"
    if integration_id in policy.forbid:
        return "forbid"
    return policy.others


def build(
    snapshot: Snapshot,
    integration_ids: Iterable[str],
    *,
    dedicated: Iterable[str] = (),
    policy: IntegrationPolicy = DEFAULT_INTEGRATION_POLICY,
) -> Iterator[Resource]:
    """One resource per catalog integration of `integration_ids`, in the management account."""
    catalog = load_catalog()
    description = snapshot.organization.description or {}
    management = next((a for a in snapshot.accounts if a.is_management), None)
    account_id = str(description.get("MasterAccountId") or (management.id if management else ""))
    organization_arn = str(description.get("Arn") or f"arn:aws:organizations::{account_id}:organization/unknown")
    delegated = _Delegated.of(snapshot)
    dedicated_ids = frozenset(dedicated)
    for integration_id in sorted(set(integration_ids)):
        entry = catalog[integration_id]
        facts, unknown = _facts(entry, snapshot, management, delegated, policy)
        facts["dedicated_pack"] = integration_id in dedicated_ids
        yield Resource(
            INTEGRATION, account_id, f"{organization_arn}/integration/{entry.id}", entry.id, facts, unknown=unknown
        )


def _facts(
    entry: Integration,
    snapshot: Snapshot,
    management: AccountSnapshot | None,
    delegated: _Delegated,
    policy: IntegrationPolicy,
) -> tuple[dict[str, Any], dict[str, str]]:
    organization = snapshot.organization
    unknown: dict[str, str] = {}
    current = entry.current_principals
    facts: dict[str, Any] = {
        "id": entry.id,
        "name": entry.name,
        "enable_via": entry.enable_via,
        "desired": desired(policy, entry.id),
        "how_to_enable": how_to_enable(entry),
    }
    enabled: bool | None = None
    if organization.enabled_service_principals is None:
        unknown["trusted_access"] = reasons(organization.errors, "organizations:ListAWSServiceAccessForOrganization")
    else:
        on = {str(item.get("ServicePrincipal", "")) for item in organization.enabled_service_principals}
        principals = [p for p in current if p in on]
        enabled = bool(principals)
        facts["trusted_access"] = {
            "enabled": enabled,
            "principals": principals,
            "legacy_principals": [p for p in entry.legacy_principals if p in on],
            "principal_verified": bool(current)
            and all(p.verified for p in entry.trusted_access if p.status == "current"),
        }
    expected = policy.delegated_administrators.get(entry.id)
    facts["delegated_administrator"] = {"supported": entry.delegated_administrator.supported, "expected": expected}
    accounts = delegated.accounts_for(entry)
    if accounts is None:
        for key in _DA_READ:
            unknown[f"delegated_administrator.{key}"] = delegated.reason
    else:
        facts["delegated_administrator"].update(
            expected_registered=None if expected is None else expected in accounts,
            accounts=accounts,
            inactive_accounts=[a for a in accounts if delegated.status.get(a, "ACTIVE") != "ACTIVE"],
            unexpected_accounts=[a for a in accounts if a != expected],
        )
    reason = _roles_unread(entry, snapshot, management, enabled)
    if reason is not None:
        unknown["service_linked_roles"] = reason
    else:
        assert management is not None and enabled is not None  # _roles_unread says why otherwise
        facts["service_linked_roles"] = _role_facts(entry, management, enabled)
    return facts, unknown


def _roles_unread(
    entry: Integration, snapshot: Snapshot, management: AccountSnapshot | None, enabled: bool | None
) -> str | None:
    if enabled is None:
        return "whether trusted access is enabled was not read"
    if entry.id not in snapshot.metadata.integrations:
        return f"the snapshot was not collected for integration {entry.id}: its roles were not kept"
    if management is None:
        return "the management account was not listed"
    if management.roles_listed is None:
        return reasons(management.errors, "sts:AssumeRole", "iam:ListRoles")
    return None


def _promised(role: ServiceLinkedRole, entry: Integration) -> bool:
    """Documented as created in the management account by enabling trusted access through Organizations."""
    return (
        "management" in role.created_in
        and role.created_when == "on-enable"
        and entry.enable_via != "service-console"
    )


def _role_facts(entry: Integration, management: AccountSnapshot, enabled: bool) -> dict[str, list[str]]:
    present = {(str(r.role.get("RoleName")), str(r.role.get("Path"))) for r in management.roles}
    facts: dict[str, list[str]] = {"missing": [], "missing_unverified": [], "stale": [], "stale_kept_by_design": []}
    for role in entry.service_linked_roles:
        if role.name is None or role.path is None or not _promised(role, entry):
            continue
        here = (role.name, role.path) in present
        if enabled and not here:
            verified = not (role.unverified & _PROMISE_FIELDS)
            facts["missing" if verified else "missing_unverified"].append(role.name)
        elif not enabled and here:
            facts["stale_kept_by_design" if role.kept_when_disabled else "stale"].append(role.name)
    return facts


class _Delegated:
    """The delegated administrators as read: each account's services and registration status."""

    def __init__(
        self,
        services: Mapping[str, frozenset[str]] | None,
        status: Mapping[str, str],
        reason: str,
        incomplete: bool,
    ) -> None:
        self.services = services
        self.status = status
        self.reason = reason
        self.incomplete = incomplete  # some account's services were not read

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Delegated:
        organization = snapshot.organization
        admins, by_account = organization.delegated_administrators, organization.delegated_services
        apis = ("organizations:ListDelegatedAdministrators", "organizations:ListDelegatedServicesForAccount")
        if admins is None or by_account is None:
            return cls(None, {}, reasons(organization.errors, *apis), incomplete=True)
        status = {str(a.get("Id")): str(a.get("Status", "")) for a in admins}
        unread = sorted(set(status) - set(by_account))
        services = {
            account: frozenset(str(item.get("ServicePrincipal", "")).lower() for item in items)
            for account, items in by_account.items()
        }
        failed = [e for e in organization.errors if e.api == apis[1] and e.resource in unread]
        reason = "; ".join(e.describe() for e in failed) or (
            f"the delegated services of {', '.join(unread)} were not read" if unread else ""
        )
        return cls(services, status, reason, incomplete=bool(unread))

    def accounts_for(self, entry: Integration) -> list[str] | None:
        """The accounts registered as the integration's delegated administrator; None when not known."""
        if self.services is None:
            return None
        principals = {p.lower() for p in (*entry.principals(), *entry.delegated_administrator.principals)}
        found = sorted(account for account, services in self.services.items() if services & principals)
        if self.incomplete and entry.delegated_administrator.supported is not False:
            return None  # an unread account may administer it
        return found


def reasons(errors: tuple[CollectionError, ...], *apis: str) -> str:
    """Why a read's data is missing: the failed calls of `apis`, in words."""
    matching = [e.describe() for e in errors if e.api in apis]
    return "; ".join(matching) or "not read"
