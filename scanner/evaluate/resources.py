"""Resource types: how a snapshot's raw answers become the facts that rules assert.

Each type is registered with a JSON Schema of its facts. The rule loader checks every property a rule
mentions against that schema (a misspelt fact would otherwise never match and silently pass), and the
tests check every built resource against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner import integrations, policy
from scanner.config import DEFAULT_INTEGRATION_POLICY, IntegrationPolicy
from scanner.evaluate import integration_facts, service_roles
from scanner.evaluate.integration_facts import INTEGRATION
from scanner.evaluate.integration_facts import reasons as _reasons
from scanner.integrations import Known
from scanner.model import AccountSnapshot, CollectionError, Resource, RoleRecord, Snapshot

ORGANIZATION = "aws.organizations.organization"
ACCOUNT = "aws.account"
ROLE = "aws.iam.role"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _object(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "additionalProperties": False}


def _per_integration(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Facts keyed by catalog integration id (`<fact>.integrations.<id>.<name>`), the same facts for each.

    One schema for every id: `rules facts` shows it once, and the rule loader refuses an id other than the
    rule's own integration (scanner.rules), which the collector is sure to have read."""
    return {
        "type": "object",
        "propertyNames": {"enum": list(integrations.ids())},
        "additionalProperties": _object(properties),
    }


TRUST_FACTS_SCHEMA = _object(
    {
        "allowed_principals": _STRINGS,
        "allowed_actions": _STRINGS,
        "allows_any_action": {"type": "boolean"},
        "uses_not_principal": {"type": "boolean"},
        "uses_not_action": {"type": "boolean"},
        "has_deny": {"type": "boolean"},
        "statement_count": {"type": "integer"},
        "integrations": _per_integration(
            {
                "principals": _STRINGS,
                "trusted": {"type": "boolean"},
                "pinned": {"type": "boolean"},
                "statements": {
                    "type": "array",
                    "items": _object(
                        {
                            "index": {"type": "integer"},
                            "sid": _NULLABLE_STRING,
                            "principals": _STRINGS,
                            "pinned": {"type": "boolean"},
                            "pinning_conditions": _STRINGS,
                            "reason": _NULLABLE_STRING,
                            # The request that shows the statement open (None when pinned): which statement
                            # allows it (the HTML report marks that one), who, for what, and the source keys.
                            "witness": {
                                "type": ["object", "null"],
                                "properties": {
                                    "statement": {"type": "integer"},
                                    "principal": {"type": "string"},
                                    "action": {"type": "string"},
                                    "context": {"type": "object", "additionalProperties": {"type": ["array", "null"]}},
                                },
                                "additionalProperties": False,
                            },
                        }
                    ),
                },
            }
        ),
        "condition_keys": _STRINGS,
    }
)

