"""Message templates: a rule's failing facts as one plain sentence.

A rule's `message` is text with `{field}` placeholders, e.g.
`"{name} in {account_id} trusts {trust.allowed_principals}"`. A field is a dotted fact path of the rule's
resource type (through an array it collects that fact of every item), or one of CONTEXT_FIELDS. `{{` and
`}}` are literal braces. Nothing else: no indexing, no attribute access, no format specs, no filters,
so a template runs no code and a value (AWS data, possibly hostile) is only ever inserted as text; each
writer escapes the sentence as it escapes any other text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONTEXT_FIELDS = {
    "account_id": "the id of the account the resource is in (the management account for the organization)",
    "account_name": "that account's name",
    "resource_name": "the resource's name (a role's name, an account's name, the organization's id)",
    "resource_arn": "the resource's ARN",
}
"""Fields every resource type provides besides its facts."""

MAX_LIST_ITEMS = 5  # then "and N more"
MAX_VALUE = 300  # characters of one inserted value

_FIELD = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")


class TemplateError(ValueError):
    """A template that does not parse or names a field its resource type does not provide."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and field paths, alternating (`parts[0]` is text)."""

    parts: tuple[str | tuple[str, ...], ...]

    @property
    def fields(self) -> tuple[tuple[str, ...], ...]:
        return tuple(part for part in self.parts if isinstance(part, tuple))


def parse(text: str) -> Template:
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index + 1 : index + 2] == char:
            literal.append(char)
            index += 2
            continue
        if char == "}":
            raise TemplateError(f"a lone '}}' at character {index + 1} (write '}}}}' for a brace)")
        if char == "{":
            end = text.find("}", index)
            name = text[index + 1 : end] if end != -1 else ""
            if end == -1 or not _FIELD.fullmatch(name):
                shown = text[index : end + 1] if end != -1 else text[index:]
                raise TemplateError(
                    f"{shown!r} at character {index + 1} is not a field: write {{fact.path}} with lower-case "
                    "names and dots only (no spaces, indexes, format specs or calls), or '{{' for a brace"
                )
            parts.append("".join(literal))
            literal.clear()
            parts.append(tuple(name.split(".")))
            index = end + 1
            continue
        literal.append(char)
        index += 1
    parts.append("".join(literal))
    return Template(tuple(parts))


def check(template: Template, fact_schema: Mapping[str, Any]) -> list[str]:
    """Problems with each field that neither is a context field nor names a fact in `fact_schema`."""
    problems = []
    for path in template.fields:
        if len(path) == 1 and path[0] in CONTEXT_FIELDS:
            continue
        if not schema_has(fact_schema, path):
            problems.append(".".join(path))
    return problems


def schema_has(schema: Mapping[str, Any], path: Sequence[object], *, items: object = None) -> bool:
    """Whether the fact `path` exists in a resource type's fact schema: the one walk for templates and rules.

    `items` is the path part a rule writes to step into an array (the engine's ITEMS); a template names no
    such part, so without it arrays are stepped through: `statements.sid` is every sid."""
    node: Any = schema
    for part in path:
        while items is None and isinstance(node, dict) and "items" in node and "properties" not in node:
            node = node["items"]
        if not isinstance(node, dict):
            return False
        if items is not None and part == items:
            node = node.get("items")
            if node is None:
                return False
            continue
        properties = node.get("properties", {})
        if part in properties:
            node = properties[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


def render(template: Template, facts: Mapping[str, Any], context: Mapping[str, str]) -> str:
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif len(part) == 1 and part[0] in CONTEXT_FIELDS:
            out.append(_text(context.get(part[0], "")))
        else:
            out.append(_text(_lookup(facts, part)))
    return "".join(out)


_MISSING = object()


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for index, part in enumerate(path):
        if isinstance(value, list):
            found = [_lookup(item, path[index:]) for item in value]
            return [item for item in _flatten(found) if item is not None and item is not _MISSING]
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _flatten(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _text(value: Any) -> str:
    if value is _MISSING:
        return "unknown"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if not value:
            return "none"
        shown = [_text(item) for item in value[:MAX_LIST_ITEMS]]
        more = len(value) - MAX_LIST_ITEMS
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    if isinstance(value, Mapping):
        # A template that names an object gets its leaf values: the loader allows it, a sentence stays text.
        return _text([item for item in value.values() if not isinstance(item, (Mapping, list))])
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
