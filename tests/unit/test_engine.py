"""The rule engine on hand-made resources: statuses, evidence, and missing data never passing."""

from __future__ import annotations

from typing import Any

import pytest

from scanner import policy
from scanner.evaluate.engine import ITEMS, evaluate_rules, referenced_paths
from scanner.evaluate.resources import ROLE, Inventory
from scanner.model import AccountSnapshot, CollectionError, Remediation, Resource, Rule, Severity, Status

MEMBER = "222222222222"


def rule(**overrides: Any) -> Rule:
    fields: dict[str, Any] = dict(
        id="T-001", title="test rule", severity=Severity.HIGH, resource=ROLE, description="d" * 10,
        rationale="r" * 10, remediation=Remediation("fix it now", "aws iam get-role"),
        where={"properties": {"name": {"const": "Target"}}},
        expect={"properties": {"permissions_boundary": {"const": None}}},
    )
    fields.update(overrides)
    return Rule(**fields)


def account(**overrides: Any) -> AccountSnapshot:
    fields: dict[str, Any] = dict(id=MEMBER, name="member", state="ACTIVE", is_management=False,
                                  listing={"Id": MEMBER}, scanned=True, roles_listed=3)
    fields.update(overrides)
    return AccountSnapshot(**fields)


def role(name: str = "Target", unknown: dict[str, str] | None = None, **facts: Any) -> Resource:
    base = {"name": name, "permissions_boundary": None}
    base.update(facts)
    return Resource(ROLE, MEMBER, f"arn:aws:iam::{MEMBER}:role/{name}", name, base, unknown=unknown or {})


def inventory(resources: list[Resource], accounts: tuple[AccountSnapshot, ...] | None = None,
              unread: dict[tuple[str, str], tuple[CollectionError, ...]] | None = None) -> Inventory:
    return Inventory({ROLE: tuple(resources)}, accounts or (account(),), unread or {},
                     policy.OrganizationContext(None, None, frozenset()))


def statuses(results: tuple[Any, ...]) -> list[str]:
    return [r.status.value for r in results]


def test_referenced_paths() -> None:
    schema = {
        "required": ["a"],
        "properties": {"b": {"properties": {"c": {}}}, "d": {"items": {"properties": {"e": {}}}}},
        "anyOf": [{"properties": {"f": {}}}],
        "not": {"required": ["g"]},
    }
    assert referenced_paths(schema) == {("a",), ("b",), ("b", "c"), ("d",), ("d", ITEMS, "e"), ("f",), ("g",)}
    assert referenced_paths(True) == set()


def test_pass_and_fail_with_evidence() -> None:
    results = evaluate_rules([rule()], inventory([role(), role("Target2"), role(permissions_boundary="arn:b")]))
    assert sorted(statuses(results)) == ["fail", "pass"]
    failing = next(r for r in results if r.status is Status.FAIL)
    assert failing.evidence[0].path == "$.permissions_boundary"
    assert failing.evidence[0].expected == "exactly null"
    assert failing.evidence[0].found == "arn:b"
    # Without a message template the sentence names the resource, then the first failing fact
    assert failing.message == 'Target in 222222222222: $.permissions_boundary: expected exactly null, found "arn:b"'


def test_unknown_fact_in_expect_is_error_never_pass() -> None:
    resource = role(unknown={"permissions_boundary": "iam:GetRole: AccessDenied: no"})
    [result] = evaluate_rules([rule()], inventory([resource]))
    assert result.status is Status.ERROR
    assert "iam:GetRole: AccessDenied" in result.message


def test_unknown_fact_not_mentioned_is_ignored() -> None:
    resource = role(unknown={"tags": "iam:GetRole: AccessDenied: no"})
    assert statuses(evaluate_rules([rule()], inventory([resource]))) == ["pass"]


def test_unknown_expect_fact_does_not_matter_when_where_does_not_match() -> None:
    resource = role("Other", unknown={"permissions_boundary": "denied"})
    results = evaluate_rules([rule()], inventory([resource]))
    assert statuses(results) == ["skipped"]  # no matching resource, none_matched defaults to skip