FACT_SCHEMAS: dict[str, dict[str, Any]] = {
    ORGANIZATION: _object(
        {
            "id": {"type": "string"},
            "arn": {"type": "string"},
            "feature_set": {"type": "string"},
            "management_account_id": {"type": "string"},
            "trusted_access": _object(
                {
                    "enabled_principals": _STRINGS,
                    # enabled, and named by no catalog entry: a service the scanner cannot speak for
                    "unknown_principals": _STRINGS,
                    "integrations": _per_integration(
                        {"enabled": {"type": "boolean"}, "principals": _STRINGS, "legacy_principals": _STRINGS}
                    ),
                }
            ),
            # In the management account: each integration's service-linked role (its first, when it has more)
            "service_linked_roles": _per_integration(
                {
                    "present": {"type": "boolean"},
                    "arn": _NULLABLE_STRING,
                    "role_id": _NULLABLE_STRING,
                    "create_date": _NULLABLE_STRING,
                }
            ),
            "customer_agreements": _object(
                {
                    "active_count": {"type": "integer"},
                    "active_organization_agreements": {
                        "type": "array",
                        "items": _object({"name": _NULLABLE_STRING, "id": _NULLABLE_STRING, "arn": _NULLABLE_STRING}),
                    },
                }
            ),
        }
    ),
    ACCOUNT: _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "state": {"type": "string"},
            "is_management": {"type": "boolean"},
            "scanned": {"type": "boolean"},
            "readable": {"type": "boolean"},
            "read_errors": _STRINGS,
        }
    ),
    ROLE: _object(
        {
            "name": {"type": "string"},
            "path": {"type": "string"},
            "arn": {"type": "string"},
            "role_id": _NULLABLE_STRING,
            "create_date": _NULLABLE_STRING,
            "description": _NULLABLE_STRING,
            "in_management_account": {"type": "boolean"},
            "service_linked": {"type": "boolean"},
            # What the role is to each integration: its service-linked role (name and path), named like it
            # (in any letter case), at its path, or named like its legacy role
            "integrations": _per_integration(
                {
                    "service_linked_role": {"type": "boolean"},
                    "named_like_service_linked_role": {"type": "boolean"},
                    "at_service_linked_role_path": {"type": "boolean"},
                    "named_like_legacy_role": {"type": "boolean"},
                }
            ),
            "trust": TRUST_FACTS_SCHEMA,
            "attached_policy_arns": _STRINGS,
            "inline_policy_names": _STRINGS,
            "permissions_boundary": _NULLABLE_STRING,
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "max_session_duration": {"type": ["integer", "null"]},
            **service_roles.SCHEMA,
        }
    ),
    INTEGRATION: integration_facts.FACT_SCHEMA,
}

ACCOUNT_SCOPED_TYPES = frozenset({ACCOUNT, ROLE, INTEGRATION})
"""Types read per account: an account whose data could not be read gives `error` for their rules. The
integrations are in the management account: a rule over them has a result for each integration its `where`
selects, and one "not applicable" otherwise (not one per integration of the catalog)."""

LISTING_APIS = frozenset(
    {
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
    }
)
"""Reads that decide which accounts are scanned: when one fails, accounts may be missing unseen."""


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every resource built from one snapshot, and what could not be read."""

    resources: Mapping[str, tuple[Resource, ...]]
    accounts: tuple[AccountSnapshot, ...]
    # (resource type, account id) -> why that type could not be listed in that account
    unread: Mapping[tuple[str, str], tuple[CollectionError, ...]]
    organization: policy.OrganizationContext
    # Why the account list may be incomplete (failed listing reads); empty when every account was listed
    unlisted: tuple[CollectionError, ...] = ()
    # The integrations the snapshot was collected for (metadata.integrations): only their data was kept
    collected: tuple[str, ...] = ()


def build_inventory(
    snapshot: Snapshot,
    integration_ids: tuple[str, ...] = (),
    *,
    dedicated: tuple[str, ...] = (),
    policy: IntegrationPolicy = DEFAULT_INTEGRATION_POLICY,
) -> Inventory:
    """Facts keyed by integration are computed for `integration_ids` (those the loaded rules apply to), and
    one integration resource for each; `dedicated` (RuleSet.dedicated) are those a pack of their own covers,
    `policy` the configuration's desired state of the integrations."""
    scope = integrations.scope(integration_ids)
    role_scope = _RoleScope.of(scope, frozenset(dedicated))
    org_context = _organization_context(snapshot)
    roles: list[Resource] = []
    unread: dict[tuple[str, str], tuple[CollectionError, ...]] = {}
    for account in snapshot.accounts:
        if not account.scanned:
            continue
        if account.roles_listed is None:
            unread[(ROLE, account.id)] = _listing_errors(account)
            continue
        roles.extend(_role_resource(account, record, org_context, role_scope) for record in account.roles)
    return Inventory(
        resources={
            ORGANIZATION: tuple(_organization_resources(snapshot, scope)),
            ACCOUNT: tuple(_account_resource(account) for account in snapshot.accounts),
            ROLE: tuple(roles),
            INTEGRATION: tuple(
                integration_facts.build(snapshot, (k.id for k in scope), dedicated=dedicated, policy=policy)
            ),
        },
        accounts=snapshot.accounts,
        unread=unread,
        organization=org_context,
        unlisted=_unlisted(snapshot),
        collected=snapshot.metadata.integrations,
    )


