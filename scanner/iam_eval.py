"""IAM's evaluation of a trust policy, and searches over the requests it can be asked to decide.

The one module that owns IAM policy semantics. `decide` answers one request the way IAM's documented
evaluation logic does: an explicit Deny wins, then an Allow, else the request is implicitly denied.
`find_allowed` searches every request context a policy can tell apart for one it allows, under
constraints on some keys' values (for example "every source key is absent or names something outside
this organization"). Nothing here knows about any one service: scanner.policy asks the questions.

Soundness. Where a document is malformed, or IAM's reading of it is not documented (an operator this
module cannot model, an `{"AWS": "*"}` principal against a service, a plain operator on a key with
several values), an Allow statement is read as applying and a Deny as not applying. Every answer thus
over-approximates what the policy allows: a search can report a request that IAM would refuse, never
miss one that IAM would let through. A search that grows past its budget says "undecided", which
callers read as "allowed" for the same reason.

Time. Wildcard matching is a set-of-positions simulation, O(len(pattern) * len(text)), never a
backtracking regular expression built from policy text; the search walks a product automaton of the
finitely many patterns a policy holds, bounded by a state budget.
"""

from __future__ import annotations

import base64
import ipaddress
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

# --------------------------------------------------------------------------------------------
# Wildcards: `*` (any run of characters, also none) and `?` (exactly one character)
# --------------------------------------------------------------------------------------------

# A pattern token: a literal character, or a wildcard ("?" or "*") with a character it may not match
# (ArnLike's wildcards stay inside one colon-separated field), or None.
Token = tuple[str, str | None]
LITERAL, ONE, ANY_RUN = "c", "?", "*"


def wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether `text` matches the IAM wildcard `pattern` (`*` any run, `?` one character).

    Greedy two pointers: the last `*` seen is the only one ever resumed, so the cost is at most
    O(len(pattern) * len(text)), whatever the pattern (no exponential backtracking).
    """
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    p = t = 0
    star = -1  # position in pattern after the last '*'
    resume = 0  # where in text that '*' would next extend to
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or (pattern[p] != "*" and pattern[p] == text[t])):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star = p + 1
            resume = t
            p += 1
        elif star >= 0:
            resume += 1
            t = resume
            p = star
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


ARN_FIELDS = 6


def split_arn(text: str) -> list[str] | None:
    """The six colon-separated fields of an ARN (the resource keeps its colons), or None."""
    parts = text.split(":", ARN_FIELDS - 1)
    return parts if len(parts) == ARN_FIELDS else None


def arn_match(pattern: str, text: str) -> bool | None:
    """ArnLike / ArnEquals: each of the six fields matched separately, wildcards within a field.

    None when the pattern is not an ARN (IAM's reading of it is not documented).
    """
    fields = split_arn(pattern)
    if fields is None:
        return None
    values = split_arn(text)
    if values is None:
        return False
    # The service namespace and partition compare as written; IAM documents no case folding for ARNs.
    return all(wildcard_match(p, v) for p, v in zip(fields, values, strict=True))


def glob_tokens(pattern: str) -> list[Token]:
    return [(ONE, None) if c == "?" else (ANY_RUN, None) if c == "*" else (LITERAL, c) for c in pattern]


def literal_tokens(text: str) -> list[Token]:
    return [(LITERAL, c) for c in text]


def arn_tokens(pattern: str) -> list[Token] | None:
    fields = split_arn(pattern)
    if fields is None:
        return None
    tokens: list[Token] = []
    for index, part in enumerate(fields):
        last = index == ARN_FIELDS - 1
        for kind, char in glob_tokens(part):
            tokens.append((kind, char) if kind == LITERAL or last else (kind, ":"))
        if not last:
            tokens.append((LITERAL, ":"))
    return tokens


# --------------------------------------------------------------------------------------------
# Three-valued logic: True, False, or None when IAM's reading is unknown (malformed or undocumented)
# --------------------------------------------------------------------------------------------

Maybe = bool | None


def _any3(values: Iterable[Maybe]) -> Maybe:
    result: Maybe = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _all3(values: Iterable[Maybe]) -> Maybe:
    result: Maybe = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _not3(value: Maybe) -> Maybe:
    return None if value is None else not value


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


def _reads_as(value: Maybe, effect: Effect) -> bool:
    """An unknown part makes an Allow apply and a Deny not apply: the reading that allows most."""
    return value is not False if effect is Effect.ALLOW else value is True


# --------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------

_ACCOUNT_ID_LENGTH = 12


def account_of(name: str) -> str | None:
    """The account an AWS principal entry stands for: an account id or a root ARN ("arn:...:iam::<id>:root")."""
    if len(name) == _ACCOUNT_ID_LENGTH and name.isdigit():
        return name
    fields = split_arn(name)
    if fields and fields[2] == "iam" and fields[5] == "root" and len(fields[4]) == 12 and fields[4].isdigit():
        return fields[4]
    return None


@dataclass(frozen=True, slots=True, order=True)
class Principal:
    """Who makes a request: kind ("aws", "service", "federated", "canonicaluser", or another type as
    written, lower-cased) and name; an AWS principal also has its account (an account id names the account
    itself, an ARN one of its principals)."""

    kind: str
    name: str
    account: str | None = None

    @classmethod
    def aws(cls, name: str) -> Principal:
        account = account_of(name)
        if account is not None:
            return cls("aws", account, account)
        fields = split_arn(name)
        owner = fields[4] if fields and len(fields[4]) == 12 and fields[4].isdigit() else None
        return cls("aws", name, owner)

    @property
    def label(self) -> str:
        kind = {"canonicaluser": "canonical"}.get(self.kind, self.kind)
        return f"{kind}:{self.name}"


def _strings(value: object) -> tuple[list[str], bool]:
    """The strings of a string-or-list value, and whether some part of it was not a string."""
    if isinstance(value, str):
        return [value], False
    if isinstance(value, list):
        strings = [item for item in value if isinstance(item, str)]
        return strings, len(strings) != len(value)
    return [], True


def _entry_matches(kind: str, entry: str, request: Principal) -> Maybe:
    """Whether one Principal entry (`{"<kind>": "<entry>"}`) names the request's principal."""
    if kind == "aws":
        if request.kind != "aws":
            # IAM documents {"AWS": "*"} as everyone; whether that covers service principals is not said.
            return None if entry == "*" else False
        if entry == "*":
            return True
        account = account_of(entry)
        if account is not None:
            return request.account == account  # an account trusts every principal of its own
        if entry == request.name:
            return True
        # Principal ARNs take no wildcards but "*"; a near miss is not a reading IAM documents.
        return None if "*" in entry or "?" in entry or entry.lower() == request.name.lower() else False
    if kind != request.kind:
        return False
    if entry == request.name:
        return True
    if kind == "service" and (entry.strip().lower() == request.name or "*" in entry or "?" in entry):
        return None  # IAM documents service principals in lower case and without wildcards
    return False


def principal_element_matches(value: object, request: Principal) -> Maybe:
    """Whether a Principal (or NotPrincipal) element names `request`."""
    if value == "*":
        return True
    if not isinstance(value, Mapping):
        return None  # IAM accepts only "*" or an object
    results: list[Maybe] = []
    for raw_kind, names in value.items():
        kind = str(raw_kind).strip().lower()
        strings, unreadable = _strings(names)
        results.extend(_entry_matches(kind, name, request) for name in strings)
        if unreadable:
            results.append(None)
    return _any3(results)


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number  # epoch seconds
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def _compare(parse: Any, test: Any) -> Any:
    def matcher(value: str, operand: str) -> Maybe:
        left, right = parse(value), parse(operand)
        return None if left is None or right is None else bool(test(left, right))

    return matcher


def _ip_in(value: str, operand: str) -> Maybe:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
    except ValueError:
        return None


def _binary_equals(value: str, operand: str) -> Maybe:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(operand, validate=True)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Family:
    name: str  # as IAM spells it
    match: Any  # (request value, policy value) -> Maybe
    negated: bool
    atom: str | None  # how the search models it: "eq", "eq_ic", "glob", "arn"; None: it cannot


def _families() -> dict[str, _Family]:
    def eq(v: str, x: str) -> Maybe:
        return v == x

    def eq_ic(v: str, x: str) -> Maybe:
        return v.lower() == x.lower()

    def like(v: str, x: str) -> Maybe:
        return wildcard_match(x, v)

    def arn(v: str, x: str) -> Maybe:
        return arn_match(x, v)

    rows: list[tuple[str, Any, str | None]] = [
        ("StringEquals", eq, "eq"),
        ("StringEqualsIgnoreCase", eq_ic, "eq_ic"),
        ("StringLike", like, "glob"),
        # IAM documents ArnEquals and ArnLike as the same field-by-field test, wildcards included.
        ("ArnEquals", arn, "arn"),
        ("ArnLike", arn, "arn"),
        ("Bool", eq_ic, "eq_ic"),
        ("NumericEquals", _compare(_number, lambda a, b: a == b), None),
        ("NumericLessThan", _compare(_number, lambda a, b: a < b), None),
        ("NumericLessThanEquals", _compare(_number, lambda a, b: a <= b), None),
        ("NumericGreaterThan", _compare(_number, lambda a, b: a > b), None),
        ("NumericGreaterThanEquals", _compare(_number, lambda a, b: a >= b), None),
        ("DateEquals", _compare(_date, lambda a, b: a == b), None),
        ("DateLessThan", _compare(_date, lambda a, b: a < b), None),
        ("DateLessThanEquals", _compare(_date, lambda a, b: a <= b), None),
        ("DateGreaterThan", _compare(_date, lambda a, b: a > b), None),
        ("DateGreaterThanEquals", _compare(_date, lambda a, b: a >= b), None),
        ("IpAddress", _ip_in, None),
        ("BinaryEquals", _binary_equals, None),
    ]
    negations = {
        "StringEquals": "StringNotEquals",
        "StringEqualsIgnoreCase": "StringNotEqualsIgnoreCase",
        "StringLike": "StringNotLike",
        "ArnEquals": "ArnNotEquals",
        "ArnLike": "ArnNotLike",
        "NumericEquals": "NumericNotEquals",
        "DateEquals": "DateNotEquals",
        "IpAddress": "NotIpAddress",
    }
    families = {}
    for name, match, atom in rows:
        families[name.lower()] = _Family(name, match, False, atom)
        if name in negations:
            families[negations[name].lower()] = _Family(negations[name], match, True, atom)
    return families


FAMILIES = _families()
NULL = "null"
ANY_VALUE, ALL_VALUES = "any", "all"
_QUALIFIERS = {"foranyvalue:": ANY_VALUE, "forallvalues:": ALL_VALUES}


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"  # JSON true in a Bool condition means "true"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key, values) entry of a Condition block."""

    operator: str  # canonical spelling, e.g. "ForAnyValue:StringLike", "StringEqualsIfExists"
    key: str  # lower-cased: IAM compares condition key names case-insensitively
    key_as_written: str
    qualifier: str  # "", ANY_VALUE, ALL_VALUES
    base: str  # lower-cased operator without qualifier and IfExists; NULL for the Null check
    if_exists: bool
    values: tuple[str, ...] | None  # None: unreadable

    @classmethod
    def parse(cls, operator: str, key: str, raw: object) -> Condition:
        text = operator.strip()
        qualifier = ""
        for prefix, name in _QUALIFIERS.items():
            if text.lower().startswith(prefix):
                qualifier, text = name, text[len(prefix) :]
        if_exists = text.lower().endswith("ifexists") and text.lower() != "ifexists"
        base = (text[: -len("IfExists")] if if_exists else text).lower()
        family = FAMILIES.get(base)
        spelled = "Null" if base == NULL else family.name if family else text.removesuffix("IfExists")
        prefix = {"": "", ANY_VALUE: "ForAnyValue:", ALL_VALUES: "ForAllValues:"}[qualifier]
        items = raw if isinstance(raw, list) else [raw]
        scalars = [_scalar(item) for item in items]
        values = None if any(s is None for s in scalars) else tuple(s for s in scalars if s is not None)
        return cls(
            operator=prefix + spelled + ("IfExists" if if_exists else ""),
            key=key.strip().lower(),
            key_as_written=key.strip(),
            qualifier=qualifier,
            base=base,
            if_exists=if_exists,
            values=values,
        )

    @property
    def known(self) -> bool:
        """Whether this module knows IAM's reading of the operator (and could read the values)."""
        return self.values is not None and (self.base in FAMILIES or self.base == NULL)

    def element(self, value: str) -> Maybe:
        """The operator on one request value: ORed over the policy's values, negated for Not operators."""
        family = FAMILIES[self.base]
        positive = _any3(family.match(value, operand) for operand in self.values or ())
        return _not3(positive) if family.negated else positive

    def holds(self, value: tuple[str, ...] | None, effect: Effect) -> Maybe:
        """The condition against a request value: None (key absent) or the key's values."""
        if not self.known:
            return None
        assert self.values is not None
        absent = value is None or not value
        if self.base == NULL:
            flags = [v.lower() for v in self.values]
            if any(flag not in ("true", "false") for flag in flags):
                return None
            return any((flag == "true") == absent for flag in flags)
        if value is None or not value:
            if self.if_exists or self.qualifier == ALL_VALUES:
                return True  # ...IfExists, and ForAllValues, are true without the key
            if self.qualifier == ANY_VALUE:
                return False
            return FAMILIES[self.base].negated  # "not matching" holds for a key that is not there
        results = [self.element(v) for v in value]
        if self.qualifier == ANY_VALUE:
            return _any3(results)
        if self.qualifier == ALL_VALUES or len(results) == 1:
            return _all3(results)
        # A plain operator on a key with several values: IAM does not document whether any or every
        # value must match, so only an answer both readings give is an answer.
        anyone, everyone = _any3(results), _all3(results)
        return anyone if anyone == everyone else None


# --------------------------------------------------------------------------------------------
# Statements and policies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # position in the document's Statement list
    sid: str | None
    effect: Effect
    raw: Mapping[str, Any]
    conditions: tuple[Condition, ...]
    conditions_readable: bool  # False: a Condition block (or an operator's block) is not an object

    def principal_matches(self, request: Principal) -> Maybe:
        has_principal, has_not = "Principal" in self.raw, "NotPrincipal" in self.raw
        if has_principal == has_not:
            return None  # neither or both: IAM refuses such a trust policy
        if has_principal:
            return principal_element_matches(self.raw["Principal"], request)
        return _not3(principal_element_matches(self.raw["NotPrincipal"], request))

    def action_matches(self, action: str) -> Maybe:
        has_action, has_not = "Action" in self.raw, "NotAction" in self.raw
        if has_action == has_not:
            return None
        patterns, unreadable = _strings(self.raw["Action" if has_action else "NotAction"])
        if unreadable:
            return None
        # Action names compare case-insensitively.
        matched = any(wildcard_match(pattern, action, ignore_case=True) for pattern in patterns)
        return matched if has_action else not matched

    def conditions_hold(self, context: Mapping[str, tuple[str, ...] | None]) -> Maybe:
        if not self.conditions_readable:
            return None
        # ANDed across operators and keys; each condition ORs its own values.
        return _all3(c.holds(context.get(c.key), self.effect) for c in self.conditions)

    def applies(self, request: Request) -> bool:
        parts = (
            self.principal_matches(request.principal),
            self.action_matches(request.action),
            self.conditions_hold(request.context),
        )
        return _reads_as(_all3(parts), self.effect)


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]  # those with a valid Effect, in document order
    statement_count: int  # every entry of the Statement list, valid or not

    @property
    def allows(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.effect is Effect.ALLOW)

    @property
    def denies(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.effect is Effect.DENY)


