"""Trust facts: a role's trust policy turned into plain JSON facts that rules assert on.

IAM's semantics live in scanner.iam_eval (one evaluator, from IAM's documented evaluation logic); this
module asks it questions and writes the answers as facts. Rules never look at raw policy documents, so
no rule author has to get wildcards, letter case, NotPrincipal or Deny right. Every answer
over-approximates what a policy allows: a fact may say that more is trusted than really is, never less,
so a rule can fail needlessly but never pass a policy it should fail.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from scanner import iam_eval
from scanner.iam_eval import Clause, Domain, Principal, Search, Witness

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

ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
"""The actions that can assume a role. A service principal assumes with sts:AssumeRole; the two others
are kept so that a policy granting one of them to a service never reads as closed. sts:TagSession,
sts:SetSourceIdentity and sts:SetContext only accompany an AssumeRole call: alone they assume nothing."""

_SOURCE_KEYS = {key.lower(): key for key in SOURCE_KEYS}

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




def trust_names_service_principal(document: Mapping[str, Any], principals: frozenset[str]) -> bool:
    """Whether any statement (Allow or Deny, Principal or NotPrincipal) names one of `principals` (lower case).

    A cheap test for the collector to decide whether a role is of interest; never raises.
    """
    for statement in iam_eval.statements_of(document):
        if not isinstance(statement, Mapping):
            continue
        for element in ("Principal", "NotPrincipal"):
            value = statement.get(element)
            if not isinstance(value, Mapping):
                continue
            for kind, names in value.items():
                is_service = str(kind).strip().lower() == "service"
                if is_service and any(n.strip().lower() in principals for n in iam_eval._strings(names)[0]):
                    return True
    return False


def trusts_only_service(facts: Mapping[str, Any], principal: str) -> bool:
    """Whether trust facts (trust_facts) show the one shape AWS gives a service-linked role: only the service
    principal `principal` may be allowed, only sts:AssumeRole, no wildcard action and no NotPrincipal."""
    return (
        facts.get("allowed_principals") == [f"service:{principal.strip().lower()}"]
        and facts.get("allowed_actions") == ["sts:AssumeRole"]
        and facts.get("allows_any_action") is False
        and facts.get("uses_not_principal") is False
    )


NO_ORGANIZATION = OrganizationContext(None, None, frozenset())
"""For trust facts that do not depend on the organization (who may assume, not whether a source is pinned)."""


IntegrationPrincipals = Mapping[str, tuple[str, ...]]
"""integration id -> the service principals a trust policy may name for it (scanner.integrations)."""


def trust_facts(
    document: Mapping[str, Any], org: OrganizationContext, integrations: IntegrationPrincipals
) -> dict[str, Any]:
    """Facts about a role trust policy, for rules to assert on (JSON-compatible, lists sorted, deterministic).

    Answers of scanner.iam_eval's search over request contexts, so a Deny is credited and an Allow that
    cannot assume the role opens nothing:

    - allowed_principals: who can be allowed some TRUST_ACTIONS action in some context: "*" (someone the
      policy does not name), "aws:<account id>", "aws:<ARN>", "service:<name>", "federated:<name>",
      "canonical:<id>"; allowed_actions: which TRUST_ACTIONS someone can be allowed;
      allows_any_action: an Allow that applies to someone uses a wildcard or NotAction (or an unreadable
      Action), so it may allow actions beyond those (an over-approximation: Deny is not subtracted here).
    - uses_not_principal, uses_not_action, has_deny: whether any statement uses these; statement_count.
    - integrations.<id>, for each integration of `integrations`:
      principals / trusted: its service principals that some request can use to assume the role
      (ASSUME_ACTIONS), whether the policy names them or trusts them as part of "*";
      statements: one entry per Allow through which one of them can assume the role, in document order:
      index, sid, principals, pinned (no request on behalf of a source outside this organization is
      allowed through it), pinning_conditions ("<Operator> <key>" of source-key conditions, of the Allow
      and of the Deny statements that apply, when pinned), reason (the witness in words, None when
      pinned) and witness (the request, None when pinned);
      pinned: every one of its statements is pinned (true when there is none).
      Every integration of `integrations` has its entry: one the policy cannot concern (it names none of its
      principals, and no service it does not name can be allowed) gets the entry of an untrusted one
      without a search, so the cost of a policy grows with the integrations it names, not with the catalog.
    - condition_keys: lower-cased condition keys of Allow statements.
    """
    return TrustReader(integrations)(document, org)


UNTRUSTED: Mapping[str, Any] = {"principals": [], "trusted": False, "statements": [], "pinned": True}
"""An integration's facts when none of its principals can assume the role (what the search answers): one
object shared by every role and integration the policy does not concern. Facts are read, never written
(scanner.model.Resource.facts is a Mapping)."""


class TrustReader:
    """trust_facts for one set of integrations, with what depends on that set alone worked out once: a
    collection evaluates thousands of roles against the same catalog."""

    __slots__ = ("_ids", "_key")

    def __init__(self, integrations: IntegrationPrincipals) -> None:
        self._key = tuple(sorted((i, tuple(p)) for i, p in integrations.items()))
        self._ids = tuple(i for i, _ in self._key)

    def __call__(self, document: Mapping[str, Any], org: OrganizationContext) -> dict[str, Any]:
        text = _trust_facts_text(json.dumps(document, sort_keys=True, default=str), org, self._key)
        facts: dict[str, Any] = json.loads(text)
        per_integration = dict.fromkeys(self._ids, UNTRUSTED)
        per_integration.update(facts["integrations"])
        facts["integrations"] = per_integration
        return facts


@lru_cache(maxsize=4096)
def _trust_facts_text(
    document_text: str, org: OrganizationContext, integrations: tuple[tuple[str, tuple[str, ...]], ...]
) -> str:
    # Organizations hold many roles with one trust policy (every account's copy of a role): each distinct
    # document is evaluated once per organization. JSON text in and out keeps the cached value immutable.
    document = json.loads(document_text)
    return json.dumps(_trust_facts(document, org, integrations), sort_keys=True)


def _trust_facts(
    document: Mapping[str, Any], org: OrganizationContext, integrations: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any]:
    policy = iam_eval.parse_policy(document)
    anyone = Search(policy)
    principals: set[str] = set()
    actions: set[str] = set()
    universe = _universe(policy)
    for principal, label in universe:
        if not anyone.may_apply(principal):
            continue
        for action in TRUST_ACTIONS:
            if anyone.may_apply(principal, action) and anyone.find(principal, [action]) is not None:
                principals.add(label)
                actions.add(action)
    foreign = Search(policy, _foreign_domains(org), like=anyone)
    concerned = _concerned(policy, anyone, integrations)
    per_integration = {
        integration_id: _integration_facts(policy, anyone, foreign, names)
        for integration_id, names in integrations
        if integration_id in concerned
    }
    allows = policy.allows
    raw = [s.raw for s in policy.statements]
    return {
        "allowed_principals": sorted(principals),
        "allowed_actions": sorted(actions),
        "allows_any_action": any(_may_allow_other_actions(s, universe) for s in allows),
        "uses_not_principal": any("NotPrincipal" in s for s in raw),
        "uses_not_action": any("NotAction" in s for s in raw),
        "has_deny": bool(policy.denies),
        "statement_count": policy.statement_count,
        "integrations": per_integration,
        "condition_keys": sorted({c.key for s in allows for c in s.conditions}),
    }


def _concerned(
    policy: iam_eval.Policy, anyone: Search, integrations: tuple[tuple[str, tuple[str, ...]], ...]
) -> set[str]:
    """The integrations whose principals some Allow may apply to: those the policy names (in any letter case),
    or all of them when it may allow a service it does not name ("*", a wildcard, NotPrincipal, an unreadable
    Principal). The evaluator answers for a service it does not name exactly as for any other such service,
    so one question about an unnamed one stands for every integration the policy does not name."""
    named = {p.name for p in _named(policy) if p.kind == "service"}
    unnamed = next(n for n in ("unnamed.amazonaws.com", "unnamed-2.amazonaws.com") if n not in named)
    if anyone.may_apply(Principal("service", unnamed)):
        return {integration_id for integration_id, _ in integrations}
    return {i for i, names in integrations if any(n.strip().lower() in named for n in names)}


def _integration_facts(
    policy: iam_eval.Policy, anyone: Search, foreign: Search, service_principals: tuple[str, ...]
) -> dict[str, Any]:
    through: dict[int, list[str]] = {}  # Allow index -> the integration's principals that can assume through it
    for principal in (Principal("service", name) for name in service_principals):
        if not anyone.may_apply(principal):
            continue
        for allow in policy.allows:
            if anyone.find(principal, ASSUME_ACTIONS, [allow.index]) is not None:
                through.setdefault(allow.index, []).append(principal.name)
    entries = []
    for allow in policy.allows:
        if allow.index not in through:
            continue
        names = sorted(through[allow.index])
        witness = next(
            (w for name in names if (w := foreign.find(Principal("service", name), ASSUME_ACTIONS, [allow.index]))),
            None,
        )
        entries.append(
            {
                "index": allow.index,
                "sid": allow.sid,
                "principals": names,
                "pinned": witness is None,
                "pinning_conditions": [] if witness else _pinning_conditions(foreign, policy, allow, names),
                "reason": None if witness is None else describe(witness, policy),
                "witness": None if witness is None else _witness_fact(witness),
            }
        )
    return {
        "principals": sorted({n for names in through.values() for n in names}),
        "trusted": bool(through),
        "statements": entries,
        "pinned": all(entry["pinned"] for entry in entries),
    }


# --------------------------------------------------------------------------------------------
# Who may ask: the principals a policy names, and one of each kind it does not ("*")
# --------------------------------------------------------------------------------------------

_UNNAMED_ACCOUNT = "444455556666"


def _named(policy: iam_eval.Policy) -> set[Principal]:
    named: set[Principal] = set()
    for statement in policy.statements:
        for element in ("Principal", "NotPrincipal"):
            value = statement.raw.get(element)
            if not isinstance(value, Mapping):
                continue
            for raw_kind, names in value.items():
                kind = str(raw_kind).strip().lower()
                for name in iam_eval._strings(names)[0]:
                    if name == "*" or "*" in name or "?" in name:
                        continue
                    if kind == "aws":
                        principal = Principal.aws(name)
                        named.add(principal)
                        if principal.account and principal.account != principal.name:
                            named.add(Principal.aws(principal.account))
                    elif kind == "service":
                        named.add(Principal("service", name.strip().lower()))
                    else:
                        named.add(Principal(kind, name))
    return named


def _outsider(accounts: set[str] | set[str | None]) -> str:
    """An account id not among `accounts`, the same one whenever possible (stable facts)."""
    candidates = itertools.chain([_UNNAMED_ACCOUNT], (f"{n:012d}" for n in itertools.count()))
    return next(a for a in candidates if a not in accounts)


def _universe(policy: iam_eval.Policy) -> list[tuple[Principal, str]]:
    named = _named(policy)
    accounts = {p.account for p in named}
    account = _outsider(accounts)
    names = {p.name for p in named}
    unnamed = [
        Principal.aws(account),
        Principal("service", next(n for n in ("unnamed.amazonaws.com", "unnamed-2.amazonaws.com") if n not in names)),
        Principal("federated", "unnamed-identity-provider.example"),
        Principal("canonicaluser", "unnamed-canonical-user"),
    ]
    return [(p, p.label) for p in sorted(named)] + [(p, "*") for p in unnamed if p not in named]


def _may_allow_other_actions(statement: iam_eval.Statement, universe: list[tuple[Principal, str]]) -> bool:
    if not any(statement.principal_matches(p) is not False for p, _ in universe):
        return False
    raw = statement.raw
    if "NotAction" in raw:
        return True
    patterns, unreadable = iam_eval._strings(raw.get("Action"))
    return unreadable or any("*" in p or "?" in p for p in patterns)


# --------------------------------------------------------------------------------------------
# Outside this organization: what a source key may hold in a request made for someone else
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _foreign_domains(org: OrganizationContext) -> dict[str, Domain]:
    """Each source key, when present, names something outside the organization. Keys are quantified
    independently (a service sends some of them, or none), which over-approximates: a real foreign
    request's keys also agree with each other. What is unknown about the organization restricts nothing.
    Organization ids and paths are compared case-insensitively (AWS writes them in lower case)."""
    accounts = set(org.account_ids) | ({org.management_account_id} if org.management_account_id else set())
    outsider = _outsider(accounts)
    trie = iam_eval.trie_of(accounts)
    domains = {
        "aws:sourceaccount": Domain(
            (Clause((iam_eval.SetAtom(trie),), False),) if accounts else (), (outsider,)
        ),
        "aws:sourcearn": Domain(
            (Clause((iam_eval.ArnAccountAtom(trie),), False),) if accounts else (),
            (f"arn:aws:iam::{outsider}:role/unnamed",),
        ),
    }
    org_id = org.organization_id
    other_org = "o-unnamed0000" if org_id != "o-unnamed0000" else "o-unnamed0001"
    own_id = iam_eval.GlobAtom(iam_eval.literal_tokens(org_id or ""), ignore_case=True)
    own_path = iam_eval.GlobAtom([*iam_eval.literal_tokens(f"{org_id}/"), (iam_eval.ANY_RUN, None)], ignore_case=True)
    domains["aws:sourceorgid"] = Domain((Clause((own_id,), False),) if org_id else (), (other_org,))
    domains["aws:sourceorgpaths"] = Domain(
        (Clause((own_path,), False),) if org_id else (), (f"{other_org}/r-unnamed/ou-unnamed/",)
    )
    return domains


def _pinning_conditions(
    foreign: Search, policy: iam_eval.Policy, allow: iam_eval.Statement, names: Iterable[str]
) -> list[str]:
    """"<Operator> <key>" of each source-key condition that alone shuts out every source outside the
    organization: the Allow's own, or that of a Deny applying to these principals ("Deny <Operator> <key>")."""
    denies = [
        d for d in policy.denies if any(d.principal_matches(Principal("service", n)) is True for n in names)
    ]
    found = set()
    for statement in (allow, *denies):
        deny = statement.effect is iam_eval.Effect.DENY
        for condition in statement.conditions:
            if condition.key in _SOURCE_KEYS and foreign.closes(condition, statement.effect):
                prefix = "Deny " if deny else ""
                found.add(f"{prefix}{condition.operator} {_SOURCE_KEYS[condition.key]}")
    return sorted(found)


