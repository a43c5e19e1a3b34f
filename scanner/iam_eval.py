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
from functools import lru_cache
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
        # No value at all is not a condition IAM documents: unreadable, like a value that is not a scalar.
        values = None if not scalars or any(s is None for s in scalars) else tuple(s for s in scalars if s is not None)
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
        matched = any(_action_match(pattern, action) for pattern in patterns)
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


@lru_cache(maxsize=4096)
def _action_match(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)  # few distinct actions and patterns: cached


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]  # those with a valid Effect, in document order
    statement_count: int  # every entry of the Statement list, valid or not
    allows: tuple[Statement, ...] = ()
    denies: tuple[Statement, ...] = ()

    @classmethod
    def of(cls, statements: Sequence[Statement], statement_count: int) -> Policy:
        return cls(
            tuple(statements),
            statement_count,
            tuple(s for s in statements if s.effect is Effect.ALLOW),
            tuple(s for s in statements if s.effect is Effect.DENY),
        )


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
                # In a canonical order: the same conditions written in another order (or key case) are
                # searched alike, so they give the same witness.
                conditions=tuple(sorted(conditions, key=lambda c: (c.key, c.operator, c.values or ()))),
                conditions_readable=readable,
            )
        )
    return Policy.of(statements, len(raw_statements))


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


# --------------------------------------------------------------------------------------------
# Searching request contexts
#
# A question ("is some request from P, for one of these actions, with these keys' values restricted so,
# allowed?") is answered per Allow statement S: find a context in which S's conditions hold and, for
# every Deny that applies to P and the action, one of its conditions fails. Conditions on different
# keys are independent, so the search picks, for each Deny, the condition it makes fail (backtracking),
# and then solves each key on its own: absent, or values satisfying a conjunction of "matches one of
# these patterns" / "matches none of them". A key's string constraint is decided exactly by walking the
# product of the patterns' automata over the characters they mention plus one character they do not
# (every other character behaves like it), so "no such value" is a proof, not a failure to guess.
# --------------------------------------------------------------------------------------------

MULTI_VALUED_KEYS = frozenset(
    {"aws:sourceorgpaths", "aws:principalorgpaths", "aws:tagkeys", "aws:principalservicenameslist", "aws:calledvia"}
)
"""Keys documented as multivalued; a key that a policy uses with ForAnyValue/ForAllValues is treated so too."""

STATE_BUDGET = 20_000  # automaton states one key's solve may visit
NODE_BUDGET = 5_000  # choices of failing Deny conditions one question may try


class Undecided(Exception):
    """A search outgrew its budget: the caller must read the answer as "allowed"."""


class _Trie:
    """A set of strings as a deterministic automaton (for "is this value one of the organization's")."""

    def __init__(self, words: Iterable[str]) -> None:
        self.children: list[dict[str, int]] = [{}]
        self.terminal: set[int] = set()
        for word in words:
            node = 0
            for char in word:
                nxt = self.children[node].get(char)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][char] = nxt
                    self.children.append({})
                node = nxt
            self.terminal.add(node)
        self.chars = frozenset(c for child in self.children for c in child)

    def step(self, node: int | None, char: str) -> int | None:
        return None if node is None else self.children[node].get(char)


class Atom:
    """One string test of the search, as an automaton: start, step, accepts; and `matches` for a value."""

    def start(self) -> Any:
        raise NotImplementedError

    def step(self, state: Any, char: str) -> Any:
        raise NotImplementedError

    def accepts(self, state: Any) -> bool:
        raise NotImplementedError

    def chars(self) -> frozenset[str]:
        raise NotImplementedError

    def matches(self, text: str) -> bool:
        state = self.start()
        for char in text:
            state = self.step(state, char)
        return self.accepts(state)