def test_unknown_fact_in_where_is_error() -> None:
    resource = role(unknown={"name": "denied"})
    assert statuses(evaluate_rules([rule()], inventory([resource]))) == ["error"]


def test_unread_account_gives_one_error_per_rule() -> None:
    cause = CollectionError("sts:AssumeRole", "AccessDenied", "not authorized", MEMBER)
    results = evaluate_rules([rule(), rule(id="T-002")], inventory([], unread={(ROLE, MEMBER): (cause,)}))
    assert statuses(results) == ["error", "error"]
    assert all(r.causes == (cause,) and r.resource_arn for r in results)


@pytest.mark.parametrize(("none_matched", "expected"), [("pass", "pass"), ("skip", "skipped")])
def test_none_matched(none_matched: str, expected: str) -> None:
    results = evaluate_rules([rule(none_matched=none_matched)], inventory([role("Other")]))
    assert statuses(results) == [expected]


def test_expect_false_fails_every_match() -> None:
    results = evaluate_rules([rule(expect=False, none_matched="pass")], inventory([role(), role("Other")]))
    assert statuses(results) == ["fail"]
    assert results[0].evidence[0].expected == "no such resource"


@pytest.mark.parametrize(("scope", "management", "expected"), [
    ("management", False, []), ("management", True, ["pass"]), ("members", False, ["pass"]), ("all", True, ["pass"]),
])
def test_account_scope(scope: str, management: bool, expected: list[str]) -> None:
    accounts = (account(is_management=management),)
    assert statuses(evaluate_rules([rule(accounts=scope)], inventory([role()], accounts))) == expected


def test_unscanned_accounts_give_no_role_results() -> None:
    accounts = (account(scanned=False, skip_reason="account state is SUSPENDED", roles_listed=None),)
    assert evaluate_rules([rule()], inventory([], accounts)) == ()


def test_results_are_sorted_and_deterministic() -> None:
    resources = [
        Resource(ROLE, MEMBER, f"arn:aws:iam::{MEMBER}:role/p{i}/Target", "Target",
                 {"name": "Target", "permissions_boundary": None if i else "arn:b"})
        for i in range(3)
    ]
    first = evaluate_rules([rule(id="T-002"), rule()], inventory(resources))
    assert first == evaluate_rules([rule(), rule(id="T-002")], inventory(list(reversed(resources))))
    assert [r.rule_id for r in first] == sorted(r.rule_id for r in first)


def test_evidence_borrows_the_reason_beside_a_failing_fact() -> None:
    pinned_rule = rule(where=None, expect={"properties": {"statements": {"items": {"properties": {
        "pinned": {"const": True}}}}}})
    resource = role(statements=[{"pinned": True, "reason": None}, {"pinned": False, "reason": "no Condition block"}])
    [result] = evaluate_rules([pinned_rule], inventory([resource]))
    assert result.evidence[0].path == "$.statements[1].pinned"
    assert result.evidence[0].note == "no Condition block"
    assert result.message.endswith(": $.statements[1].pinned: expected exactly true, found false (no Condition block)")


@pytest.mark.parametrize("scope, expected", [("all", ["error", "pass"]), ("members", ["error", "pass"]),
                                             ("management", [])])
def test_a_failed_account_listing_gives_an_error_for_the_accounts_it_never_named(
    scope: str, expected: list[str]
) -> None:
    """Accounts a failed ListAccounts never returned have no result of their own: without this error, a
    rule would report only on the accounts that happened to be listed, and read as complete."""
    listing_failed = CollectionError("organizations:ListAccounts", "ResponseParserError", "the answer is not JSON")
    listed = Inventory({ROLE: (role(),)}, (account(),), {},
                       policy.OrganizationContext("o-example", "111111111111", frozenset({MEMBER})),
                       unlisted=(listing_failed,))
    results = evaluate_rules([rule(accounts=scope)], listed)
    assert statuses(results) == expected
    if expected:
        error = next(r for r in results if r.status is Status.ERROR)
        assert (error.account_id, error.resource_name) == ("111111111111", "accounts not listed")
        assert error.causes == (listing_failed,)
        assert "ResponseParserError" in error.message and "account list is incomplete" in error.message
