"""IAM policy semantics: a role's trust policy turned into plain JSON facts that rules assert on.

This is the one module that knows how IAM reads Principal, Action and Condition. Rules never look at raw
policy documents, only at the facts built here, so no rule author has to get wildcards, letter case or
NotPrincipal right. Every reading over-approximates what a policy allows: a fact may say that more is
trusted than really is, never less, so a rule can fail needlessly but never pass a policy it should fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from scanner.artifact import is_artifact_service_principal
from scanner.iam_eval import wildcard_match

TRUST_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:SetContext",
    "sts:SetSourceIdentity",
    "sts:TagSession",
)
"""The actions a role trust policy can meaningfully allow, in canonical spelling."""

SOURCE_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths")
"""Condition keys that can tie a service principal to the resource owner (confused-deputy prevention)."""

_SOURCE_KEYS = {key.lower(): key for key in SOURCE_KEYS}
_ANY = {
    "aws:SourceAccount": "any account",
    "aws:SourceArn": "any account",
    "aws:SourceOrgID": "any organization",
    "aws:SourceOrgPaths": "any organization path",
}

# Operator names as IAM documents them, to print what a policy wrote in one spelling whatever its case.
_OPERATORS = {
    name.lower(): name
    for name in """
    StringEquals StringNotEquals StringEqualsIgnoreCase StringNotEqualsIgnoreCase StringLike StringNotLike
    NumericEquals NumericNotEquals NumericLessThan NumericLessThanEquals NumericGreaterThan
    NumericGreaterThanEquals DateEquals DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan
    DateGreaterThanEquals Bool BinaryEquals IpAddress NotIpAddress ArnEquals ArnLike ArnNotEquals ArnNotLike
    Null""".split()  # noqa: SIM905 (a word list reads better than 27 quoted lines)
}
_PINNING_OPERATORS = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
# IAM documents ArnEquals and ArnLike as the same test: both accept * and ? in each ARN field.
_WILDCARD_OPERATORS = {"stringlike", "arnequals", "arnlike"}

_ROOT_ARN = re.compile(r"arn:[^:]+:iam::(\d{12}):root")


class PolicyDocumentError(ValueError):
    """A policy document that is not a JSON object (nor a JSON or URL-encoded JSON string of one)."""


@dataclass(frozen=True, slots=True)
class OrganizationContext:
    """What "this organization" means when deciding whether a source condition pins a principal to it."""

    organization_id: str | None  # "o-abc123"
    management_account_id: str | None
    account_ids: frozenset[str]  # every account of the organization (incl. management)

    def has_account(self, account_id: str) -> bool:
        """Whether `account_id` is literally one of this organization's accounts."""
        return account_id in self.account_ids or account_id == self.management_account_id


def decode_policy_document(document: object) -> dict[str, Any]:
    """A policy document as a dict, whichever form it arrived in.

    botocore already decodes IAM policy documents to dicts; a JSON string or a URL-encoded JSON string
    (as the IAM API itself sends, and moto servers or saved answers may keep) is accepted too.
    Raises PolicyDocumentError when the result is not a JSON object.
    """
    if isinstance(document, Mapping):
        return dict(document)
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyDocumentError(f"the policy document is not UTF-8 text: {exc}") from None
    if not isinstance(document, str):
        raise PolicyDocumentError(f"the policy document is {type(document).__name__}, not a JSON object")
    # Plain JSON first: a decoded document may legitimately contain '%' sequences in its values.
    for text in (document, unquote(document)):
        try:
            decoded = json.loads(text)
        except ValueError:
            continue
        if isinstance(decoded, dict):
            return decoded
        raise PolicyDocumentError(f"the policy document is a JSON {type(decoded).__name__}, not an object")
    raise PolicyDocumentError(f"the policy document is neither JSON nor URL-encoded JSON: {document[:60]!r}")


def trust_names_artifact_principal(document: Mapping[str, Any]) -> bool:
    """Whether any statement (Allow or Deny, Principal or NotPrincipal) names an Artifact service principal.

    A cheap test for the collector to decide whether a role is of interest; never raises.
    """
    for statement in _statements(document):
        if not isinstance(statement, Mapping):
            continue
        for field in ("Principal", "NotPrincipal"):
            value = statement.get(field)
            if not isinstance(value, Mapping):
                continue
            for kind, names in value.items():
                is_service = str(kind).strip().lower() == "service"
                if is_service and any(is_artifact_service_principal(n) for n in _strings(names)[0]):
                    return True
    return False