def statements_of(document: object) -> list[object]:
    statement = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statement, Mapping):
        return [statement]  # IAM accepts a single statement object as well as a list
    return list(statement) if isinstance(statement, list) else []


def parse_policy(document: Mapping[str, Any]) -> Policy:
    raw_statements = statements_of(document)
    statements = []
    for index, raw in enumerate(raw_statements):
        # Effect is case-sensitive in IAM: "allow" is not an Allow; IAM refuses such a statement, and
        # reading it as doing nothing is what every earlier version of these facts did.
        if not isinstance(raw, Mapping) or raw.get("Effect") not in ("Allow", "Deny"):
            continue
        block = raw.get("Condition")
        conditions: list[Condition] = []
        readable = block is None or isinstance(block, Mapping)
        if isinstance(block, Mapping):
            for operator, keys in block.items():
                if not isinstance(keys, Mapping):
                    readable = False
                    continue
                conditions.extend(Condition.parse(str(operator), str(key), values) for key, values in keys.items())
        sid = raw.get("Sid")
        statements.append(
            Statement(
                index=index,
                sid=sid if isinstance(sid, str) else None,
                effect=Effect(raw["Effect"]),
                raw=raw,
                conditions=tuple(conditions),
                conditions_readable=readable,
            )
        )
    return Policy(tuple(statements), len(raw_statements))


# --------------------------------------------------------------------------------------------
# Deciding one request
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    action: str
    context: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)  # lower-cased key -> values

    @classmethod
    def of(cls, principal: Principal, action: str, context: Mapping[str, Any] | None = None) -> Request:
        """Keys in any case; a value is a string, a list of strings, or None (absent)."""
        normalized: dict[str, tuple[str, ...] | None] = {}
        for key, value in (context or {}).items():
            if value is not None:
                normalized[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
        return cls(principal, action, normalized)


class Outcome(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitly denied"
    IMPLICIT_DENY = "implicitly denied"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    statement: int | None  # the deciding statement's index (the first that applies), None if implicit


def decide(policy: Policy, request: Request) -> Decision:
    """IAM's decision for one request: an applicable Deny wins, then an applicable Allow, else no."""
    for statement in policy.denies:
        if statement.applies(request):
            return Decision(Outcome.EXPLICIT_DENY, statement.index)
    for statement in policy.allows:
        if statement.applies(request):
            return Decision(Outcome.ALLOWED, statement.index)
    return Decision(Outcome.IMPLICIT_DENY, None)