INTERRUPTED = CollectionError(
    "organizations:ListAccounts",
    "Interrupted",
    "the collection was interrupted: accounts listed or read after that are not in the snapshot",
)


def _unlisted(snapshot: Snapshot) -> tuple[CollectionError, ...]:
    """Why accounts may be missing unseen: a failed listing read, or an interruption (which cut the
    listing and the reads short without any read failing)."""
    failed = tuple(e for e in snapshot.organization.errors if e.api in LISTING_APIS)
    return (*failed, INTERRUPTED) if snapshot.metadata.interrupted else failed


def _listing_errors(account: AccountSnapshot) -> tuple[CollectionError, ...]:
    blocking = tuple(e for e in account.errors if e.api in ("sts:AssumeRole", "iam:ListRoles"))
    return blocking or account.errors or (
        CollectionError("iam:ListRoles", "NotRead", "the account's roles were not read", account.id),
    )


def _organization_context(snapshot: Snapshot) -> policy.OrganizationContext:
    description = snapshot.organization.description or {}
    return policy.OrganizationContext(
        organization_id=description.get("Id"),
        management_account_id=description.get("MasterAccountId"),
        account_ids=frozenset(account.id for account in snapshot.accounts),
    )


def _management(snapshot: Snapshot) -> AccountSnapshot | None:
    return next((account for account in snapshot.accounts if account.is_management), None)


def _organization_resources(snapshot: Snapshot, scope: tuple[Known, ...]) -> Iterator[Resource]:
    org = snapshot.organization
    description = org.description
    if description is None:
        # Without DescribeOrganization nothing is known about the organization; rules on it give error.
        reason = _reasons(org.errors, "organizations:DescribeOrganization")
        facts: dict[str, Any] = {}
        yield Resource(ORGANIZATION, "", "", "organization", facts, unknown={"": reason})
        return
    unknown: dict[str, str] = {}
    facts = {
        "id": description.get("Id", ""),
        "arn": description.get("Arn", ""),
        "feature_set": description.get("FeatureSet", ""),
        "management_account_id": description.get("MasterAccountId", ""),
    }
    if org.enabled_service_principals is None:
        unknown["trusted_access"] = _reasons(org.errors, "organizations:ListAWSServiceAccessForOrganization")
    else:
        facts["trusted_access"] = _trusted_access_facts(org.enabled_service_principals, scope)
    management = _management(snapshot)
    if management is None or management.roles_listed is None:
        unknown["service_linked_roles"] = (
            _reasons(management.errors, "iam:ListRoles") if management else "the management account was not listed"
        )
    else:
        facts["service_linked_roles"] = {k.id: _service_linked_role_facts(management.roles, k) for k in scope}
    if org.customer_agreements is None:
        # Read by one integration's own reader (scanner.collect's agreements): whatever that call was named
        unknown["customer_agreements"] = _reasons(
            org.errors, *{e.api for e in org.errors if e.api.endswith(":ListCustomerAgreements")}
        )
    else:
        facts["customer_agreements"] = _agreement_facts(org.customer_agreements)
    yield Resource(
        ORGANIZATION,
        facts["management_account_id"],
        facts["arn"],
        facts["id"],
        facts,
        unknown=unknown,
    )


def _trusted_access_facts(enabled: tuple[Mapping[str, Any], ...], scope: tuple[Known, ...]) -> dict[str, Any]:
    principals = sorted({str(item.get("ServicePrincipal", "")) for item in enabled})
    return {
        "enabled_principals": principals,
        "unknown_principals": integration_facts.unknown_principals(principals),
        "integrations": {
            k.id: {
                "enabled": any(p in k.trusted_access_principals for p in principals),
                "principals": [p for p in principals if p in k.trusted_access_principals],
                "legacy_principals": [p for p in principals if p in k.legacy_trusted_access_principals],
            }
            for k in scope
        },
    }


def service_linked_role(records: tuple[RoleRecord, ...], integration: Known) -> Mapping[str, Any] | None:
    """The integration's (first) service-linked role among `records`, as read."""
    return next(
        (
            r.role
            for r in records
            if integration.is_service_linked_role(str(r.role.get("RoleName")), str(r.role.get("Path")))
        ),
        None,
    )