def trust_facts(document: Mapping[str, Any], org: OrganizationContext) -> dict[str, Any]:
    """Facts about a role trust policy, for rules to assert on (JSON-compatible, lists sorted, deterministic).

    - allowed_principals: who some Allow grants an action to: "*", "aws:<account id>", "aws:<ARN>",
      "service:<name>", "federated:<name>", "canonical:<id>"; an Allow with NotPrincipal counts as "*".
    - allowed_actions: which of TRUST_ACTIONS some Allow allows; allows_any_action: an Allow uses a
      wildcard or NotAction, so it may allow more than those.
    - uses_not_principal, uses_not_action, has_deny: whether any statement uses these; statement_count.
    - artifact_principals / trusts_artifact_principal: Artifact service principals an Allow names.
    - artifact_statements: one entry per such Allow, in document order: index, sid, principals, pinned,
      pinning_conditions ("<Operator> <key>") and reason (why not pinned, None when pinned).
    - artifact_trust_pinned: every artifact statement is pinned (true when there is none).
    - condition_keys: lower-cased condition keys of Allow statements.
    """
    statements = _statements(document)
    principals: set[str] = set()
    actions: set[str] = set()
    condition_keys: set[str] = set()
    artifact_principals: set[str] = set()
    artifact_statements: list[dict[str, Any]] = []
    any_action = not_principal = not_action = has_deny = False
    for index, statement in enumerate(statements):
        # Effect is case-sensitive in IAM: "allow" is not an Allow, so such a statement does nothing.
        if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
            continue
        not_principal = not_principal or "NotPrincipal" in statement
        not_action = not_action or "NotAction" in statement
        if statement["Effect"] == "Deny":
            # A Deny grants nothing and is deliberately NOT subtracted from what Allows grant: telling which
            # requests a Deny really blocks needs its conditions evaluated. Ignoring it keeps the facts
            # monotonic: adding a Deny never widens, adding an Allow never narrows what they say is allowed.
            has_deny = True
            continue
        condition = statement.get("Condition")
        condition_keys.update(key.lower() for _, key, _ in _condition_pairs(condition))
        granted, statement_any_action, grants = _statement_actions(statement)
        named = _statement_principals(statement)
        if not grants or not named:
            continue  # e.g. "Action": [] or "Principal": {}: this statement gives nobody anything
        actions |= granted
        any_action = any_action or statement_any_action
        principals |= named
        # Only explicit Service principals name Artifact; an Allow with NotPrincipal trusts it as part of "*".
        services = (p.removeprefix("service:") for p in named if p.startswith("service:"))
        artifact = sorted(name for name in services if is_artifact_service_principal(name))
        if not artifact:
            continue
        artifact_principals.update(artifact)
        pins, reason = _pinning(condition, org)
        sid = statement.get("Sid")
        artifact_statements.append(
            {
                "index": index,
                "sid": sid if isinstance(sid, str) else None,
                "principals": artifact,
                "pinned": reason is None,
                "pinning_conditions": pins,
                "reason": reason,
            }
        )
    return {
        "allowed_principals": sorted(principals),
        "allowed_actions": sorted(actions),
        "allows_any_action": any_action,
        "uses_not_principal": not_principal,
        "uses_not_action": not_action,
        "has_deny": has_deny,
        "statement_count": len(statements),
        "artifact_principals": sorted(artifact_principals),
        "trusts_artifact_principal": bool(artifact_principals),
        "artifact_statements": artifact_statements,
        "artifact_trust_pinned": all(s["pinned"] for s in artifact_statements),
        "condition_keys": sorted(condition_keys),
    }


# --------------------------------------------------------------------------------------------
# Reading statements. Whatever cannot be read is read as the widest value ("*"): IAM refuses such
# documents, so meeting one means the data is not what AWS stores, and the facts must not look narrow.
# --------------------------------------------------------------------------------------------


def _statements(document: object) -> list[object]:
    statement = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statement, Mapping):
        return [statement]  # IAM accepts a single statement object as well as a list
    return list(statement) if isinstance(statement, list) else []


def _strings(value: object) -> tuple[list[str], bool]:
    """The strings of a string-or-list value, and whether some part of it was not a string."""
    if isinstance(value, str):
        return [value], False
    if isinstance(value, list):
        strings = [item for item in value if isinstance(item, str)]
        return strings, len(strings) != len(value)
    return [], True