class GlobAtom(Atom):
    """A pattern of literal characters, `?` and `*` (each wildcard may exclude one character)."""

    def __init__(self, tokens: Sequence[Token], *, ignore_case: bool = False) -> None:
        self.tokens = [(k, c.lower() if ignore_case and c and k == LITERAL else c) for k, c in tokens]
        self.ignore_case = ignore_case
        # The one string it matches, when it has no wildcard and compares case-sensitively.
        exact = not ignore_case and all(k == LITERAL for k, _ in self.tokens)
        self.literal = "".join(c or "" for _, c in self.tokens) if exact else None
        # Without exclusions (and so without a literal `*` or `?`) it is an IAM wildcard pattern.
        plain = all((k == LITERAL and c not in ("*", "?")) or (k != LITERAL and c is None) for k, c in self.tokens)
        self.pattern = "".join(c if k == LITERAL and c else k for k, c in self.tokens) if plain else None

    def matches(self, text: str) -> bool:
        if self.literal is not None:
            return text == self.literal
        if self.pattern is not None:
            return wildcard_match(self.pattern, text, ignore_case=self.ignore_case)
        return super().matches(text)

    def _close(self, positions: Iterable[int]) -> frozenset[int]:
        found = set(positions)
        stack = list(found)
        while stack:
            position = stack.pop()
            if position < len(self.tokens) and self.tokens[position][0] == ANY_RUN and position + 1 not in found:
                found.add(position + 1)
                stack.append(position + 1)
        return frozenset(found)

    def start(self) -> frozenset[int]:
        return self._close([0])

    def step(self, state: frozenset[int], char: str) -> frozenset[int]:
        if self.ignore_case:
            char = char.lower()
        after: set[int] = set()
        for position in state:
            if position == len(self.tokens):
                continue
            kind, literal = self.tokens[position]
            if kind == LITERAL:
                if literal == char:
                    after.add(position + 1)
            elif char != literal:  # a wildcard, unless `literal` is the character it may not match
                after.add(position + 1 if kind == ONE else position)
        return self._close(after) if after else frozenset()

    def accepts(self, state: frozenset[int]) -> bool:
        return len(self.tokens) in state

    def chars(self) -> frozenset[str]:
        found = {c for _, c in self.tokens if c}
        return frozenset(found | {c.upper() for c in found} | {c.lower() for c in found})


class SetAtom(Atom):
    """The value is one of a set of strings."""

    def __init__(self, trie: _Trie) -> None:
        self.trie = trie

    def start(self) -> int | None:
        return 0

    def step(self, state: int | None, char: str) -> int | None:
        return self.trie.step(state, char)

    def accepts(self, state: int | None) -> bool:
        return state is not None and state in self.trie.terminal

    def chars(self) -> frozenset[str]:
        return self.trie.chars


class ArnAccountAtom(Atom):
    """The value is an ARN whose account field (the fifth) is one of a set of account ids."""

    def __init__(self, trie: _Trie) -> None:
        self.trie = trie

    def start(self) -> tuple[int, Any]:
        return (0, None)

    def step(self, state: tuple[int, Any], char: str) -> tuple[int, Any]:
        field_index, inner = state
        if field_index >= 5:
            return state  # past the account field: the resource may hold anything, colons too
        if char == ":":
            if field_index == 3:
                return (4, 0)
            if field_index == 4:
                return (5, inner is not None and inner in self.trie.terminal)
            return (field_index + 1, None)
        return (4, self.trie.step(inner, char)) if field_index == 4 else state

    def accepts(self, state: tuple[int, Any]) -> bool:
        return state[0] >= 5 and state[1] is True

    def chars(self) -> frozenset[str]:
        return self.trie.chars | {":"}


@dataclass(frozen=True, slots=True)
class Clause:
    """Holds for a value when (the value matches one of `atoms`) == `want`."""

    atoms: tuple[Atom, ...]
    want: bool

    def holds(self, text: str) -> bool:
        return any(atom.matches(text) for atom in self.atoms) == self.want


@dataclass(frozen=True, slots=True)
class Domain:
    """What values of one key the question allows: every value present satisfies `clauses`; `examples`
    are tried first, so that an answer reads naturally ("account 444455556666")."""

    clauses: tuple[Clause, ...] = ()
    examples: tuple[str, ...] = ()


def trie_of(words: Iterable[str]) -> _Trie:
    return _Trie(words)


