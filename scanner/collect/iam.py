"""IAM reads in one account: list every role once, then read details only for roles that need them.

An account holds up to 5,000 roles, so reading each one would cost thousands of calls per account.
ListRoles already carries each role's name, path and trust policy, which is all it takes to decide
whether a role concerns one of the integrations the loaded rules apply to (one listing serves them
all); only the roles whose rules need more cost further calls. A healthy account thus
costs one ListRoles call per 1,000 roles.

A role is of interest when it is named like one of the integrations' roles, or when its trust names one of
their principals, except a principal customers' own roles trust for unrelated purposes (catalog
`customer_role_principals`: every EC2 instance role trusts ec2.amazonaws.com). Of those, two kinds are kept
from their ListRoles item alone (RoleRecord.listing_only), since what their rules judge is the trust policy
the listing carries:

- a role of interest only because its trust names the principals of integrations without a pack of their
  own (not in RuleSet.dedicated): the generic rules ask of it only whether the trust is pinned to this
  organization (ORG-035). A role whose trust names a dedicated integration's principal is read in full,
  since that pack's rules may ask for more;
- a member account's genuine service-linked role of an integration whose role the service creates in
  members (GuardDuty's, Config's, ...): IAM refuses changes to a service-linked role from anyone but its
  service (UnmodifiableEntity), so GetRole and the policy listings would cost three calls per role in every
  account to confirm what AWS made. Only a role with the catalog's exact name and path, whose listed trust
  lets nobody but its service principal assume it, is kept so.

Anything else of interest (a role named like a service-linked role elsewhere, a legacy role, a trust
policy that cannot be read) is read in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Any

from scanner import integrations as catalog
from scanner import policy
from scanner.collect.calls import Calls
from scanner.collect.session import ErrorLog, iam_marker, jsonable, pages
from scanner.config import DEFAULT_MAX_PAGES
from scanner.integrations import Known
from scanner.model import JSON, RoleRecord

PERMISSIONS = (
    "iam:ListRoles",
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
)
# One ListRoles pass serves every integration, so the reads are the same whichever rules are loaded.
CALLS = Calls("ReadRoles", PERMISSIONS, "every account")

_PAGE = 1000  # IAM's maximum MaxItems


@dataclass(frozen=True, slots=True)
class Interest:
    """What makes a role worth keeping for a set of integrations: a name (any letter case) or a service
    principal its trust policy names, both lower case (from the catalog, scanner.integrations)."""

    role_names: frozenset[str]
    # principals of the integrations with a pack of their own (RuleSet.dedicated): such a role is read in full
    service_principals: frozenset[str]
    # (name, path) -> trusted principal of each service-linked role the service creates in member accounts
    member_service_linked_roles: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # principals of the other integrations: a role they alone make of interest is kept from its listing
    listing_principals: frozenset[str] = frozenset()

    @classmethod
    def of(cls, integrations: Iterable[Known], dedicated: Iterable[str] = ()) -> Interest:
        """`dedicated`: the integrations some loaded pack names specifically (RuleSet.dedicated)."""
        known = tuple(integrations)
        own_pack = frozenset(dedicated)
        full = frozenset(p.lower() for k in known if k.id in own_pack for p in k.trust_principals)
        return cls(
            frozenset(n for k in known for n in k.role_names),
            full,
            {
                (role.name, role.path): role.principal
                for k in known
                for role in catalog.catalog_roles(k.id)
                if role.created_in_members
            },
            frozenset(p.lower() for k in known if k.id not in own_pack for p in k.trust_principals) - full,
        )


def read_roles(
    client: Any, log: ErrorLog, max_pages: int, interest: Interest, *, in_management_account: bool = False
) -> tuple[int | None, tuple[RoleRecord, ...]]:
    """(how many roles were listed, a record for each role of interest); (None, ()) when the listing failed.

    A role kept for its trust alone is kept from its listing in every account; a genuine service-linked role
    created in members only in a member account (`in_management_account` False): see `how_to_read`."""
    listed = log.attempt("iam:ListRoles", lambda: list_roles(client, max_pages))
    if listed is None:
        return None, ()
    records = tuple(
        _listed_record(item) if how is Read.LISTING else _role_record(client, item, log, max_pages)
        for item, how in ((item, how_to_read(item, interest, in_management_account=in_management_account))
                          for item in listed)
        if how is not None
    )
    return len(listed), tuple(sorted(records, key=lambda r: (str(r.role.get("Path")), str(r.role.get("RoleName")))))


def list_roles(client: Any, max_pages: int = DEFAULT_MAX_PAGES) -> list[dict[str, Any]]:
    """Every role in the account, as ListRoles gives it (every member checked by scanner.collect.answers)."""
    listing = pages(client.list_roles, request_token="Marker", next_token=iam_marker, max_pages=max_pages,
                    MaxItems=_PAGE)
    return [item for page in listing for item in page["Roles"]]


class Read(Enum):
    """How a role of interest is kept."""

    FULL = "full"  # GetRole and the policy listings
    LISTING = "listing"  # its ListRoles item alone (RoleRecord.listing_only)


def how_to_read(item: Mapping[str, Any], interest: Interest, *, in_management_account: bool = False) -> Read | None:
    """None for a role of no interest; else whether its listing suffices (the module's docstring says when)."""
    if not interest.role_names and not interest.service_principals and not interest.listing_principals:
        return None
    if str(item.get("RoleName", "")).lower() in interest.role_names:
        return Read.LISTING if not in_management_account and is_listing_only(item, interest) else Read.FULL
    try:
        document = policy.decode_policy_document(item.get("AssumeRolePolicyDocument"))
    except policy.PolicyDocumentError:
        # A trust policy that cannot be read might name an integration; reading the role lets the rules
        # report it as unreadable instead of silently passing over it.
        return Read.FULL
    if policy.trust_names_service_principal(document, interest.service_principals):
        return Read.FULL
    if policy.trust_names_service_principal(document, interest.listing_principals):
        return Read.LISTING
    return None


def is_listing_only(item: Mapping[str, Any], interest: Interest) -> bool:
    """Whether a role named like an integration's role is a genuine service-linked role the service creates in members: the catalog's exact name and path, and a
    listed trust policy that lets only its service principal assume it (the evaluator's answer, the same
    test as the `catalog_role.trusts_only_expected` fact)."""
    principal = interest.member_service_linked_roles.get((str(item.get("RoleName")), str(item.get("Path"))))
    if principal is None:
        return False
    try:
        document = policy.decode_policy_document(item.get("AssumeRolePolicyDocument"))
    except policy.PolicyDocumentError:
        return False
    return policy.trusts_only_service(policy.trust_facts(document, policy.NO_ORGANIZATION, {}), principal)


def _listed_record(item: Mapping[str, Any]) -> RoleRecord:
    return RoleRecord(
        role=jsonable(item), attached_policies=None, inline_policies=None, detail_read=False, listing_only=True
    )


def _role_record(client: Any, item: Mapping[str, Any], log: ErrorLog, max_pages: int) -> RoleRecord:
    name = str(item["RoleName"])
    role = log.attempt("iam:GetRole", lambda: client.get_role(RoleName=name)["Role"], resource=name)
    return RoleRecord(
        role=jsonable(role if role is not None else item),
        attached_policies=_attached_policies(client, name, log, max_pages),
        inline_policies=_inline_policies(client, name, log, max_pages),
        detail_read=role is not None,
    )


def _attached_policies(client: Any, name: str, log: ErrorLog, max_pages: int) -> tuple[dict[str, Any], ...] | None:
    def read() -> tuple[dict[str, Any], ...]:
        listing = pages(
            client.list_attached_role_policies, request_token="Marker", next_token=iam_marker, max_pages=max_pages,
            RoleName=name, MaxItems=_PAGE,
        )
        return tuple(jsonable(p) for page in listing for p in page["AttachedPolicies"])

    return log.attempt("iam:ListAttachedRolePolicies", read, resource=name)


def _inline_policies(client: Any, name: str, log: ErrorLog, max_pages: int) -> dict[str, JSON] | None:
    """policy name -> document; None when the names or any one document could not be read, because a
    partial set would look complete."""

    def names() -> list[str]:
        listing = pages(
            client.list_role_policies, request_token="Marker", next_token=iam_marker, max_pages=max_pages,
            RoleName=name, MaxItems=_PAGE,
        )
        return [str(n) for page in listing for n in page["PolicyNames"]]

    policy_names = log.attempt("iam:ListRolePolicies", names, resource=name)
    if policy_names is None:
        return None
    def read(policy_name: str) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = client.get_role_policy(RoleName=name, PolicyName=policy_name)
        return answer

    documents: dict[str, JSON] = {}
    for policy_name in policy_names:
        answer = log.attempt("iam:GetRolePolicy", partial(read, policy_name), resource=name)
        if answer is None:
            return None
        documents[policy_name] = _document(answer.get("PolicyDocument"))
    return documents


def _document(raw: Any) -> JSON:
    # botocore already decodes IAM's URL-encoded documents; decode again only if it did not. A
    # document that cannot be decoded is kept as received: it is evidence, and its name is known.
    try:
        return jsonable(policy.decode_policy_document(raw))
    except policy.PolicyDocumentError:
        return jsonable(raw)
