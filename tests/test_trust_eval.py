"""The trust-policy evaluator (scanner.iam_eval) against IAM's documented behaviour, and its search against
brute force.

- Tables, one per operator family, each row citing the documentation behaviour it encodes.
- A reference evaluator written independently (naive recursion, small inputs only) over a small universe
  of request contexts; hypothesis generates policies, and `decide` must agree with it on every context.
- The search must be sound (when brute force finds an allowed request from outside the organization,
  the search finds one too) and exact in what it reports (its witness is a request the reference allows,
  and every source key it sends is outside the organization).
- Facts: adding a Deny never makes a role less pinned, adding an Allow never more; the HTML report marks
  the statement the witness names.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.evaluate.engine import evaluate_rules
from scanner.evaluate.resources import build_inventory
from scanner.iam_eval import Outcome, Principal, Request, Search, decide, parse_policy
from scanner.policy import OrganizationContext, _foreign_domains
from scanner.report import html as html_report
from tests.artifact_facts import trust_facts
from tests.test_rule_cases import BUILTIN, MEMBER, build_snapshot

DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
OPERATORS = DOCS + "reference_policies_elements_condition_operators.html"
MULTI = DOCS + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
LOGIC = DOCS + "reference_policies_elements_condition_logic_multiple_context_keys_or_values.html"
INTERPLAY = DOCS + "reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html"
CONDITION = DOCS + "reference_policies_elements_condition.html"
NOTPRINCIPAL = DOCS + "reference_policies_elements_notprincipal.html"
NOTACTION = DOCS + "reference_policies_elements_notaction.html"
PRINCIPAL = DOCS + "reference_policies_elements_principal.html"

ARTIFACT = Principal("service", "artifact.amazonaws.com")
ASSUME = "sts:AssumeRole"


def decision(condition: Any, context: dict[str, Any], **statement: Any) -> Outcome:
    """One Allow for Artifact with `condition`, decided for a request with `context`."""
    raw = {"Effect": "Allow", "Principal": {"Service": ARTIFACT.name}, "Action": ASSUME, **statement}
    if condition is not None:
        raw["Condition"] = condition
    return decide(parse_policy({"Statement": [raw]}), Request.of(ARTIFACT, ASSUME, context)).outcome


A, D, I = Outcome.ALLOWED, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY  # noqa: E741 - the tables read A/D/I
K = "aws:SourceAccount"
P = "aws:SourceOrgPaths"

# (id, documentation, condition, context, expected)
CONDITION_TABLE: list[tuple[str, str, Any, dict[str, Any], Outcome]] = [
    # String operators: exact, case-sensitive unless IgnoreCase; Like takes * and ?.
    ("equals", OPERATORS, {"StringEquals": {K: "111"}}, {K: "111"}, A),
    ("equals-other", OPERATORS, {"StringEquals": {K: "111"}}, {K: "222"}, I),
    ("equals-case-sensitive", OPERATORS, {"StringEquals": {"k": "Ab"}}, {"k": "ab"}, I),
    ("equals-ignore-case", OPERATORS, {"StringEqualsIgnoreCase": {"k": "Ab"}}, {"k": "ab"}, A),
    ("like-star", OPERATORS, {"StringLike": {"k": "a*c"}}, {"k": "abbc"}, A),
    ("like-question", OPERATORS, {"StringLike": {"k": "a?c"}}, {"k": "abbc"}, I),
    ("not-like", OPERATORS, {"StringNotLike": {"k": "a*"}}, {"k": "b"}, A),
    # A key absent from the request: false, except negated operators, which are true.
    ("absent-positive", OPERATORS, {"StringEquals": {K: "111"}}, {}, I),
    ("absent-negated", OPERATORS, {"StringNotEquals": {K: "111"}}, {}, A),
    ("absent-arn-not-like", OPERATORS, {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::b"}}, {}, A),
    # Several values of one key are ORed; a negated operator with several values acts as AND.
    ("values-ored", LOGIC, {"StringEquals": {K: ["111", "222"]}}, {K: "222"}, A),
    ("negated-values-anded", OPERATORS, {"StringNotEquals": {K: ["111", "222"]}}, {K: "222"}, I),
    # Keys and operators are ANDed.
    ("keys-anded", LOGIC, {"StringEquals": {K: "111", "k": "x"}}, {K: "111", "k": "y"}, I),
    ("operators-anded", LOGIC, {"StringEquals": {K: "111"}, "StringLike": {"k": "x*"}}, {K: "111", "k": "xy"}, A),
    # Condition key names are case-insensitive; values are not.
    ("key-case", CONDITION, {"StringEquals": {"AWS:SOURCEACCOUNT": "111"}}, {"aws:sourceaccount": "111"}, A),
    # ...IfExists: true when the key is absent, the plain test otherwise.
    ("if-exists-absent", OPERATORS, {"StringEqualsIfExists": {K: "111"}}, {}, A),
    ("if-exists-present", OPERATORS, {"StringEqualsIfExists": {K: "111"}}, {K: "222"}, I),
    # Null: "true" holds when the key is absent, "false" when it is present.
    ("null-true-absent", OPERATORS, {"Null": {K: "true"}}, {}, A),
    ("null-true-present", OPERATORS, {"Null": {K: "true"}}, {K: "1"}, I),
    ("null-false-present", OPERATORS, {"Null": {K: "false"}}, {K: "1"}, A),
    # ARN operators compare each of the six fields; a wildcard stays within its field.
    ("arn-like", OPERATORS, {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b*"}}, {"aws:SourceArn": "arn:aws:s3:::bx"}, A),
    ("arn-field", OPERATORS, {"ArnLike": {"aws:SourceArn": "arn:aws:*:*:111:*"}},
     {"aws:SourceArn": "arn:aws:iam::999:role/111:x"}, I),
    ("arn-equals-like", OPERATORS, {"ArnEquals": {"aws:SourceArn": "arn:aws:*:*:111:*"}},
     {"aws:SourceArn": "arn:aws:iam:us-east-1:111:x"}, A),
    # Bool, Numeric, Date, IpAddress.
    ("bool", OPERATORS, {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "TRUE"}, A),
    ("bool-json", OPERATORS, {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"}, A),
    ("numeric", OPERATORS, {"NumericLessThan": {"n": "5"}}, {"n": "4.5"}, A),
    ("date", OPERATORS, {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
     {"aws:CurrentTime": "2021-01-01T00:00:00Z"}, A),
    ("ip", OPERATORS, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, A),
    ("not-ip", OPERATORS, {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, I),
    # Multivalued keys: ForAnyValue needs one request value to match (false when absent); ForAllValues
    # needs every one to (true when absent).
    ("any-one", MULTI, {"ForAnyValue:StringLike": {P: "o-1/*"}}, {P: ["o-2/x", "o-1/y"]}, A),
    ("any-absent", MULTI, {"ForAnyValue:StringLike": {P: "o-1/*"}}, {}, I),
    ("all-every", MULTI, {"ForAllValues:StringLike": {P: "o-1/*"}}, {P: ["o-2/x", "o-1/y"]}, I),
    ("all-absent", MULTI, {"ForAllValues:StringLike": {P: "o-1/*"}}, {}, A),
    ("all-not", MULTI, {"ForAllValues:StringNotLike": {P: "o-1/*"}}, {P: ["o-2/x"]}, A),
]


@pytest.mark.parametrize(
    ("doc", "condition", "context", "expected"),
    [c[1:] for c in CONDITION_TABLE],
    ids=[c[0] for c in CONDITION_TABLE],
)
def test_condition_operators(doc: str, condition: Any, context: dict[str, Any], expected: Outcome) -> None:
    assert doc.startswith(DOCS)
    assert decision(condition, context) is expected


STATEMENT_TABLE: list[tuple[str, str, list[dict[str, Any]], Principal, str, Outcome]] = [
    # An explicit Deny wins over any Allow; no applicable statement is an implicit deny.
    ("deny-wins", INTERPLAY, [{"Effect": "Allow", "Principal": "*", "Action": "*"},
                              {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}], ARTIFACT, ASSUME, D),
    ("implicit", INTERPLAY, [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "*"}],
     ARTIFACT, ASSUME, I),
    # NotPrincipal: everyone but the listed; NotAction: every action but the listed.
    ("not-principal-listed", NOTPRINCIPAL, [{"Effect": "Allow", "NotPrincipal": {"Service": ARTIFACT.name},
                                             "Action": "*"}], ARTIFACT, ASSUME, I),
    ("not-principal-other", NOTPRINCIPAL, [{"Effect": "Allow", "NotPrincipal": {"AWS": "111111111111"},
                                            "Action": "*"}], ARTIFACT, ASSUME, A),
    ("not-action", NOTACTION, [{"Effect": "Allow", "Principal": "*", "NotAction": "sts:Tag*"}],
     ARTIFACT, ASSUME, A),
    ("not-action-listed", NOTACTION, [{"Effect": "Allow", "Principal": "*", "NotAction": "sts:assume*"}],
     ARTIFACT, ASSUME, I),
    # An account id and its root ARN name every principal of that account.
    ("account-root", PRINCIPAL, [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                                  "Action": ASSUME}], Principal.aws("arn:aws:iam::111111111111:role/x"), ASSUME, A),
    # Read as widest: a malformed Allow applies, a malformed Deny does not.
    ("malformed-allow", PRINCIPAL, [{"Effect": "Allow", "Principal": 5, "Action": ASSUME}], ARTIFACT, ASSUME, A),
    ("malformed-deny", PRINCIPAL, [{"Effect": "Allow", "Principal": "*", "Action": ASSUME},
                                   {"Effect": "Deny", "Principal": 5, "Action": ASSUME}], ARTIFACT, ASSUME, A),
    ("aws-star-service-deny-unknown", PRINCIPAL, [{"Effect": "Allow", "Principal": "*", "Action": ASSUME},
                                                  {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ASSUME}],
     ARTIFACT, ASSUME, A),
]


@pytest.mark.parametrize(
    ("doc", "statements", "principal", "action", "expected"),
    [c[1:] for c in STATEMENT_TABLE],
    ids=[c[0] for c in STATEMENT_TABLE],
)
def test_statements(doc: str, statements: list[dict[str, Any]], principal: Principal, action: str,
                    expected: Outcome) -> None:
    assert doc.startswith(DOCS)
    assert decide(parse_policy({"Statement": statements}), Request.of(principal, action)).outcome is expected


# --------------------------------------------------------------------------------------------
# A reference evaluator, written separately and naively, and brute force over a small universe
# --------------------------------------------------------------------------------------------

ORG = OrganizationContext("o-1", "111", frozenset({"111"}))
KEYS = ("aws:sourceaccount", "aws:sourceorgpaths", "k:other")  # the second is multivalued
VALUES = ("111", "222", "o-1/x", "o-2/x", "zz")
LITERALS = ("111", "222", "1*", "*", "?22", "o-1/*", "o-1/x", "o-2/*", "zz", "z?")
ACTIONS = ("sts:AssumeRole", "sts:TagSession")


@cache
def _glob(pattern: str, text: str) -> bool:
    if not pattern:
        return not text
    if pattern[0] == "*":
        return _glob(pattern[1:], text) or (bool(text) and _glob(pattern, text[1:]))
    return bool(text) and (pattern[0] in ("?", text[0])) and _glob(pattern[1:], text[1:])


def _ref_condition(operator: str, key: str, values: list[str], context: dict[str, Any]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    present = context.get(key)
    if base == "Null":
        return any((v == "true") == (present is None) for v in values)
    negated = "Not" in base
    like = "Like" in base
    if present is None:
        return if_exists or qualifier == "ForAllValues" or (not qualifier and negated)
    def element(value: str) -> bool:
        hit = any(_glob(x, value) if like else x == value for x in values)
        return hit != negated
    items = present if isinstance(present, list) else [present]
    if qualifier == "ForAnyValue":
        return any(element(v) for v in items)
    return all(element(v) for v in items)


def _ref_applies(statement: dict[str, Any], action: str, context: dict[str, Any]) -> bool:
    principal = statement["Principal"]
    if principal != "*" and ARTIFACT.name not in principal["Service"]:
        return False
    patterns = statement.get("Action") or statement.get("NotAction")
    matched = any(_glob(p.lower(), action.lower()) for p in patterns)
    if matched != ("Action" in statement):
        return False
    return all(
        _ref_condition(operator, key, values, context)
        for operator, block in statement.get("Condition", {}).items()
        for key, values in block.items()
    )


def _reference(statements: list[dict[str, Any]], action: str, context: dict[str, Any]) -> Outcome:
    if any(_ref_applies(s, action, context) for s in statements if s["Effect"] == "Deny"):
        return D
    return A if any(_ref_applies(s, action, context) for s in statements if s["Effect"] == "Allow") else I


def _foreign(context: dict[str, Any]) -> bool:
    account = context.get("aws:sourceaccount")
    paths = context.get("aws:sourceorgpaths") or []
    return account != "111" and not any(p.lower().startswith("o-1/") for p in paths)


def _universe() -> list[dict[str, Any]]:
    singles = [None, *VALUES]
    multis: list[Any] = [None, *([v] for v in VALUES), *(list(p) for p in itertools.combinations(VALUES, 2))]
    contexts = []
    for account, paths, other in itertools.product(singles, multis, singles):
        context = {"aws:sourceaccount": account, "aws:sourceorgpaths": paths, "k:other": other}
        contexts.append({k: v for k, v in context.items() if v is not None})
    return contexts


UNIVERSE = _universe()
SINGLE_OPERATORS = ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIfExists",
                    "StringNotLikeIfExists", "Null")
MULTI_OPERATORS = ("ForAnyValue:StringLike", "ForAllValues:StringLike", "ForAnyValue:StringNotLike",
                   "ForAllValues:StringNotLike", "ForAnyValue:StringEquals", "Null")


@st.composite
def conditions(draw: Any) -> dict[str, Any]:
    block: dict[str, dict[str, list[str]]] = {}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(KEYS))
        operator = draw(st.sampled_from(MULTI_OPERATORS if key == "aws:sourceorgpaths" else SINGLE_OPERATORS))
        values = (
            [draw(st.sampled_from(("true", "false")))] if operator == "Null"
            else draw(st.lists(st.sampled_from(LITERALS), min_size=1, max_size=2, unique=True))
        )
        block.setdefault(operator, {})[key] = values
    return block


@st.composite
def statements(draw: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": draw(st.sampled_from(("Allow", "Deny"))),
        "Principal": draw(st.sampled_from(("*", {"Service": [ARTIFACT.name]}, {"Service": ["ec2.amazonaws.com"]}))),
        draw(st.sampled_from(("Action", "NotAction"))): [draw(st.sampled_from(("sts:AssumeRole", "sts:*", "sts:Tag*")))],
    }
    condition = draw(conditions())
    if condition:
        statement["Condition"] = condition
    return statement


policies = st.lists(statements(), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(policies)
def test_decide_agrees_with_the_reference_on_every_context(policy: list[dict[str, Any]]) -> None:
    parsed = parse_policy({"Statement": policy})
    for context in UNIVERSE[::7]:  # a spread of the universe keeps this fast; the search test uses all
        for action in ACTIONS:
            assert decide(parsed, Request.of(ARTIFACT, action, context)).outcome is _reference(
                policy, action, context
            ), (context, action)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(policies)
def test_search_is_sound_and_its_witness_is_real(policy: list[dict[str, Any]]) -> None:
    search = Search(parse_policy({"Statement": policy}), _foreign_domains(ORG))
    witness = search.find(ARTIFACT, ["sts:AssumeRole"])
    brute = [c for c in UNIVERSE if _foreign(c) and _reference(policy, "sts:AssumeRole", c) is A]
    if brute:
        assert witness is not None, brute[0]  # sound: never "pinned" when some outside request gets in
    if witness is not None:
        assert witness.undecided is None
        context = {k: (list(v) if k == "aws:sourceorgpaths" else v[0]) for k, v in witness.context.items() if v}
        assert _foreign(context), witness
        assert _reference(policy, "sts:AssumeRole", context) is A, witness  # no false positive


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------

FACT_ORG = OrganizationContext("o-abc123", "111111111111", frozenset({"111111111111", "222222222222"}))
PIN_DENY = {"Effect": "Deny", "Principal": "*", "Action": "sts:*",
            "Condition": {"StringNotEquals": {"aws:SourceOrgID": "o-abc123"}}}
OPEN = {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "sts:AssumeRole"}


def test_a_negated_source_deny_pins() -> None:
    facts = trust_facts({"Statement": [OPEN, PIN_DENY]}, FACT_ORG)
    assert facts["artifact_trust_pinned"] is True
    assert facts["artifact_statements"][0]["pinning_conditions"] == ["Deny StringNotEquals aws:SourceOrgID"]


def test_tag_session_alone_does_not_open_the_role() -> None:
    pinned = {**OPEN, "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}}
    tag = {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "sts:TagSession"}
    facts = trust_facts({"Statement": [pinned, tag]}, FACT_ORG)
    assert facts["artifact_trust_pinned"] is True
    assert [e["index"] for e in facts["artifact_statements"]] == [0]


EXTRA = st.sampled_from([
    PIN_DENY,
    {"Effect": "Deny", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "*",
     "Condition": {"StringNotEqualsIfExists": {"aws:SourceAccount": "111111111111"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"Null": {"aws:SourceArn": "true"}}},
])
ALLOWS = st.sampled_from([
    OPEN,
    {**OPEN, "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}},
    {**OPEN, "Condition": {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": "o-abc123/*"}}},
    {**OPEN, "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:*:*:999999999999:*"}}},
    {"Effect": "Allow", "Principal": "*", "Action": "sts:*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
])


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(ALLOWS, min_size=1, max_size=3), EXTRA, ALLOWS)
def test_a_deny_never_unpins_and_an_allow_never_pins(base: list[Any], deny: Any, allow: Any) -> None:
    before = trust_facts({"Statement": base}, FACT_ORG)["artifact_trust_pinned"]
    assert trust_facts({"Statement": [*base, deny]}, FACT_ORG)["artifact_trust_pinned"] >= before
    assert trust_facts({"Statement": [*base, allow]}, FACT_ORG)["artifact_trust_pinned"] <= before


def test_html_marks_the_statement_the_witness_names() -> None:
    pinned = {**OPEN, "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}}
    trust = {"Version": "2012-10-17", "Statement": [pinned, {**OPEN, "Sid": "Open"}]}
    case = {"roles": [{"name": "ArtifactReader", "path": "/", "trust": trust}]}
    results = evaluate_rules([BUILTIN["ART-012"]], build_inventory(build_snapshot(case), ("artifact",)))
    (result,) = [r for r in results if r.account_id == MEMBER and r.resource_name == "ArtifactReader"]
    assert result.status.value == "fail"
    assert "allowed by statement 1 (Sid Open)" in result.message
    assert html_report.offending_statements(result) == {1}
