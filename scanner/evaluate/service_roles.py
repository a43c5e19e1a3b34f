"""What a role is to the catalog's service-linked roles: the facts of the generic role rules (pack organizations).

`catalog_role` compares a role named like a catalog service-linked role (in any letter case, as IAM compares
names) with that catalog role: its path, whom its trust lets assume it, which policies it has, and how sure
the catalog is of each. `unpinned_integrations` names the integrations whose principals an editable role
trusts without pinning the request's source to this organization. Names, paths, principals and policies come
from the catalog only (scanner.integrations); whom a trust policy lets in comes from the trust facts
(scanner.policy), never from reading the document here.

A value that could not be read is None inside `catalog_role` (only_expected_policies when the attached
policies were not read, trusts_only_expected when the trust policy could not be): the rules that assert it
also require the raw fact it derives from (`attached_policy_arns`, `trust`), whose absence gives `error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from scanner import integrations, policy
from scanner.integrations import CatalogRole, Known

_BOOLEAN = {"type": "boolean"}
_NULLABLE_BOOLEAN = {"type": ["boolean", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}

SCHEMA: dict[str, Any] = {
    "catalog_role": {
        "type": ["object", "null"],
        "properties": {
            "integration": {"type": "string"},
            "name": {"type": "string"},  # as the catalog spells it
            "expected_path": {"type": "string"},
            "expected_principal": {"type": "string"},
            "expected_policy_arns": _STRINGS,
            "dedicated_pack": _BOOLEAN,  # its integration has a pack of its own, whose rules check it
            "at_expected_path": _BOOLEAN,
            "trusts_only_expected": _NULLABLE_BOOLEAN,
            "only_expected_policies": _NULLABLE_BOOLEAN,
            "verified_identity": _BOOLEAN,
            "verified_policies": _BOOLEAN,
            "listing_only": _BOOLEAN,
        },
        "additionalProperties": False,
    },
    "unpinned_integrations": _STRINGS,
}
"""The facts this module adds to `aws.iam.role` (scanner.evaluate.resources.FACT_SCHEMAS)."""


CatalogIndex = Mapping[str, tuple[CatalogRole, ...]]
"""Lower-cased role name -> the in-scope integrations' catalog roles of that name."""


@cache
def catalog_index(scope: tuple[Known, ...]) -> CatalogIndex:
    """Built once per scope (build_inventory), looked up once per role."""
    index: dict[str, list[CatalogRole]] = {}
    for known in scope:
        for role in integrations.catalog_roles(known.id):
            index.setdefault(role.name.lower(), []).append(role)
    return {name: tuple(roles) for name, roles in index.items()}


def catalog_role(
    name: str,
    path: str,
    *,
    trust: Mapping[str, Any] | None,
    attached_policy_arns: Iterable[str] | None,
    listing_only: bool,
    index: CatalogIndex,
    dedicated: frozenset[str],
) -> dict[str, Any] | None:
    """The `catalog_role` fact: None when no in-scope integration has a service-linked role of that name."""
    candidates = index.get(name.lower())
    if not candidates:
        return None
    # Two integrations could list one name; the one whose path the role has is the one it is.
    role = next((c for c in candidates if c.path == path), candidates[0])
    attached = None if attached_policy_arns is None else sorted(attached_policy_arns)
    return {
        "integration": role.integration,
        "name": role.name,
        "expected_path": role.path,
        "expected_principal": role.principal,
        "expected_policy_arns": sorted(role.policy_arns),
        "dedicated_pack": role.integration in dedicated,
        "at_expected_path": path == role.path,
        "trusts_only_expected": None if trust is None else policy.trusts_only_service(trust, role.principal),
        "only_expected_policies": None if attached is None else attached == sorted(role.policy_arns),
        "verified_identity": role.verified_identity,
        "verified_policies": role.verified_policies,
        "listing_only": listing_only,
    }


def unpinned_integrations(
    trust: Mapping[str, Any], *, service_linked: bool, dedicated: frozenset[str]
) -> list[str]:
    """Non-dedicated integrations whose principals can assume the role on behalf of a source outside this
    organization. A role at the service-linked path is left out: IAM keeps that path for AWS's own roles,
    whose trust nobody can edit (a look-alike elsewhere is not left out)."""
    if service_linked:
        return []
    per_integration: Mapping[str, Any] = trust["integrations"]
    # Every in-scope integration has its entry (scanner.policy.trust_facts); those of integrations the
    # policy does not concern are the one shared untrusted entry, skipped without a look.
    return [
        i for i, facts in per_integration.items()
        if facts is not policy.UNTRUSTED and facts["trusted"] and not facts["pinned"] and i not in dedicated
    ]