def _statement_principals(statement: Mapping[str, Any]) -> set[str]:
    """Canonical principals an Allow statement grants to (empty when it names nobody)."""
    if "Principal" not in statement:
        # NotPrincipal alone grants everyone but the listed ones: "*" over-approximates on purpose.
        # Neither Principal nor NotPrincipal is unreadable for a trust policy: "*" as well.
        return {"*"}
    named = {"*"} if "NotPrincipal" in statement else set()
    value = statement["Principal"]
    if not isinstance(value, Mapping):
        return named | {"*"}  # "*" itself, or a malformed value: IAM accepts only "*" or an object
    for kind, names in value.items():
        strings, unreadable = _strings(names)
        if unreadable:
            named.add("*")
        named.update(_canonical_principal(str(kind), name) for name in strings)
    return named


def _canonical_principal(kind: str, name: str) -> str:
    """One spelling per principal, so that equivalent forms give the same fact."""
    kind = kind.strip().lower()
    if kind == "aws":
        if name == "*":
            return "*"  # {"AWS": "*"} means everyone, exactly like "Principal": "*"
        root = _ROOT_ARN.fullmatch(name)
        return f"aws:{root.group(1)}" if root else f"aws:{name}"  # an account id and its root ARN are one
    if kind == "service":
        return f"service:{name.strip().lower()}"
    if kind == "canonicaluser":
        return f"canonical:{name}"
    return f"{kind}:{name}"  # "federated:..."; an unknown type is kept visible rather than dropped


def _action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)  # action names compare case-insensitively


def _statement_actions(statement: Mapping[str, Any]) -> tuple[set[str], bool, bool]:
    """(known trust actions allowed, whether actions beyond them may be allowed, whether anything is)."""
    granted: set[str] = set()
    any_action = grants = False
    if "NotAction" in statement:
        patterns = _strings(statement["NotAction"])[0]
        granted.update(a for a in TRUST_ACTIONS if not any(_action_matches(p, a) for p in patterns))
        any_action = grants = True  # everything not listed, including every action outside the fixed set
    if "Action" in statement or "NotAction" not in statement:
        strings, unreadable = _strings(statement.get("Action"))
        if unreadable:
            return set(TRUST_ACTIONS), True, True  # missing or malformed Action: read as "*"
        for text in strings:
            granted.update(a for a in TRUST_ACTIONS if _action_matches(text, a))
            # Any wildcard can match actions outside the fixed set (e.g. sts:AssumeRoot, or ones STS adds).
            any_action = any_action or "*" in text or "?" in text
        grants = grants or bool(strings)
    return granted, any_action, grants


# --------------------------------------------------------------------------------------------
# Pinning: does a statement's Condition restrict the source to this organization?
# --------------------------------------------------------------------------------------------


def _condition_pairs(condition: object) -> Iterator[tuple[str, str, object]]:
    """(operator, key, values) for each readable entry of a Condition block; the rest is ignored."""
    if not isinstance(condition, Mapping):
        return
    for operator, block in condition.items():
        if isinstance(block, Mapping):
            for key, values in block.items():
                yield str(operator), str(key), values


def _canonical_operator(operator: str) -> str:
    text = operator.strip()
    prefix = ""
    for qualifier in ("ForAnyValue:", "ForAllValues:"):
        if text.lower().startswith(qualifier.lower()):
            prefix, text = qualifier, text[len(qualifier) :]
    suffix = ""
    if text.lower().endswith("ifexists"):
        suffix, text = "IfExists", text[: -len("IfExists")]
    return prefix + _OPERATORS.get(text.lower(), text) + suffix


def _pinning(condition: object, org: OrganizationContext) -> tuple[list[str], str | None]:
    """(sorted "<Operator> <key>" pairs that pin, None) or ([], why the statement is not pinned).

    Conditions of one statement are ANDed, so a single pinning pair is enough.
    """
    if condition is None:
        return [], "no Condition block"
    if not isinstance(condition, Mapping):
        return [], "the Condition block is not a JSON object"
    pins: set[str] = set()
    reasons: list[str] = []
    for operator, key, values in _condition_pairs(condition):
        source_key = _SOURCE_KEYS.get(key.strip().lower())
        if source_key is None:
            continue
        canonical = _canonical_operator(operator)
        problem = _pair_problem(canonical, source_key, values, org)
        if problem is None:
            pins.add(f"{canonical} {source_key}")
        elif problem not in reasons:
            reasons.append(problem)
    if pins:
        return sorted(pins), None
    if not reasons:
        return [], "no aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition"
    return [], "; ".join(reasons)


