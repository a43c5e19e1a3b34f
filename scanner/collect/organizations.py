"""AWS Organizations reads: the organization, trusted access, delegated administrators, the account list and
OU membership.

Each function makes the calls and returns plain answers; callers decide what a failure means
(`ErrorLog.attempt`), so the same functions serve the start-up checks and the tolerant scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from scanner.collect.session import jsonable, next_token_field, pages
from scanner.config import DEFAULT_MAX_PAGES

READ_ACTIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListAWSServiceAccessForOrganization",
    "organizations:ListAccounts",
    "organizations:DescribeAccount",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
)
# Made only for a scope with an integration that can have a delegated administrator
# (integrations.needs_delegated_administrators)
DELEGATED_ADMINISTRATOR_ACTIONS = (
    "organizations:ListDelegatedAdministrators",
    "organizations:ListDelegatedServicesForAccount",
)
PERMISSIONS = (*READ_ACTIONS, *DELEGATED_ADMINISTRATOR_ACTIONS)

# The largest page each API accepts: fewer round trips for a 10,000-account organization.
_ACCOUNTS_PAGE = 20
_CHILDREN_PAGE = 20
_LISTING_PAGE = 20  # trusted access and delegated administrators

_NEXT_TOKEN = next_token_field("NextToken")


def describe_organization(client: Any) -> dict[str, Any]:
    """DescribeOrganization's `Organization`."""
    answer: dict[str, Any] = jsonable(client.describe_organization()["Organization"])
    return answer


def _every_item(call: Any, member: str, max_pages: int, **params: Any) -> tuple[dict[str, Any], ...]:
    """Every item of an Organizations listing (`member` of each page), across all pages of 20."""
    listing = pages(call, request_token="NextToken", next_token=_NEXT_TOKEN, max_pages=max_pages,
                    MaxResults=_LISTING_PAGE, **params)
    # Members are present: scanner.collect.answers checked every answer before it got here.
    return tuple(jsonable(item) for page in listing for item in page[member])


def enabled_service_principals(client: Any, max_pages: int = DEFAULT_MAX_PAGES) -> tuple[dict[str, Any], ...]:
    """Every service with trusted access, across all pages."""
    return _every_item(client.list_aws_service_access_for_organization, "EnabledServicePrincipals", max_pages)


def delegated_administrators(client: Any, max_pages: int = DEFAULT_MAX_PAGES) -> tuple[dict[str, Any], ...]:
    """Every delegated administrator of the organization (for any service), across all pages."""
    return _every_item(client.list_delegated_administrators, "DelegatedAdministrators", max_pages)


def delegated_services(client: Any, account_id: str, max_pages: int = DEFAULT_MAX_PAGES) -> tuple[dict[str, Any], ...]:
    """The services `account_id` is a delegated administrator for, across all pages."""
    return _every_item(client.list_delegated_services_for_account, "DelegatedServices", max_pages,
                       AccountId=account_id)


def delegated_administrator_ids(administrators: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The distinct accounts among ListDelegatedAdministrators' items, sorted: one services read each."""
    return tuple(sorted({str(item["Id"]) for item in administrators}))


def account_pages(client: Any, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[list[dict[str, Any]]]:
    """ListAccounts one page at a time, so the scan can start on the first page while the rest load."""
    listing = pages(client.list_accounts, request_token="NextToken", next_token=_NEXT_TOKEN, max_pages=max_pages,
                    MaxResults=_ACCOUNTS_PAGE)
    for page in listing:
        yield [jsonable(item) for item in page["Accounts"]]


def describe_account(client: Any, account_id: str) -> dict[str, Any]:
    """DescribeAccount's `Account`: the same fields as a ListAccounts entry."""
    answer: dict[str, Any] = jsonable(client.describe_account(AccountId=account_id)["Account"])
    return answer


def account_state(listing: Mapping[str, Any]) -> str:
    """`State`, or the older `Status` that AWS retires in 2026 when State is absent."""
    return str(listing.get("State") or listing.get("Status") or "UNKNOWN")


def accounts_under(client: Any, parent_ids: Iterable[str], max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, str]:
    """account id -> the configured parent (OU or root) it sits under, at any depth."""
    found: dict[str, str] = {}
    for parent in parent_ids:
        for account_id in _accounts_below(client, parent, max_pages):
            found.setdefault(account_id, parent)
    return found


def _accounts_below(client: Any, parent_id: str, max_pages: int) -> Iterator[str]:
    # Iterative walk: OU trees are at most five levels deep, but a stack costs nothing and never recurses.
    stack = [parent_id]
    while stack:
        parent = stack.pop()
        for page in _children(client.list_accounts_for_parent, parent, max_pages):
            yield from (str(account["Id"]) for account in page["Accounts"])
        for page in _children(client.list_organizational_units_for_parent, parent, max_pages):
            stack.extend(str(unit["Id"]) for unit in page["OrganizationalUnits"])


def _children(call: Any, parent_id: str, max_pages: int) -> Iterator[Mapping[str, Any]]:
    return pages(call, request_token="NextToken", next_token=_NEXT_TOKEN, max_pages=max_pages, ParentId=parent_id,
                 MaxResults=_CHILDREN_PAGE)