def condition_atoms(condition: Condition) -> tuple[Atom, ...] | None:
    """The condition's values as atoms (ORed), or None when the search cannot model it."""
    family = FAMILIES.get(condition.base)
    if family is None or family.atom is None or condition.values is None:
        return None
    atoms: list[Atom] = []
    for operand in condition.values:
        if family.atom == "eq":
            atoms.append(GlobAtom(literal_tokens(operand)))
        elif family.atom == "eq_ic":
            atoms.append(GlobAtom(literal_tokens(operand), ignore_case=True))
        elif family.atom == "glob":
            atoms.append(GlobAtom(glob_tokens(operand)))
        else:
            tokens = arn_tokens(operand)
            if tokens is None:
                return None
            atoms.append(GlobAtom(tokens))
    return tuple(atoms)


_FRESH = ("x", "z", "q", "#", "~", "_", "\u00a7")


def _solve_string(clauses: Sequence[Clause], examples: Iterable[str]) -> str | None:
    """A string satisfying every clause, or None when none exists; raises Undecided past the budget."""
    for example in examples:
        if all(clause.holds(example) for clause in clauses):
            return example
    # A clause that demands one of a few exact, case-sensitive strings leaves only those to try.
    for clause in clauses:
        finite = [a.literal for a in clause.atoms if isinstance(a, GlobAtom) and a.literal is not None]
        if clause.want and clause.atoms and len(finite) == len(clause.atoms):
            return next((text for text in finite if all(c.holds(text) for c in clauses)), None)
    atoms = [atom for clause in clauses for atom in clause.atoms]
    spans = []
    position = 0
    for clause in clauses:
        spans.append((position, position + len(clause.atoms), clause.want))
        position += len(clause.atoms)
    alphabet = set().union(*(atom.chars() for atom in atoms)) if atoms else set()
    fresh = next(c for c in _FRESH if c not in alphabet and c.swapcase() not in alphabet)
    letters = [*sorted(alphabet), fresh]

    def satisfied(state: tuple[Any, ...]) -> bool:
        return all(
            any(atoms[i].accepts(state[i]) for i in range(begin, end)) == want for begin, end, want in spans
        )

    start = tuple(atom.start() for atom in atoms)
    parents: dict[tuple[Any, ...], tuple[tuple[Any, ...], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if satisfied(state):
            chars = []
            cursor = state
            while (link := parents[cursor]) is not None:
                cursor, char = link
                chars.append(char)
            return "".join(reversed(chars))
        for char in letters:
            nxt = tuple(atom.step(s, char) for atom, s in zip(atoms, state, strict=True))
            if nxt not in parents:
                if len(parents) >= STATE_BUDGET:
                    raise Undecided(f"more than {STATE_BUDGET} automaton states")
                parents[nxt] = (state, char)
                queue.append(nxt)
    return None


@dataclass(frozen=True, slots=True)
class _Requirement:
    condition: Condition
    want: bool  # an Allow's condition must hold (True); the Deny condition chosen to fail must not (False)
    atoms: tuple[Atom, ...] | None  # None for the Null check (presence only)

    def order(self) -> tuple[str, str, tuple[str, ...], bool]:
        c = self.condition
        return (c.key, c.operator, c.values or (), self.want)

    def on_absent(self) -> bool:
        return self.condition.holds(None, Effect.ALLOW if self.want else Effect.DENY) is self.want

    def on_present(self) -> bool:
        """For the Null check: whether a present key meets the requirement."""
        return self.condition.holds(("present",), Effect.ALLOW) is self.want

    def element_clause(self, want_element: bool) -> Clause:
        assert self.atoms is not None
        negated = FAMILIES[self.condition.base].negated
        return Clause(self.atoms, want_element != negated)


@dataclass(frozen=True, slots=True)
class Witness:
    """A request the policy allows: who, what, the context, and the Allow statement that grants it."""

    statement: int
    sid: str | None
    principal: Principal
    action: str
    context: Mapping[str, tuple[str, ...] | None]  # lower-cased key -> values, None when absent
    unmodelled: tuple[str, ...] = ()  # condition keys whose conditions were read as met, unsolved
    undecided: str | None = None  # set when the search gave up: the request is presumed, not found


class _KeySolver:
    """Decides, for one key, whether some value (or its absence) meets a set of requirements."""

    def __init__(self, key: str, multi: bool, domain: Domain | None) -> None:
        self.key = key
        self.multi = multi
        self.domain = domain or Domain()
        self.cache: dict[frozenset[_Requirement], tuple[bool, tuple[str, ...] | None]] = {}

    def solve(self, requirements: frozenset[_Requirement]) -> tuple[bool, tuple[str, ...] | None]:
        """(satisfiable, value: None for absent or the key's values)."""
        if requirements not in self.cache:
            self.cache[requirements] = self._solve(requirements)
        return self.cache[requirements]

    def _solve(self, requirements: frozenset[_Requirement]) -> tuple[bool, tuple[str, ...] | None]:
        # A present value from the examples reads best; then absence; then any present value.
        present_ok = all(r.on_present() for r in requirements if r.atoms is None)
        # In a fixed order, so that the same policy always gives the same witness.
        valued = sorted((r for r in requirements if r.atoms is not None), key=_Requirement.order)
        if present_ok:
            value = self._present(valued, examples_only=True)
            if value is not None:
                return True, value
        if all(r.on_absent() for r in requirements):
            return True, None
        if present_ok:
            value = self._present(valued, examples_only=False)
            if value is not None:
                return True, value
        return False, None

    def _present(self, requirements: list[_Requirement], *, examples_only: bool) -> tuple[str, ...] | None:
        universal = list(self.domain.clauses)  # every value must satisfy these
        existential: list[Clause] = []  # some value must satisfy each of these
        for r in requirements:
            qualifier = r.condition.qualifier
            if not self.multi:
                universal.append(r.element_clause(r.want))
            elif qualifier == ANY_VALUE:
                (existential if r.want else universal).append(r.element_clause(r.want))
            elif qualifier == ALL_VALUES:
                (universal if r.want else existential).append(r.element_clause(r.want))
            else:
                # A plain operator on several values: the evaluator only trusts an answer both readings
                # ("any value", "every value") give, so one value meeting it is what the search needs.
                existential.append(r.element_clause(r.want))
        demands: list[Clause | None] = list(existential) or [None]
        values: list[str] = []
        examples = self._examples(requirements)
        for demand in demands:
            clauses = universal + ([demand] if demand is not None else [])
            if examples_only:
                found = next((e for e in examples if all(c.holds(e) for c in clauses)), None)
            else:
                found = _solve_string(clauses, examples)
            if found is None:
                return None
            if found not in values:
                values.append(found)
        return tuple(values)

    def _examples(self, requirements: list[_Requirement]) -> list[str]:
        examples = list(self.domain.examples)
        for r in requirements:
            for operand in r.condition.values or ():
                if "*" in operand or "?" in operand:
                    examples.append(operand.replace("*", "").replace("?", "x"))
                examples.append(operand)
        return examples


def _keys_of(statements: Iterable[Statement]) -> dict[str, list[Condition]]:
    keys: dict[str, list[Condition]] = {}
    for statement in statements:
        for condition in statement.conditions:
            keys.setdefault(condition.key, []).append(condition)
    return keys


class Search:
    """Questions over one policy: which requests, from whom, for what, under which key restrictions."""

    def __init__(
        self, policy: Policy, domains: Mapping[str, Domain] | None = None, *, like: Search | None = None
    ) -> None:
        self.policy = policy
        self.domains = {k.lower(): v for k, v in (domains or {}).items()}
        by_key = _keys_of(policy.statements)
        # A condition the search cannot model (a number, a date, an address, a malformed ARN pattern) is
        # dropped: read as met in an Allow and as failing in a Deny (the reading that allows most). The
        # other conditions on its key are still solved, so adding such a Deny never unpins a role.
        self.opaque = {
            c for conditions in by_key.values() for c in conditions
            if not c.known or (c.base != NULL and condition_atoms(c) is None)
        }
        self.solvers = {
            key: _KeySolver(
                key,
                key in MULTI_VALUED_KEYS or any(c.qualifier for c in by_key.get(key, [])),
                self.domains.get(key),
            )
            for key in set(by_key) | set(self.domains)
        }
        self._requirements: dict[tuple[Condition, bool], _Requirement] = {}
        # Which statements name whom and what does not depend on the domains: shared with `like`.
        self._principal: dict[tuple[int, Principal], Maybe] = like._principal if like else {}
        self._action: dict[tuple[int, str], Maybe] = like._action if like else {}

    def _principal_matches(self, statement: Statement, principal: Principal) -> Maybe:
        key = (statement.index, principal)
        if key not in self._principal:
            self._principal[key] = statement.principal_matches(principal)
        return self._principal[key]

    def _action_matches(self, statement: Statement, action: str) -> Maybe:
        key = (statement.index, action)
        if key not in self._action:
            self._action[key] = statement.action_matches(action)
        return self._action[key]

    def closes(self, condition: Condition, effect: Effect) -> bool:
        """Whether this one condition, within the domains, rules out every request by itself: an Allow's
        condition that no value (nor absence) meets, or a Deny's that every value (and absence) meets."""
        if condition in self.opaque:
            return False
        requirement = self._requirement(condition, effect is Effect.ALLOW)
        try:
            return not self.solvers[condition.key].solve(frozenset({requirement}))[0]
        except Undecided:
            return False

    def may_apply(self, principal: Principal, action: str | None = None) -> bool:
        """Whether some Allow may apply to `principal` (and `action`) at all: a cheap test before a search."""
        return any(
            _reads_as(self._principal_matches(s, principal), Effect.ALLOW)
            and (action is None or _reads_as(self._action_matches(s, action), Effect.ALLOW))
            for s in self.policy.allows
        )

    def _requirement(self, condition: Condition, want: bool) -> _Requirement:
        found = self._requirements.get((condition, want))
        if found is None:
            atoms = None if condition.base == NULL else condition_atoms(condition)
            found = _Requirement(condition, want, atoms)
            self._requirements[(condition, want)] = found
        return found

    def find(
        self, principal: Principal, actions: Iterable[str], statements: Iterable[int] | None = None
    ) -> Witness | None:
        """A request from `principal` for one of `actions`, within the domains, that the policy allows
        (through one of `statements`, when given); None when there is none."""
        only = None if statements is None else set(statements)
        for action in actions:
            denies = [
                d for d in self.policy.denies
                if self._principal_matches(d, principal) is True and self._action_matches(d, action) is True
            ]
            for allow in self.policy.allows:
                if only is not None and allow.index not in only:
                    continue
                if not (_reads_as(self._principal_matches(allow, principal), Effect.ALLOW)
                        and _reads_as(self._action_matches(allow, action), Effect.ALLOW)):
                    continue
                try:
                    found = self._through(allow, denies, principal, action)
                except Undecided as exc:
                    return Witness(allow.index, allow.sid, principal, action, {}, (), str(exc))
                if found is not None:
                    return found
        return None

    def _through(
        self, allow: Statement, denies: list[Statement], principal: Principal, action: str
    ) -> Witness | None:
        required: dict[str, set[_Requirement]] = {key: set() for key in self.domains}
        if allow.conditions_readable:
            for condition in allow.conditions:
                if condition not in self.opaque:
                    required.setdefault(condition.key, set()).add(self._requirement(condition, True))
        choices: list[list[_Requirement]] = []
        for deny in denies:
            if not deny.conditions_readable or any(c in self.opaque for c in deny.conditions):
                continue  # a condition read as failing: this Deny does not apply
            if not deny.conditions:
                return None  # denied whatever the context
            choices.append([self._requirement(c, False) for c in deny.conditions])
        choices.sort(key=len)
        nodes = [0]

        def satisfiable(key: str) -> bool:
            return self.solvers[key].solve(frozenset(required[key]))[0]

        def search(depth: int) -> bool:
            nodes[0] += 1
            if nodes[0] > NODE_BUDGET:
                raise Undecided(f"more than {NODE_BUDGET} combinations of Deny conditions")
            if depth == len(choices):
                return True
            for requirement in choices[depth]:
                key = requirement.condition.key
                bucket = required.setdefault(key, set())
                if requirement in bucket:
                    if search(depth + 1):
                        return True
                    continue
                bucket.add(requirement)
                if satisfiable(key) and search(depth + 1):
                    return True
                bucket.discard(requirement)
            return False

        if not all(satisfiable(key) for key in required) or not search(0):
            return None
        context = {key: self.solvers[key].solve(frozenset(reqs))[1] for key, reqs in sorted(required.items())}
        unmodelled = tuple(sorted({c.key for c in allow.conditions if c in self.opaque}))
        return Witness(allow.index, allow.sid, principal, action, context, unmodelled)