def _pair_problem(operator: str, key: str, values: object, org: OrganizationContext) -> str | None:
    """Why one (operator, key, values) entry does not pin to this organization, or None when it does."""
    lower = operator.lower()
    # ForAllValues is vacuously true without the key, IfExists true by definition; and aws:Source* keys are
    # absent from every request that a service does not make on behalf of a resource.
    if lower.startswith("forallvalues:") or lower.endswith("ifexists"):
        return f"{operator} {key} passes when the key is absent"
    base = lower.removeprefix("foranyvalue:")  # ForAnyValue is false without the key: it pins like the base
    if base == "null":
        return f"Null {key} only tests whether the key is present"
    if base not in _PINNING_OPERATORS:
        if "not" in base:
            return f"{operator} {key} is negated: it allows every value but the listed ones"
        return f"{operator} does not compare {key} with given values"
    strings, unreadable = _strings(values)
    if unreadable:
        return f"{operator} {key} has a value that is not a string"
    if not strings:
        return f"{operator} {key} lists no values"
    wildcards = base in _WILDCARD_OPERATORS
    for value in strings:  # values in a list are ORed: every one of them must pin
        problem = _value_problem(operator, key, value, org, wildcards, base == "stringequalsignorecase")
        if problem is not None:
            return problem
    return None


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _value_problem(
    operator: str, key: str, value: str, org: OrganizationContext, wildcards: bool, ignore_case: bool
) -> str | None:
    """Why one condition value does not pin to this organization, or None when it does."""
    if wildcards and value and set(value) <= {"*"}:
        return f"{operator} {key} '{value}' matches {_ANY[key]}"
    if key in ("aws:SourceAccount", "aws:SourceArn") and not (org.account_ids or org.management_account_id):
        return f"{key} cannot be checked: the organization's accounts are unknown"
    if key in ("aws:SourceOrgID", "aws:SourceOrgPaths") and not org.organization_id:
        return f"{key} cannot be checked: the organization id is unknown"
    if key == "aws:SourceAccount":
        if wildcards and _has_wildcard(value):
            return f"{operator} {key} '{value}' is a pattern that can match other accounts"
        if not org.has_account(value):
            return f"{key} is {value}, not an account of this organization"
        return None
    if key == "aws:SourceArn":
        return _arn_problem(operator, key, value, org, wildcards)
    org_id = org.organization_id or ""
    if key == "aws:SourceOrgID":
        if wildcards and _has_wildcard(value):
            return f"{operator} {key} '{value}' is a pattern, not this organization's id"
        same = value.lower() == org_id.lower() if ignore_case else value == org_id
        return None if same else f"{key} is {value}, not this organization ({org_id})"
    # aws:SourceOrgPaths: a pattern is fixed only up to its first wildcard, and "<org id>/" has none, so
    # a value that starts with it matches paths of this organization only ("o-abc123*" does not).
    want = f"{org_id}/"
    if value.lower().startswith(want.lower()) if ignore_case else value.startswith(want):
        return None
    return f"{operator} {key} '{value}' does not start with this organization's path {want}"


def _arn_problem(
    operator: str, key: str, value: str, org: OrganizationContext, wildcards: bool
) -> str | None:
    """aws:SourceArn pins when the ARN's account field (the fifth) is literally one of the organization's."""
    parts = value.split(":")
    if len(parts) < 6 or parts[0].lower() != "arn":
        if wildcards and _has_wildcard(value):
            return f"{operator} {key} '{value}' matches any account"
        return f"{key} '{value}' is not an ARN with an account field"
    account = parts[4]
    if wildcards and _has_wildcard(account):
        return f"{operator} {key} '{value}' matches any account"
    if operator.lower().endswith("stringlike") and any(_has_wildcard(part) for part in parts[:4]):
        # StringLike's * also matches ':', so it can shift another account into place; ArnLike cannot.
        return (
            f"{operator} {key} '{value}' has a wildcard before the account field, which can match any "
            "account (ArnLike compares field by field)"
        )
    if not account:
        return f"{key} '{value}' has no account field"
    if not org.has_account(account):
        return f"{key} '{value}' names account {account}, not an account of this organization"
    return None