# --------------------------------------------------------------------------------------------
# Witnesses in words and as facts
# --------------------------------------------------------------------------------------------


def _key_name(key: str) -> str:
    return _SOURCE_KEYS.get(key, key)


def describe(witness: Witness, policy: iam_eval.Policy) -> str:
    """One sentence: "a request from example.amazonaws.com on behalf of account 444455556666 ...
    is allowed by statement 2 (Sid ...)"."""
    statement = f"statement {witness.statement}" + (f" (Sid {witness.sid})" if witness.sid else "")
    who = witness.principal.name if witness.principal.kind == "service" else witness.principal.label
    if witness.undecided:
        return (
            f"a request from {who} for {witness.action} through {statement} could not be ruled out "
            f"({witness.undecided}): read as allowed"
        )
    parts = []
    account = witness.context.get("aws:sourceaccount")
    if account:
        parts.append(f"on behalf of account {account[0]}")
    # Keys no condition mentions could hold anything: naming them would only lengthen the sentence.
    mentioned = {c.key for s in policy.statements for c in s.conditions}
    present = {k: v for k, v in witness.context.items() if v and k != "aws:sourceaccount" and k in mentioned}
    absent = [_key_name(k) for k, v in witness.context.items() if v is None and k in mentioned]
    if present:
        parts.append("with " + ", ".join(f"{_key_name(k)} {' '.join(v)}" for k, v in present.items()))
    if absent:
        parts.append("without " + ", ".join(absent))
    if witness.unmodelled:
        parts.append(f"(conditions on {', '.join(witness.unmodelled)} read as met)")
    context = " ".join(parts)
    return f"a request from {who} for {witness.action}{' ' + context if context else ''} is allowed by {statement}"


def _witness_fact(witness: Witness) -> dict[str, Any]:
    return {
        "statement": witness.statement,
        "principal": witness.principal.label,
        "action": witness.action,
        "context": {
            _key_name(k): (list(v) if v is not None else None) for k, v in sorted(witness.context.items())
        },
    }
