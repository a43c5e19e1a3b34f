"""Trust policy semantics: documents in, facts out, as tables of cases."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import quote

import pytest

from scanner.policy import (
    TRUST_ACTIONS,
    OrganizationContext,
    PolicyDocumentError,
    decode_policy_document,
    trust_names_service_principal,
)
from tests.artifact_facts import ARTIFACT as ARTIFACT_INTEGRATION
from tests.artifact_facts import trust_facts


def trust_names_artifact_principal(document: Any) -> bool:
    return trust_names_service_principal(document, frozenset(p.lower() for p in ARTIFACT_INTEGRATION.service_principals))

ORG_ID = "o-abc123"
MGMT = "111111111111"
MEMBER = "222222222222"
OTHER = "999999999999"
ORG = OrganizationContext(ORG_ID, MGMT, frozenset({MGMT, MEMBER}))
UNKNOWN_ORG = OrganizationContext(None, None, frozenset())

ARTIFACT = "artifact.amazonaws.com"
ACCOUNT_SYNC = "aws-artifact-account-sync.amazonaws.com"
ALL_ACTIONS = sorted(TRUST_ACTIONS)

SLR_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

EMPTY_FACTS = {
    "allowed_principals": [],
    "allowed_actions": [],
    "allows_any_action": False,
    "uses_not_principal": False,
    "uses_not_action": False,
    "has_deny": False,
    "statement_count": 0,
    "artifact_principals": [],
    "trusts_artifact_principal": False,
    "artifact_statements": [],
    "artifact_trust_pinned": True,
    "condition_keys": [],
}


def allow(principal: Any = None, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow"}
    if principal is not None:
        statement["Principal"] = principal
    if action is not None:
        statement["Action"] = action
    statement.update(extra)
    return statement


def deny(principal: Any = "*", action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {**allow(principal, action, **extra), "Effect": "Deny"}


def document(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def facts(*statements: Any, org: OrganizationContext = ORG) -> dict[str, Any]:
    return trust_facts(document(*statements), org)


def artifact_entry(condition: Any = None, org: OrganizationContext = ORG) -> dict[str, Any]:
    """The one artifact_statements entry of an Allow for artifact.amazonaws.com with `condition`."""
    extra = {} if condition is None else {"Condition": condition}
    entries = facts(allow({"Service": ARTIFACT}, **extra), org=org)["artifact_statements"]
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


# --------------------------------------------------------------------------------------------
# The real service-linked role, and the shape of the facts
# --------------------------------------------------------------------------------------------


def test_real_service_linked_role_trust() -> None:
    assert trust_facts(SLR_TRUST, ORG) == {
        "allowed_principals": ["service:artifact.amazonaws.com"],
        "allowed_actions": ["sts:AssumeRole"],
        "allows_any_action": False,
        "uses_not_principal": False,
        "uses_not_action": False,
        "has_deny": False,
        "statement_count": 1,
        "artifact_principals": ["artifact.amazonaws.com"],
        "trusts_artifact_principal": True,
        "artifact_statements": [
            {
                "index": 0,
                "sid": None,
                "principals": ["artifact.amazonaws.com"],
                "pinned": False,
                "pinning_conditions": [],
                "reason": (
                    "a request from artifact.amazonaws.com for sts:AssumeRole on behalf of account 444455556666 "
                    "is allowed by statement 0"
                ),
                "witness": {
                    "statement": 0,
                    "principal": "service:artifact.amazonaws.com",
                    "action": "sts:AssumeRole",
                    "context": {
                        "aws:SourceAccount": ["444455556666"],
                        "aws:SourceArn": ["arn:aws:iam::444455556666:role/unnamed"],
                        "aws:SourceOrgID": ["o-unnamed0000"],
                        "aws:SourceOrgPaths": ["o-unnamed0000/r-unnamed/ou-unnamed/"],
                    },
                },
            }
        ],
        "artifact_trust_pinned": False,
        "condition_keys": [],
    }


def test_moto_service_linked_role_shape_gives_the_same_principals_and_actions() -> None:
    # moto writes the SLR trust with list values; the facts must not depend on that.
    moto = document(allow({"Service": [ARTIFACT]}, ["sts:AssumeRole"]))
    real = trust_facts(SLR_TRUST, ORG)
    assert trust_facts(moto, ORG) == real


def test_facts_are_json_and_deterministic() -> None:
    doc = document(
        allow(
            {"Service": [ACCOUNT_SYNC, ARTIFACT], "AWS": [MEMBER, MGMT]}, ["sts:TagSession", "sts:AssumeRole"]
        ),
        allow(
            "*", "sts:*", Condition={"StringEquals": {"aws:SourceOrgID": ORG_ID, "aws:PrincipalTag/x": "y"}}
        ),
    )
    first = trust_facts(doc, ORG)
    assert set(first) == set(EMPTY_FACTS)
    assert json.loads(json.dumps(first)) == first
    assert trust_facts(json.loads(json.dumps(doc)), ORG) == first
    for key, value in first.items():
        if isinstance(value, list) and key != "artifact_statements":
            assert value == sorted(set(value)), key


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"Version": "2012-10-17"},
        {"Statement": []},
        {"Statement": None},
        {"Statement": "sts:AssumeRole"},
        {"Statement": 5},
    ],
    ids=["empty", "no-statement", "empty-list", "null", "string", "number"],
)
def test_document_without_statements_gives_empty_facts(doc: dict[str, Any]) -> None:
    assert trust_facts(doc, ORG) == EMPTY_FACTS


def test_single_statement_object_reads_like_a_list_of_one() -> None:
    statement = allow({"Service": ARTIFACT}, Condition={"StringEquals": {"aws:SourceAccount": MGMT}})
    assert trust_facts({"Statement": statement}, ORG) == trust_facts({"Statement": [statement]}, ORG)


def test_malformed_statements_are_skipped_but_counted() -> None:
    result = facts("junk", 5, None, ["nested"], allow({"Service": ARTIFACT}))
    assert result["statement_count"] == 5
    assert result["allowed_principals"] == ["service:artifact.amazonaws.com"]
    assert [entry["index"] for entry in result["artifact_statements"]] == [4]


# --------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------

PRINCIPAL_CASES = [
    ("star-string", "*", ["*"]),
    ("aws-star", {"AWS": "*"}, ["*"]),
    ("aws-star-list", {"AWS": ["*"]}, ["*"]),
    ("account-id", {"AWS": "123456789012"}, ["aws:123456789012"]),
    ("root-arn", {"AWS": "arn:aws:iam::123456789012:root"}, ["aws:123456789012"]),
    ("root-arn-govcloud", {"AWS": "arn:aws-us-gov:iam::123456789012:root"}, ["aws:123456789012"]),
    ("root-arn-china", {"AWS": "arn:aws-cn:iam::123456789012:root"}, ["aws:123456789012"]),
    (
        "id-and-root-arn-list",
        {"AWS": ["123456789012", "arn:aws:iam::123456789012:root"]},
        ["aws:123456789012"],
    ),
    (
        "role-arn",
        {"AWS": "arn:aws:iam::123456789012:role/Admin"},
        ["aws:arn:aws:iam::123456789012:role/Admin"],
    ),
    ("user-arn", {"AWS": "arn:aws:iam::123456789012:user/bob"}, ["aws:arn:aws:iam::123456789012:user/bob"]),
    (
        "account-list",
        {"AWS": [OTHER, "arn:aws:iam::123456789012:root"]},
        ["aws:123456789012", f"aws:{OTHER}"],
    ),
    ("service", {"Service": ARTIFACT}, ["service:artifact.amazonaws.com"]),
    ("service-upper-case", {"Service": "Artifact.AmazonAWS.com"}, ["service:artifact.amazonaws.com"]),
    (
        "service-list",
        {"Service": [ARTIFACT, "ec2.amazonaws.com"]},
        ["service:artifact.amazonaws.com", "service:ec2.amazonaws.com"],
    ),
    (
        "federated",
        {"Federated": "cognito-identity.amazonaws.com"},
        ["federated:cognito-identity.amazonaws.com"],
    ),
    (
        "federated-saml",
        {"Federated": "arn:aws:iam::123456789012:saml-provider/Okta"},
        ["federated:arn:aws:iam::123456789012:saml-provider/Okta"],
    ),
    ("canonical-user", {"CanonicalUser": "79a59df900b949e55d96a1e6"}, ["canonical:79a59df900b949e55d96a1e6"]),
    (
        "mixed-types",
        {"AWS": MGMT, "Service": ARTIFACT, "Federated": "accounts.google.com"},
        [f"aws:{MGMT}", "federated:accounts.google.com", "service:artifact.amazonaws.com"],
    ),
    ("star-among-accounts", {"AWS": [MGMT, "*"]}, ["*", f"aws:{MGMT}"]),
    ("empty-list-names-nobody", {"AWS": []}, []),
    ("empty-object-names-nobody", {}, []),
    # Malformed: IAM refuses these; the unreadable part is read as "*", never as nobody.
    ("number", 5, ["*"]),
    ("bare-account-string", "123456789012", ["*"]),
    ("list", ["*"], ["*"]),
    ("aws-number", {"AWS": 123456789012}, ["*"]),
    ("aws-list-with-number", {"AWS": [MGMT, 5]}, ["*", f"aws:{MGMT}"]),
    ("service-object", {"Service": {"Name": ARTIFACT}}, ["*"]),
    ("unknown-type-kept", {"Robot": "r2d2"}, ["robot:r2d2"]),
]


@pytest.mark.parametrize(
    ("principal", "expected"), [c[1:] for c in PRINCIPAL_CASES], ids=[c[0] for c in PRINCIPAL_CASES]
)
def test_allowed_principals(principal: Any, expected: list[str]) -> None:
    result = facts(allow(principal))
    assert result["allowed_principals"] == expected
    assert result["uses_not_principal"] is False


def test_missing_principal_reads_as_everyone() -> None:
    assert facts({"Effect": "Allow", "Action": "sts:AssumeRole"})["allowed_principals"] == ["*"]
    assert facts(allow(Principal=None))["allowed_principals"] == ["*"]


def test_account_id_and_root_arn_are_one_principal() -> None:
    by_id = facts(allow({"AWS": "123456789012"}))
    by_arn = facts(allow({"AWS": "arn:aws:iam::123456789012:root"}))
    assert by_id == by_arn


ALL_ARTIFACT = sorted([ARTIFACT, ACCOUNT_SYNC, "aws-artifact-acount-sync.amazonaws.com"])

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html:
# NotPrincipal matches every principal except the ones listed; an Allow with it trusts those others.
NOT_PRINCIPAL_CASES = [
    ("allow-not-principal-account", allow(NotPrincipal={"AWS": MGMT}), ["*"], ALL_ARTIFACT),
    (
        "allow-not-principal-service",
        allow(NotPrincipal={"Service": ARTIFACT}),
        ["*"],
        [p for p in ALL_ARTIFACT if p != ARTIFACT],  # the one listed is the one not trusted
    ),
    ("allow-not-principal-star", allow(NotPrincipal="*"), [], []),  # everyone but everyone: nobody
    # Both elements in one statement: IAM refuses it, so it is read as widest (it applies to anyone).
    ("allow-both", allow({"AWS": MGMT}, NotPrincipal={"AWS": OTHER}), ["*", f"aws:{MGMT}", f"aws:{OTHER}"],
     ALL_ARTIFACT),
    ("deny-not-principal", deny(None, NotPrincipal={"AWS": MGMT}), [], []),
]


@pytest.mark.parametrize(
    ("statement", "expected", "artifact"),
    [c[1:] for c in NOT_PRINCIPAL_CASES],
    ids=[c[0] for c in NOT_PRINCIPAL_CASES],
)
def test_not_principal(statement: dict[str, Any], expected: list[str], artifact: list[str]) -> None:
    result = facts(statement)
    assert result["allowed_principals"] == expected
    assert result["uses_not_principal"] is True
    # An Allow with NotPrincipal trusts Artifact as part of "everyone but...": it can assume the role.
    assert result["artifact_principals"] == artifact


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------

ASSUME = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]

ACTION_CASES: list[tuple[str, dict[str, Any], list[str], bool]] = [
    ("assume-role", {"Action": "sts:AssumeRole"}, ["sts:AssumeRole"], False),
    ("upper-service", {"Action": "STS:assumerole"}, ["sts:AssumeRole"], False),
    ("upper-action", {"Action": "sts:ASSUMEROLE"}, ["sts:AssumeRole"], False),
    ("list", {"Action": ["sts:TagSession", "sts:AssumeRole"]}, ["sts:AssumeRole", "sts:TagSession"], False),
    ("list-duplicates", {"Action": ["sts:AssumeRole", "STS:AssumeRole"]}, ["sts:AssumeRole"], False),
    ("saml", {"Action": "sts:AssumeRoleWithSAML"}, ["sts:AssumeRoleWithSAML"], False),
    ("web-identity", {"Action": "sts:AssumeRoleWithWebIdentity"}, ["sts:AssumeRoleWithWebIdentity"], False),
    ("sts-star", {"Action": "sts:*"}, ALL_ACTIONS, True),
    ("star", {"Action": "*"}, ALL_ACTIONS, True),
    ("star-in-list", {"Action": ["sts:AssumeRole", "*"]}, ALL_ACTIONS, True),
    ("assume-star", {"Action": "sts:Assume*"}, ASSUME, True),
    ("assume-star-lower", {"Action": "sts:assume*"}, ASSUME, True),
    ("assume-role-star", {"Action": "sts:AssumeRole*"}, ASSUME, True),
    ("question-mark", {"Action": "sts:AssumeRol?"}, ["sts:AssumeRole"], True),
    ("set-star", {"Action": "sts:Set*"}, ["sts:SetContext", "sts:SetSourceIdentity"], True),
    ("star-session", {"Action": "*Session"}, ["sts:TagSession"], True),
    ("other-service", {"Action": "s3:GetObject"}, [], False),
    ("other-service-star", {"Action": "s3:*"}, [], True),
    ("unknown-sts-action", {"Action": "sts:AssumeRoot"}, [], False),
    (
        "not-action-one",
        {"NotAction": "sts:AssumeRole"},
        [a for a in ALL_ACTIONS if a != "sts:AssumeRole"],
        True,
    ),
    (
        "not-action-pattern",
        {"NotAction": ["sts:Assume*"]},
        ["sts:SetContext", "sts:SetSourceIdentity", "sts:TagSession"],
        True,
    ),
    ("not-action-other-service", {"NotAction": "s3:*"}, ALL_ACTIONS, True),
    ("not-action-star", {"NotAction": "*"}, [], True),
    (
        "not-action-case",
        {"NotAction": "STS:TAGSESSION"},
        [a for a in ALL_ACTIONS if a != "sts:TagSession"],
        True,
    ),
    # Malformed: unreadable actions are read as "*".
    ("action-number", {"Action": 5}, ALL_ACTIONS, True),
    ("action-null", {"Action": None}, ALL_ACTIONS, True),
    ("action-list-with-number", {"Action": ["sts:AssumeRole", 5]}, ALL_ACTIONS, True),
    ("not-action-number", {"NotAction": 5}, ALL_ACTIONS, True),
]


@pytest.mark.parametrize(
    ("action", "expected", "any_action"), [c[1:] for c in ACTION_CASES], ids=[c[0] for c in ACTION_CASES]
)
def test_allowed_actions(action: dict[str, Any], expected: list[str], any_action: bool) -> None:
    result = facts(allow({"AWS": MGMT}, None, **action))
    assert result["allowed_actions"] == expected
    assert result["allows_any_action"] is any_action
    assert result["uses_not_action"] is ("NotAction" in action)
    # The principal counts when it can be allowed some trust action: s3:GetObject opens no role.
    assert result["allowed_principals"] == ([f"aws:{MGMT}"] if expected else [])


def test_missing_action_reads_as_star() -> None:
    result = facts({"Effect": "Allow", "Principal": {"AWS": MGMT}})
    assert result["allowed_actions"] == ALL_ACTIONS
    assert result["allows_any_action"] is True


def test_empty_action_list_grants_nothing() -> None:
    result = facts(allow({"Service": ARTIFACT}, []))
    assert result["allowed_principals"] == []
    assert result["allowed_actions"] == []
    assert result["trusts_artifact_principal"] is False


def test_actions_accumulate_over_statements() -> None:
    result = facts(allow({"AWS": MGMT}, "sts:AssumeRole"), allow({"AWS": MEMBER}, "sts:TagSession"))
    assert result["allowed_actions"] == ["sts:AssumeRole", "sts:TagSession"]
    assert result["allowed_principals"] == [f"aws:{MGMT}", f"aws:{MEMBER}"]


# --------------------------------------------------------------------------------------------
# Deny and Effect
# --------------------------------------------------------------------------------------------

DENY_CASES = [
    ("deny-star", deny("*", "sts:*")),
    ("deny-service", deny({"Service": ARTIFACT})),
    ("deny-account", deny({"AWS": MGMT})),
    ("deny-not-action", deny({"AWS": MGMT}, None, NotAction="sts:TagSession")),
    (
        "deny-with-condition",
        deny({"Service": ARTIFACT}, Condition={"StringEquals": {"aws:SourceAccount": OTHER}}),
    ),
]


@pytest.mark.parametrize("statement", [c[1] for c in DENY_CASES], ids=[c[0] for c in DENY_CASES])
def test_deny_grants_nothing(statement: dict[str, Any]) -> None:
    result = facts(statement)
    assert result["has_deny"] is True
    assert result["statement_count"] == 1
    assert result["uses_not_action"] is ("NotAction" in statement)
    for key in ("allowed_principals", "allowed_actions", "artifact_principals", "artifact_statements"):
        assert result[key] == [], key
    assert result["allows_any_action"] is False
    assert result["condition_keys"] == []  # only Allow statements' conditions are listed
    assert result["artifact_trust_pinned"] is True


def test_deny_is_not_subtracted_from_allows() -> None:
    result = facts(allow("*", "sts:*"), deny({"AWS": OTHER}, "sts:*"))
    assert result["allowed_principals"] == ["*"]
    assert result["allowed_actions"] == ALL_ACTIONS
    assert result["has_deny"] is True


@pytest.mark.parametrize("effect", ["allow", "ALLOW", "deny", "Permit", "", None, 1], ids=repr)
def test_effect_is_case_sensitive_and_anything_else_is_ignored(effect: Any) -> None:
    statement = {"Effect": effect, "Principal": "*", "Action": "*", "NotPrincipal": {"AWS": MGMT}}
    assert facts(statement) == {**EMPTY_FACTS, "statement_count": 1}


def test_statement_without_effect_is_ignored() -> None:
    assert facts({"Principal": "*", "Action": "*"}) == {**EMPTY_FACTS, "statement_count": 1}


# --------------------------------------------------------------------------------------------
# Artifact principals and statements
# --------------------------------------------------------------------------------------------

ARTIFACT_PRINCIPAL_CASES = [
    ("slr-principal", {"Service": ARTIFACT}, [ARTIFACT]),
    ("account-sync", {"Service": ACCOUNT_SYNC}, [ACCOUNT_SYNC]),
    (
        "misspelt-legacy",
        {"Service": "aws-artifact-acount-sync.amazonaws.com"},
        ["aws-artifact-acount-sync.amazonaws.com"],
    ),
    ("upper-case", {"Service": "ARTIFACT.amazonaws.com"}, [ARTIFACT]),
    ("both", {"Service": [ARTIFACT, ACCOUNT_SYNC]}, [ARTIFACT, ACCOUNT_SYNC]),
    ("with-others", {"Service": ["ec2.amazonaws.com", ARTIFACT], "AWS": MGMT}, [ARTIFACT]),
    ("other-service", {"Service": "ec2.amazonaws.com"}, []),
    ("star", "*", ALL_ARTIFACT),  # "*" lets every Artifact principal assume the role
    ("as-aws-principal", {"AWS": ARTIFACT}, []),
    ("legacy-role-name", {"Service": "AWSArtifactAccountSync"}, []),
]


@pytest.mark.parametrize(
    ("principal", "expected"),
    [c[1:] for c in ARTIFACT_PRINCIPAL_CASES],
    ids=[c[0] for c in ARTIFACT_PRINCIPAL_CASES],
)
def test_artifact_principals(principal: Any, expected: list[str]) -> None:
    result = facts(allow(principal))
    assert result["artifact_principals"] == sorted(expected)
    assert result["trusts_artifact_principal"] is bool(expected)
    entries = result["artifact_statements"]
    assert [entry["principals"] for entry in entries] == ([sorted(expected)] if expected else [])
    assert result["artifact_trust_pinned"] is not bool(expected)


def test_artifact_statements_in_document_order_with_sids() -> None:
    pinned = {"StringEquals": {"aws:SourceAccount": MGMT}}
    result = facts(
        allow({"Service": ACCOUNT_SYNC}, Sid="Pinned", Condition=pinned),
        allow({"AWS": MGMT}, Sid="Admins"),
        allow({"Service": ARTIFACT}, Sid="Open"),
        allow({"Service": [ARTIFACT, ACCOUNT_SYNC]}, "sts:TagSession", Sid="TagOnly"),
    )
    assert result["artifact_statements"] == [
        {
            "index": 0,
            "sid": "Pinned",
            "principals": [ACCOUNT_SYNC],
            "pinned": True,
            "pinning_conditions": ["StringEquals aws:SourceAccount"],
            "reason": None,
            "witness": None,
        },
        {
            "index": 2,
            "sid": "Open",
            "principals": [ARTIFACT],
            "pinned": False,
            "pinning_conditions": [],
            "reason": (
                f"a request from {ARTIFACT} for sts:AssumeRole on behalf of account 444455556666 is allowed by "
                "statement 2 (Sid Open)"
            ),
            "witness": {
                "statement": 2,
                "principal": f"service:{ARTIFACT}",
                "action": "sts:AssumeRole",
                "context": {
                    ACCOUNT: ["444455556666"],
                    ARN: ["arn:aws:iam::444455556666:role/unnamed"],
                    ORGID: ["o-unnamed0000"],
                    PATHS: ["o-unnamed0000/r-unnamed/ou-unnamed/"],
                },
            },
        },
    ]  # statement 3 grants only sts:TagSession, which cannot assume the role: it opens nothing
    assert result["artifact_principals"] == [ARTIFACT, ACCOUNT_SYNC]
    assert result["artifact_trust_pinned"] is False


def test_a_deny_without_condition_removes_the_principal() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
    result = facts(allow({"Service": [ARTIFACT, ACCOUNT_SYNC]}), deny({"Service": ARTIFACT}, Sid="NoArtifact"))
    assert result["artifact_principals"] == [ACCOUNT_SYNC]
    assert [entry["principals"] for entry in result["artifact_statements"]] == [[ACCOUNT_SYNC]]
    assert result["allowed_principals"] == [f"service:{ACCOUNT_SYNC}"]


def test_every_artifact_statement_pinned_means_trust_pinned() -> None:
    result = facts(
        allow({"Service": ARTIFACT}, Condition={"StringEquals": {"aws:SourceOrgID": ORG_ID}}),
        allow(
            {"Service": ACCOUNT_SYNC},
            Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:artifact:*:{MGMT}:*"}},
        ),
    )
    assert [entry["pinned"] for entry in result["artifact_statements"]] == [True, True]
    assert result["artifact_trust_pinned"] is True


def test_non_string_sid_is_null() -> None:
    assert facts(allow({"Service": ARTIFACT}, Sid=5))["artifact_statements"][0]["sid"] is None


# --------------------------------------------------------------------------------------------
# Pinning: a pinned case lists its pinning conditions; an unpinned one a part of its reason.
# --------------------------------------------------------------------------------------------

ACCOUNT = "aws:SourceAccount"
ARN = "aws:SourceArn"
ORGID = "aws:SourceOrgID"
PATHS = "aws:SourceOrgPaths"

ONE_PAIR_CASES: list[tuple[str, str, str, Any, list[str] | str]] = [
    # Keys that do not tie the source to an organization
    ("principal-org-id-only", "StringEquals", "aws:PrincipalOrgID", ORG_ID, "no aws:SourceAccount"),
    ("source-owner-not-counted", "StringEquals", "aws:SourceOwner", MGMT, "no aws:SourceAccount"),
    # aws:SourceAccount
    ("account-management", "StringEquals", ACCOUNT, MGMT, ["StringEquals aws:SourceAccount"]),
    ("account-member", "StringEquals", ACCOUNT, MEMBER, ["StringEquals aws:SourceAccount"]),
    ("account-list-in-org", "StringEquals", ACCOUNT, [MGMT, MEMBER], ["StringEquals aws:SourceAccount"]),
    (
        "account-other",
        "StringEquals",
        ACCOUNT,
        OTHER,
        f"aws:SourceAccount is {OTHER}, not an account of this organization",
    ),
    ("account-list-with-other", "StringEquals", ACCOUNT, [MGMT, OTHER], f"aws:SourceAccount is {OTHER}"),
    ("account-empty-list", "StringEquals", ACCOUNT, [], "StringEquals aws:SourceAccount lists no values"),
    # IAM reads a JSON number in a condition as its decimal text (as it reads `true` in Bool).
    ("account-number", "StringEquals", ACCOUNT, 111111111111, ["StringEquals aws:SourceAccount"]),
    ("account-star-literal", "StringEquals", ACCOUNT, "*", "aws:SourceAccount is *, not an account"),
    ("account-like-star", "StringLike", ACCOUNT, "*", "StringLike aws:SourceAccount '*' matches any account"),
    (
        "account-like-prefix",
        "StringLike",
        ACCOUNT,
        "1111111111*",
        "is a pattern that can match other accounts",
    ),
    ("account-like-question", "StringLike", ACCOUNT, "11111111111?", "is a pattern"),
    ("account-like-literal", "StringLike", ACCOUNT, MGMT, ["StringLike aws:SourceAccount"]),
    (
        "account-ignore-case",
        "StringEqualsIgnoreCase",
        ACCOUNT,
        MGMT,
        ["StringEqualsIgnoreCase aws:SourceAccount"],
    ),
    (
        "account-if-exists",
        "StringEqualsIfExists",
        ACCOUNT,
        MGMT,
        "StringEqualsIfExists aws:SourceAccount passes when the key is absent",
    ),
    (
        "account-for-any-value",
        "ForAnyValue:StringEquals",
        ACCOUNT,
        MGMT,
        ["ForAnyValue:StringEquals aws:SourceAccount"],
    ),
    (
        "account-for-all-values",
        "ForAllValues:StringEquals",
        ACCOUNT,
        MGMT,
        "ForAllValues:StringEquals aws:SourceAccount passes when the key is absent",
    ),
    (
        "account-for-any-if-exists",
        "ForAnyValue:StringEqualsIfExists",
        ACCOUNT,
        MGMT,
        "passes when the key is absent",
    ),
    ("account-not-equals", "StringNotEquals", ACCOUNT, OTHER, "StringNotEquals aws:SourceAccount is negated"),
    ("account-not-equals-in-org", "StringNotEquals", ACCOUNT, MGMT, "is negated"),
    ("account-not-like", "StringNotLike", ACCOUNT, "*", "is negated"),
    (
        "account-null",
        "Null",
        ACCOUNT,
        "false",
        "Null aws:SourceAccount only tests whether the key is present",
    ),
    ("account-bool", "Bool", ACCOUNT, "true", "Bool does not compare aws:SourceAccount"),
    ("account-numeric", "NumericEquals", ACCOUNT, MGMT, "NumericEquals does not compare"),
    ("account-unknown-operator", "StringEqualz", ACCOUNT, MGMT, "StringEqualz does not compare"),
    # Letter case of operators and keys
    ("operator-lower", "stringequals", ACCOUNT, MGMT, ["StringEquals aws:SourceAccount"]),
    (
        "operator-upper-key-upper",
        "STRINGEQUALS",
        "AWS:SOURCEACCOUNT",
        MGMT,
        ["StringEquals aws:SourceAccount"],
    ),
    ("key-lower", "StringEquals", "aws:sourceaccount", MGMT, ["StringEquals aws:SourceAccount"]),
    (
        "qualifier-lower",
        "foranyvalue:stringequals",
        ACCOUNT,
        MGMT,
        ["ForAnyValue:StringEquals aws:SourceAccount"],
    ),
    (
        "if-exists-lower",
        "stringequalsifexists",
        ACCOUNT,
        MGMT,
        "StringEqualsIfExists aws:SourceAccount passes",
    ),
    (
        "for-all-lower",
        "forallvalues:stringequals",
        ACCOUNT,
        MGMT,
        "ForAllValues:StringEquals aws:SourceAccount passes",
    ),
    ("negated-lower", "stringnotequals", ACCOUNT, MGMT, "StringNotEquals aws:SourceAccount is negated"),
    # aws:SourceArn
    (
        "arn-equals-full",
        "ArnEquals",
        ARN,
        f"arn:aws:artifact:us-west-2:{MGMT}:agreement/a-1",
        ["ArnEquals aws:SourceArn"],
    ),
    ("arn-like-regions", "ArnLike", ARN, f"arn:aws:artifact:*:{MGMT}:*", ["ArnLike aws:SourceArn"]),
    ("arn-like-member", "ArnLike", ARN, f"arn:aws:artifact:*:{MEMBER}:*", ["ArnLike aws:SourceArn"]),
    (
        "arn-like-govcloud",
        "ArnLike",
        ARN,
        f"arn:aws-us-gov:artifact:us-gov-west-1:{MGMT}:*",
        ["ArnLike aws:SourceArn"],
    ),
    ("arn-like-any-service", "ArnLike", ARN, f"arn:*:*:*:{MGMT}:*", ["ArnLike aws:SourceArn"]),
    (
        "arn-string-equals",
        "StringEquals",
        ARN,
        f"arn:aws:artifact:us-east-1:{MGMT}:x",
        ["StringEquals aws:SourceArn"],
    ),
    (
        "arn-string-like-tail",
        "StringLike",
        ARN,
        f"arn:aws:artifact:us-east-1:{MGMT}:*",
        ["StringLike aws:SourceArn"],
    ),
    (
        "arn-other-account",
        "ArnLike",
        ARN,
        f"arn:aws:artifact:*:{OTHER}:*",
        f"names account {OTHER}, not an account of this organization",
    ),
    (
        "arn-account-star",
        "ArnLike",
        ARN,
        "arn:aws:artifact:*:*:*",
        "ArnLike aws:SourceArn 'arn:aws:artifact:*:*:*' matches any account",
    ),
    ("arn-equals-account-star", "ArnEquals", ARN, "arn:aws:artifact:*:*:*", "matches any account"),
    ("arn-account-pattern", "ArnLike", ARN, "arn:aws:artifact:*:1111111111??:*", "matches any account"),
    ("arn-like-star", "ArnLike", ARN, "*", "ArnLike aws:SourceArn '*' matches any account"),
    ("arn-string-like-star", "StringLike", ARN, "*", "StringLike aws:SourceArn '*' matches any account"),
    ("arn-like-short-pattern", "ArnLike", ARN, "arn:aws:*", "matches any account"),
    (
        "arn-string-like-spanning",
        "StringLike",
        ARN,
        f"arn:aws:artifact:*:{MGMT}:*",
        "wildcard before the account field",
    ),
    ("arn-no-account-field", "ArnLike", ARN, "arn:aws:s3:::my-bucket", "has no account field"),
    (
        "arn-five-fields",
        "ArnEquals",
        ARN,
        f"arn:aws:artifact:us-west-2:{MGMT}",
        "is not an ARN with an account field",
    ),
    ("arn-not-an-arn", "StringEquals", ARN, MGMT, "is not an ARN"),
    (
        "arn-list-with-other",
        "ArnLike",
        ARN,
        [f"arn:aws:artifact:*:{MGMT}:*", f"arn:aws:artifact:*:{OTHER}:*"],
        f"names account {OTHER}",
    ),
    (
        "arn-if-exists",
        "ArnLikeIfExists",
        ARN,
        f"arn:aws:artifact:*:{MGMT}:*",
        "ArnLikeIfExists aws:SourceArn passes when the key is absent",
    ),
    (
        "arn-not-like",
        "ArnNotLike",
        ARN,
        f"arn:aws:artifact:*:{OTHER}:*",
        "ArnNotLike aws:SourceArn is negated",
    ),
    ("arn-key-case", "arnlike", "AWS:SourceARN", f"arn:aws:artifact:*:{MGMT}:*", ["ArnLike aws:SourceArn"]),
    # aws:SourceOrgID
    ("org-id", "StringEquals", ORGID, ORG_ID, ["StringEquals aws:SourceOrgID"]),
    (
        "org-id-other",
        "StringEquals",
        ORGID,
        "o-zzz999",
        f"aws:SourceOrgID is o-zzz999, not this organization ({ORG_ID})",
    ),
    # Organization ids are lower case (o-[a-z0-9]{10,32}): no request, foreign or not, carries this value.
    ("org-id-upper-literal", "StringEquals", ORGID, ORG_ID.upper(), ["StringEquals aws:SourceOrgID"]),
    (
        "org-id-ignore-case",
        "StringEqualsIgnoreCase",
        ORGID,
        ORG_ID.upper(),
        ["StringEqualsIgnoreCase aws:SourceOrgID"],
    ),
    ("org-id-like-literal", "StringLike", ORGID, ORG_ID, ["StringLike aws:SourceOrgID"]),
    ("org-id-like-pattern", "StringLike", ORGID, "o-*", "is a pattern, not this organization's id"),
    ("org-id-like-star", "StringLike", ORGID, "*", "StringLike aws:SourceOrgID '*' matches any organization"),
    ("org-id-if-exists", "StringEqualsIfExists", ORGID, ORG_ID, "passes when the key is absent"),
    ("org-id-for-all-values", "ForAllValues:StringEquals", ORGID, ORG_ID, "passes when the key is absent"),
    ("org-id-negated", "StringNotEquals", ORGID, "o-zzz999", "is negated"),
    ("org-id-key-case", "StringEquals", "aws:sourceorgid", ORG_ID, ["StringEquals aws:SourceOrgID"]),
    # aws:SourceOrgPaths
    (
        "paths-root",
        "ForAnyValue:StringLike",
        PATHS,
        f"{ORG_ID}/r-ab12/*",
        ["ForAnyValue:StringLike aws:SourceOrgPaths"],
    ),
    (
        "paths-org",
        "ForAnyValue:StringLike",
        PATHS,
        f"{ORG_ID}/*",
        ["ForAnyValue:StringLike aws:SourceOrgPaths"],
    ),
    (
        "paths-ou-literal",
        "ForAnyValue:StringEquals",
        PATHS,
        f"{ORG_ID}/r-ab12/ou-ab12-11111111/",
        ["ForAnyValue:StringEquals aws:SourceOrgPaths"],
    ),
    ("paths-plain-string-like", "StringLike", PATHS, f"{ORG_ID}/r-ab12/*", ["StringLike aws:SourceOrgPaths"]),
    (
        "paths-org-prefix-only",
        "ForAnyValue:StringLike",
        PATHS,
        f"{ORG_ID}*",
        f"does not start with this organization's path {ORG_ID}/",
    ),
    ("paths-o-star", "ForAnyValue:StringLike", PATHS, "o-*", "does not start with this organization's path"),
    ("paths-question", "ForAnyValue:StringLike", PATHS, "o-abc12?/*", "does not start with"),
    (
        "paths-star",
        "ForAnyValue:StringLike",
        PATHS,
        "*",
        "ForAnyValue:StringLike aws:SourceOrgPaths '*' matches any organization path",
    ),
    ("paths-other-org", "ForAnyValue:StringLike", PATHS, "o-zzz999/r-ab12/*", "does not start with"),
    ("paths-list-with-other", "ForAnyValue:StringLike", PATHS, [f"{ORG_ID}/*", "o-zzz999/*"], "o-zzz999/*"),
    (
        "paths-for-all-values",
        "ForAllValues:StringLike",
        PATHS,
        f"{ORG_ID}/*",
        "passes when the key is absent",
    ),
    (
        "paths-ignore-case",
        "ForAnyValue:StringEqualsIgnoreCase",
        PATHS,
        f"{ORG_ID.upper()}/R-AB12/",
        ["ForAnyValue:StringEqualsIgnoreCase aws:SourceOrgPaths"],
    ),
]

CONDITION_CASES: list[tuple[str, Any, list[str] | str]] = [
    # No usable condition at all
    ("no-condition", None, "no Condition block"),
    (
        "empty-condition",
        {},
        "no aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition",
    ),
    ("condition-not-object", "StringEquals", "the Condition block is not a JSON object"),
    ("condition-list", [{"StringEquals": {ACCOUNT: MGMT}}], "not a JSON object"),
    ("operator-block-not-object", {"StringEquals": MGMT}, "no aws:SourceAccount"),
    # Several conditions in one statement are ANDed: one pinning pair is enough.
    (
        "if-exists-and-pinning",
        {"StringEqualsIfExists": {ACCOUNT: MGMT}, "StringEquals": {ORGID: ORG_ID}},
        ["StringEquals aws:SourceOrgID"],
    ),
    (
        "two-pins",
        {"StringEquals": {ACCOUNT: MGMT}, "ArnLike": {ARN: f"arn:aws:artifact:*:{MGMT}:*"}},
        ["ArnLike aws:SourceArn", "StringEquals aws:SourceAccount"],
    ),
    (
        "two-keys-one-operator",
        {"StringEquals": {ACCOUNT: OTHER, ORGID: ORG_ID}},
        ["StringEquals aws:SourceOrgID"],
    ),
    (
        "pin-and-unrelated-key",
        {"StringEquals": {ACCOUNT: MGMT}, "Bool": {"aws:SecureTransport": "true"}},
        ["StringEquals aws:SourceAccount"],
    ),
    (
        "two-failures-both-explained",
        {"StringLike": {ARN: "*"}, "StringEqualsIfExists": {ACCOUNT: MGMT}},
        (
            "StringLike aws:SourceArn '*' matches any account; "
            "StringEqualsIfExists aws:SourceAccount passes when the key is absent"
        ),
    ),
]


def _check_foreign(context: dict[str, Any], org: OrganizationContext) -> None:
    """Every source key the witness sends names something outside the organization."""
    accounts = org.account_ids | ({org.management_account_id} if org.management_account_id else set())
    for value in context.get(ACCOUNT) or []:
        assert value not in accounts
    for value in context.get(ARN) or []:
        fields = value.split(":", 5)
        assert len(fields) < 6 or fields[4] not in accounts
    for value in context.get(ORGID) or []:
        assert org.organization_id is None or value.lower() != org.organization_id.lower()
    for value in context.get(PATHS) or []:
        assert org.organization_id is None or not value.lower().startswith(org.organization_id.lower() + "/")


def _check_pinning(entry: dict[str, Any], expected: list[str] | str, org: OrganizationContext = ORG) -> None:
    """A pinned case lists the source-key conditions that pin it; an unpinned one names the request that
    gets through (its witness: a request from outside this organization that the statement allows)."""
    if isinstance(expected, list):
        assert entry["pinned"] is True, entry["reason"]
        assert entry["pinning_conditions"] == expected
        assert entry["reason"] is None and entry["witness"] is None
    else:
        assert entry["pinned"] is False
        assert entry["pinning_conditions"] == []
        assert entry["reason"].startswith(f"a request from {ARTIFACT} for sts:AssumeRole")
        assert entry["reason"].endswith(f"is allowed by statement {entry['index']}")
        witness = entry["witness"]
        assert witness["statement"] == entry["index"] and witness["principal"] == f"service:{ARTIFACT}"
        _check_foreign(witness["context"], org)


@pytest.mark.parametrize(
    ("operator", "key", "value", "expected"),
    [c[1:] for c in ONE_PAIR_CASES],
    ids=[c[0] for c in ONE_PAIR_CASES],
)
def test_pinning_one_condition(operator: str, key: str, value: Any, expected: list[str] | str) -> None:
    _check_pinning(artifact_entry({operator: {key: value}}), expected)


@pytest.mark.parametrize(
    ("condition", "expected"), [c[1:] for c in CONDITION_CASES], ids=[c[0] for c in CONDITION_CASES]
)
def test_pinning_condition_blocks(condition: Any, expected: list[str] | str) -> None:
    _check_pinning(artifact_entry(condition), expected)


UNKNOWN_ORG_CASES: list[tuple[str, OrganizationContext, Any, list[str] | str]] = [
    (
        "unknown-accounts",
        UNKNOWN_ORG,
        {"StringEquals": {ACCOUNT: MGMT}},
        "the organization's accounts are unknown",
    ),
    (
        "unknown-accounts-arn",
        UNKNOWN_ORG,
        {"ArnLike": {ARN: f"arn:aws:artifact:*:{MGMT}:*"}},
        "accounts are unknown",
    ),
    ("unknown-org-id", UNKNOWN_ORG, {"StringEquals": {ORGID: ORG_ID}}, "the organization id is unknown"),
    (
        "unknown-org-paths",
        UNKNOWN_ORG,
        {"ForAnyValue:StringLike": {PATHS: f"{ORG_ID}/*"}},
        "organization id is unknown",
    ),
    ("unknown-org-star", UNKNOWN_ORG, {"StringLike": {ACCOUNT: "*"}}, "matches any account"),
    (
        "management-only-known",
        OrganizationContext(ORG_ID, MGMT, frozenset()),
        {"StringEquals": {ACCOUNT: MGMT}},
        ["StringEquals aws:SourceAccount"],
    ),
    (
        "management-only-member-unknown",
        OrganizationContext(ORG_ID, MGMT, frozenset()),
        {"StringEquals": {ACCOUNT: MEMBER}},
        "not an account of this organization",
    ),
    (
        "accounts-without-management",
        OrganizationContext(None, None, frozenset({MEMBER})),
        {"StringEquals": {ACCOUNT: MEMBER}},
        ["StringEquals aws:SourceAccount"],
    ),
    (
        "accounts-known-org-id-unknown",
        OrganizationContext(None, MGMT, frozenset({MGMT})),
        {"StringEquals": {ORGID: ORG_ID}, "ArnLike": {ARN: f"arn:aws:artifact:*:{MGMT}:*"}},
        ["ArnLike aws:SourceArn"],
    ),
]


@pytest.mark.parametrize(
    ("org", "condition", "expected"),
    [c[1:] for c in UNKNOWN_ORG_CASES],
    ids=[c[0] for c in UNKNOWN_ORG_CASES],
)
def test_pinning_with_partial_organization_knowledge(
    org: OrganizationContext, condition: Any, expected: list[str] | str
) -> None:
    _check_pinning(artifact_entry(condition, org), expected, org)


def test_condition_keys_are_lower_cased_unique_and_from_allows_only() -> None:
    result = facts(
        allow({"AWS": MGMT}, Condition={"StringEquals": {"aws:SourceAccount": MGMT, "sts:ExternalId": "x"}}),
        allow({"AWS": MEMBER}, Condition={"stringlike": {"AWS:SOURCEACCOUNT": "*"}, "Bool": "junk"}),
        deny({"AWS": OTHER}, Condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}),
        allow({"AWS": MGMT}, Condition="junk"),
    )
    assert result["condition_keys"] == ["aws:sourceaccount", "sts:externalid"]


def test_condition_ignored_when_unreadable_so_the_allow_still_counts() -> None:
    result = facts(allow({"AWS": MGMT}, Condition=["junk"]))
    assert result["allowed_principals"] == [f"aws:{MGMT}"]
    assert result["condition_keys"] == []


# --------------------------------------------------------------------------------------------
# Invariants: order and Sid do not matter; Deny never widens, Allow never narrows.
# --------------------------------------------------------------------------------------------

POOL = [
    allow({"Service": ARTIFACT}),
    allow({"Service": ACCOUNT_SYNC}, Condition={"StringEquals": {ACCOUNT: MGMT}}),
    allow({"Service": [ARTIFACT, "ec2.amazonaws.com"]}, "sts:*", Condition={"StringLike": {ARN: "*"}}),
    allow({"AWS": [MGMT, f"arn:aws:iam::{MEMBER}:root"]}, ["sts:AssumeRole", "sts:TagSession"]),
    allow({"AWS": f"arn:aws:iam::{OTHER}:role/Deployer"}, "sts:Assume*"),
    allow("*", "sts:AssumeRoleWithWebIdentity", Condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}),
    allow({"Federated": "accounts.google.com"}, "sts:AssumeRoleWithWebIdentity"),
    allow({"CanonicalUser": "abc"}, None, NotAction="sts:Set*"),
    allow(None, NotPrincipal={"AWS": OTHER}),
    allow({"Service": ARTIFACT}, [], Sid="GrantsNothing"),
    deny("*", "sts:*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": ORG_ID}}),
    deny({"Service": ARTIFACT}, NotAction="sts:TagSession"),
    {"Effect": "allow", "Principal": "*", "Action": "*"},
]
GRANTED = ("allowed_principals", "allowed_actions", "artifact_principals", "condition_keys")


def _order_free(result: dict[str, Any]) -> dict[str, Any]:
    entries = sorted(
        # Positions, Sids and the witness (which names a statement by position) depend on the order.
        json.dumps({k: v for k, v in entry.items() if k not in ("index", "sid", "reason", "witness")},
                   sort_keys=True)
        for entry in result["artifact_statements"]
    )
    return {**result, "artifact_statements": entries}


@pytest.mark.parametrize("seed", range(6))
def test_statement_order_does_not_change_facts(seed: int) -> None:
    statements = POOL[seed:] + POOL[:seed]
    reference = _order_free(facts(*POOL))
    assert _order_free(facts(*statements)) == reference
    assert _order_free(facts(*reversed(statements))) == reference


def test_sid_does_not_change_facts() -> None:
    with_sids = [{**statement, "Sid": f"S{i}"} for i, statement in enumerate(POOL)]
    without = [{k: v for k, v in statement.items() if k != "Sid"} for statement in POOL]
    assert _order_free(facts(*with_sids)) == _order_free(facts(*without))


def test_adding_a_deny_never_widens_and_adding_an_allow_never_narrows() -> None:
    extra_denies = [s for s in POOL if s.get("Effect") == "Deny"] + [deny({"AWS": MGMT}, "*")]
    extra_allows = [s for s in POOL if s.get("Effect") == "Allow"]
    for base in itertools.chain.from_iterable(itertools.combinations(POOL, n) for n in range(3)):
        before = facts(*base)
        for extra in extra_denies:
            after = facts(*base, extra)
            for key in GRANTED:  # a Deny is credited: it can only take away
                # A principal the Deny names is listed by name where "*" stood for it before.
                widest = set(before[key]) | ({after_key for after_key in after[key]} if "*" in before[key] else set())
                assert set(after[key]) <= widest, (base, extra, key)
            assert after["condition_keys"] == before["condition_keys"]
            assert after["allows_any_action"] == before["allows_any_action"]
            assert after["artifact_trust_pinned"] >= before["artifact_trust_pinned"], (base, extra)
        for extra in extra_allows:
            after = facts(*base, extra)
            for key in GRANTED:
                assert set(before[key]) <= set(after[key]), (base, extra, key)
            assert after["allows_any_action"] >= before["allows_any_action"]
            assert after["artifact_trust_pinned"] <= before["artifact_trust_pinned"], (base, extra)


# --------------------------------------------------------------------------------------------
# trust_names_artifact_principal
# --------------------------------------------------------------------------------------------

NAMES_CASES: list[tuple[str, Any, bool]] = [
    ("slr-trust", SLR_TRUST, True),
    ("allow-account-sync", document(allow({"Service": ACCOUNT_SYNC})), True),
    ("service-list", document(allow({"Service": ["ec2.amazonaws.com", ARTIFACT]})), True),
    ("upper-case", document(allow({"Service": " ARTIFACT.AMAZONAWS.COM "})), True),
    ("misspelt-legacy", document(allow({"Service": "aws-artifact-acount-sync.amazonaws.com"})), True),
    ("deny", document(deny({"Service": ARTIFACT})), True),
    ("not-principal", document(allow(None, NotPrincipal={"Service": ARTIFACT})), True),
    ("single-statement-object", {"Statement": allow({"Service": ARTIFACT})}, True),
    ("lower-case-effect", document({"Effect": "allow", "Principal": {"Service": ARTIFACT}}), True),
    ("list-with-junk", document(allow({"Service": [None, 5, ARTIFACT]})), True),
    ("after-junk-statements", document("x", 5, None, allow({"Service": ARTIFACT})), True),
    ("other-service", document(allow({"Service": "ec2.amazonaws.com"})), False),
    ("star", document(allow("*")), False),
    ("as-aws-principal", document(allow({"AWS": ARTIFACT})), False),
    (
        "in-condition-only",
        document(allow("*", Condition={"StringEquals": {"aws:PrincipalServiceName": ARTIFACT}})),
        False,
    ),
    ("empty", {}, False),
    ("statement-number", {"Statement": 5}, False),
    ("statement-junk-list", {"Statement": [5, "x", None, []]}, False),
    ("principal-number", document({"Effect": "Allow", "Principal": 5}), False),
    ("service-number", document(allow({"Service": 5})), False),
    ("service-object", document(allow({"Service": {ARTIFACT: True}})), False),
    ("not-a-mapping", ["Statement"], False),
    ("none", None, False),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in NAMES_CASES], ids=[c[0] for c in NAMES_CASES])
def test_trust_names_artifact_principal(doc: Any, expected: bool) -> None:
    assert trust_names_artifact_principal(doc) is expected


# --------------------------------------------------------------------------------------------
# decode_policy_document
# --------------------------------------------------------------------------------------------

DECODED = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "x y%20"}}]}

DECODE_CASES: list[tuple[str, Any]] = [
    ("dict", DECODED),
    ("json-string", json.dumps(DECODED)),
    ("json-string-indented", "\n" + json.dumps(DECODED, indent=2)),
    ("url-encoded", quote(json.dumps(DECODED))),
    ("url-encoded-safe-chars", quote(json.dumps(DECODED), safe="")),
    ("bytes", json.dumps(DECODED).encode()),
]


@pytest.mark.parametrize("raw", [c[1] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES])
def test_decode_policy_document(raw: Any) -> None:
    decoded = decode_policy_document(raw)
    assert decoded == DECODED
    assert type(decoded) is dict


def test_decode_returns_a_copy_of_a_mapping() -> None:
    original: dict[str, Any] = {"Statement": []}
    decoded = decode_policy_document(original)
    decoded["Version"] = "x"
    assert "Version" not in original


def test_decode_then_facts_of_iam_api_answer() -> None:
    # What the IAM API itself sends before botocore decodes it.
    encoded = quote(json.dumps(SLR_TRUST, separators=(",", ":")))
    assert trust_facts(decode_policy_document(encoded), ORG) == trust_facts(SLR_TRUST, ORG)


GARBAGE_CASES: list[tuple[str, Any]] = [
    ("none", None),
    ("number", 5),
    ("list", [{"Statement": []}]),
    ("empty-string", ""),
    ("not-json", "not a policy"),
    ("truncated-json", '{"Version": "2012-10-17"'),
    ("json-list", "[1, 2]"),
    ("json-string", '"{}"'),
    ("json-null", "null"),
    ("url-encoded-list", quote("[1]")),
    ("bad-bytes", b"\xff\xfe"),
]


@pytest.mark.parametrize("raw", [c[1] for c in GARBAGE_CASES], ids=[c[0] for c in GARBAGE_CASES])
def test_decode_garbage_raises(raw: Any) -> None:
    with pytest.raises(PolicyDocumentError):
        decode_policy_document(raw)


def test_policy_document_error_is_a_value_error() -> None:
    assert issubclass(PolicyDocumentError, ValueError)
