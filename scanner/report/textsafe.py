"""Making AWS-supplied text safe for formats with stricter string rules than JSON's.

Every string a writer takes from AWS (role descriptions, tag values, account names, policy documents) may
hold markup, control characters, lone surrogates or 100 KB of anything. JSON can carry all of those
escaped, but not every consumer or schema accepts them: a lone surrogate is not Unicode (strict parsers
refuse it), OSCAL's string types forbid leading and trailing whitespace and (in ECMA-262 regexes, which
schema validators outside Python use) any line terminator in a single-line field, and Security Hub caps
the length of most fields. Markup needs no treatment here: none of these formats renders it, and each
consumer escapes it when it does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, and the two Unicode line terminators ECMA-262's `.` does not match.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")


def unicode_only(text: str) -> str:
    """Lone surrogates replaced by U+FFFD: the text can then be encoded as UTF-8."""
    # Nearly every AWS string is ASCII; isascii() answers in C without a regex scan.
    return text if text.isascii() else _SURROGATES.sub(REPLACEMENT, text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; a cut is marked with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def line(text: str, limit: int | None = None, *, empty: str = "-") -> str:
    """One line: no control character, whitespace runs collapsed to one space, no leading or trailing
    whitespace, never empty (`empty` stands in), at most `limit` characters."""
    cleaned = _WHITESPACE.sub(" ", _CONTROLS.sub(" ", unicode_only(text))).strip() or empty
    return clip(cleaned, limit) if limit is not None else cleaned


def block(text: str, limit: int | None = None, *, empty: str = "-") -> str:
    """Several lines: newlines and tabs kept (CR LF and CR become LF), other controls become spaces,
    no leading or trailing whitespace, never empty."""
    text = unicode_only(text).replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _CONTROLS.sub(" ", text).strip() or empty
    return clip(cleaned, limit) if limit is not None else cleaned


def scrub(value: Any) -> Any:
    """A JSON value with every string (keys too) made valid Unicode; nothing else changes."""
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _SURROGATES.sub(REPLACEMENT, value)
    if kind is dict or isinstance(value, Mapping):
        return {
            (key if type(key) is str and key.isascii() else unicode_only(str(key))): scrub(item)
            for key, item in value.items()
        }
    if kind is list or kind is tuple:
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return unicode_only(value)
    return value
