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