def _service_linked_role_facts(records: tuple[RoleRecord, ...], integration: Known) -> dict[str, Any]:
    role = service_linked_role(records, integration)
    return {
        "present": role is not None,
        "arn": role.get("Arn") if role else None,
        "role_id": role.get("RoleId") if role else None,
        "create_date": role.get("CreateDate") if role else None,
    }


def _agreement_facts(agreements: tuple[Mapping[str, Any], ...]) -> dict[str, Any]:
    active = [a for a in agreements if a.get("state") == "ACTIVE"]
    # NOTE: the API does not label agreements as organization or account agreements; one that carries
    # an organizationArn is taken as an organization agreement (aws-facts.md section 6, UNCONFIRMED).
    organization_agreements = [a for a in active if a.get("organizationArn")]
    return {
        "active_count": len(active),
        "active_organization_agreements": sorted(
            ({"name": a.get("name"), "id": a.get("id"), "arn": a.get("arn")} for a in organization_agreements),
            key=lambda a: str(a["id"]),
        ),
    }


def _account_resource(account: AccountSnapshot) -> Resource:
    readable = account.scanned and account.roles_listed is not None
    facts = {
        "id": account.id,
        "name": account.name,
        "state": account.state,
        "is_management": account.is_management,
        "scanned": account.scanned,
        "readable": readable,
        "read_errors": [e.describe() for e in account.errors],
    }
    arn = str(account.listing.get("Arn") or f"arn:aws:organizations:::account/{account.id}")
    return Resource(ACCOUNT, account.id, arn, account.name, facts)


_UNRELATED = {
    "service_linked_role": False,
    "named_like_service_linked_role": False,
    "at_service_linked_role_path": False,
    "named_like_legacy_role": False,
}
"""A role's `integrations.<id>` entry for an integration it has nothing to do with: one object shared by
every such entry (facts are read, never written), so that a role costs what it matches, not the catalog."""


@dataclass(frozen=True, slots=True)
class _RoleIndex:
    """Which integrations of a scope a role name (lower case) or path concerns."""

    ids: tuple[str, ...]
    known: Mapping[str, Known]
    by_name: Mapping[str, frozenset[str]]  # service-linked and legacy role names
    by_path: Mapping[str, frozenset[str]]


def _role_index(scope: tuple[Known, ...]) -> _RoleIndex:
    by_name: dict[str, set[str]] = {}
    by_path: dict[str, set[str]] = {}
    for k in scope:
        for name in k.role_names:
            by_name.setdefault(name, set()).add(k.id)
        for _, path in k.service_linked_roles:
            by_path.setdefault(path, set()).add(k.id)
    return _RoleIndex(
        tuple(k.id for k in scope),
        {k.id: k for k in scope},
        {n: frozenset(ids) for n, ids in by_name.items()},
        {p: frozenset(ids) for p, ids in by_path.items()},
    )


@dataclass(frozen=True, slots=True)
class _RoleScope:
    """What every role of one inventory is compared with, worked out once (a role costs what it matches)."""

    known: tuple[Known, ...]
    dedicated: frozenset[str]  # integrations with a pack of their own (RuleSet.dedicated)
    trust: policy.TrustReader
    index: _RoleIndex
    catalog: service_roles.CatalogIndex

    @classmethod
    def of(cls, scope: tuple[Known, ...], dedicated: frozenset[str]) -> _RoleScope:
        return cls(
            scope,
            dedicated,
            policy.TrustReader(integrations.principals_by_integration(scope)),
            _role_index(scope),
            service_roles.catalog_index(scope),
        )


def _role_integration_facts(name: str, path: str, index: _RoleIndex) -> dict[str, Mapping[str, bool]]:
    lower = name.lower()
    facts: dict[str, Mapping[str, bool]] = dict.fromkeys(index.ids, _UNRELATED)
    for integration_id in index.by_name.get(lower, frozenset()) | index.by_path.get(path, frozenset()):
        k = index.known[integration_id]
        facts[k.id] = {
            "service_linked_role": k.is_service_linked_role(name, path),
            "named_like_service_linked_role": lower in {n.lower() for n, _ in k.service_linked_roles},
            "at_service_linked_role_path": path in {p for _, p in k.service_linked_roles},
            "named_like_legacy_role": lower in {n.lower() for n in k.legacy_role_names},
        }
    return facts


_DETAIL_FACTS = (
    "description", "permissions_boundary", "tags", "max_session_duration", "attached_policy_arns", "inline_policy_names"
)
"""A role's facts that need reads beyond ListRoles (GetRole, the policy listings)."""


def _detail_facts(
    record: RoleRecord, facts: dict[str, Any], unknown: dict[str, str], errors_for: Callable[..., str]
) -> None:
    role = record.role
    if record.detail_read:
        boundary = role.get("PermissionsBoundary") or {}
        facts["description"] = role.get("Description")
        facts["permissions_boundary"] = boundary.get("PermissionsBoundaryArn")
        facts["tags"] = {str(t.get("Key")): str(t.get("Value")) for t in role.get("Tags", [])}
        facts["max_session_duration"] = role.get("MaxSessionDuration")
    else:
        reason = errors_for("iam:GetRole")
        for key in ("description", "permissions_boundary", "tags", "max_session_duration"):
            unknown[key] = reason
    if record.attached_policies is None:
        unknown["attached_policy_arns"] = errors_for("iam:ListAttachedRolePolicies")
    else:
        facts["attached_policy_arns"] = sorted(str(p.get("PolicyArn")) for p in record.attached_policies)
    if record.inline_policies is None:
        unknown["inline_policy_names"] = errors_for("iam:ListRolePolicies", "iam:GetRolePolicy")
    else:
        facts["inline_policy_names"] = sorted(record.inline_policies)


def _role_resource(
    account: AccountSnapshot, record: RoleRecord, org_context: policy.OrganizationContext, scope: _RoleScope
) -> Resource:
    role = record.role
    name = str(role.get("RoleName", ""))
    path = str(role.get("Path", "/"))
    unknown: dict[str, str] = {}

    def errors_for(*apis: str) -> str:
        return _reasons(tuple(e for e in account.errors if e.resource == name), *apis)

    facts: dict[str, Any] = {
        "name": name,
        "path": path,
        "arn": str(role.get("Arn", "")),
        "role_id": role.get("RoleId"),
        "create_date": role.get("CreateDate"),
        "in_management_account": account.is_management,
        "service_linked": integrations.at_service_linked_role_path(path),
        "integrations": _role_integration_facts(name, path, scope.index),
    }
    trust_document: Mapping[str, Any] | None = None
    try:
        trust_document = policy.decode_policy_document(role.get("AssumeRolePolicyDocument"))
        facts["trust"] = scope.trust(trust_document, org_context)
    except policy.PolicyDocumentError as exc:
        unknown["trust"] = f"the trust policy could not be read: {exc}"
    if "trust" in unknown:
        unknown["unpinned_integrations"] = unknown["trust"]
    else:
        facts["unpinned_integrations"] = service_roles.unpinned_integrations(
            facts["trust"], service_linked=facts["service_linked"], dedicated=scope.dedicated
        )
    if record.listing_only:
        # Kept from ListRoles alone (scanner.collect.iam): nothing beyond the listing was asked for.
        listed = "not read: the role is kept from its listing (iam:ListRoles), whose trust policy is all its rules judge"
        unknown.update(dict.fromkeys(_DETAIL_FACTS, listed))
    else:
        _detail_facts(record, facts, unknown, errors_for)
    facts["catalog_role"] = service_roles.catalog_role(
        name,
        path,
        trust=facts.get("trust"),
        attached_policy_arns=facts.get("attached_policy_arns"),
        listing_only=record.listing_only,
        index=scope.catalog,
        dedicated=scope.dedicated,
    )
    return Resource(
        ROLE,
        account.id,
        facts["arn"],
        name,
        facts,
        unknown=unknown,
        document=trust_document,
    )


RESOURCE_TYPES: tuple[str, ...] = tuple(sorted(FACT_SCHEMAS))
