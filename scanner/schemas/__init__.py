"""The JSON Schemas shipped with the package, and validation that reports every problem at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from scanner.errors import ScannerError
from scanner.terminal import excerpt
from scanner.yamlfile import JsonPath, format_json_path


@cache
def load(name: str) -> dict[str, Any]:
    """A schema by name: `config`, `rule`, `results`, `snapshot`, `suppressions`."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def problems(
    instance: Any, name: str, *, where: Callable[[JsonPath], str]
) -> list[str]:
    """Every schema violation as `<where>: <$.json.path>: <what was expected>`, in document order."""
    found = []
    for error in validator(name).iter_errors(instance):
        for path, message in _explain(error):
            found.append((tuple(str(p) for p in path), f"{where(path)}: {format_json_path(path)}: {message}"))
    found.sort(key=lambda item: item[0])
    return [message for _, message in found]


def validate(
    instance: Any,
    name: str,
    *,
    source: str,
    error: type[ScannerError],
    where: Callable[[JsonPath], str] | None = None,
) -> None:
    """Raise `error` listing every problem when `instance` breaks schema `name`."""
    found = problems(instance, name, where=where or (lambda _path: source))
    if found:
        noun = "problem" if len(found) == 1 else "problems"
        raise error(f"{source}: {len(found)} {noun}:\n" + "\n".join(f"  {p}" for p in found))


def _explain(error: ValidationError) -> Iterable[tuple[JsonPath, str]]:
    """Turn one jsonschema error into messages a person can act on."""
    path: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in error.schema.get("properties", {})]
        for key in extra:
            expected = f"one of: {', '.join(allowed)}" if allowed else "no keys here"
            yield (*path, key), f"unknown key '{excerpt(key)}' (expected {expected})"  # a key is text from the file
        return
    if error.validator == "anyOf" and error.context and all(e.validator == "required" for e in error.context):
        names = sorted({str(name) for e in error.context for name in e.validator_value})
        yield path, f"needs at least one of: {', '.join(names)}"
        return
    if error.validator in ("oneOf", "anyOf") and error.context:
        # The branch that got furthest is the one the author meant; raw union messages confuse.
        yield from _explain(best_match(error.context))
        return
    if error.validator == "required":
        yield path, error.message.replace("is a required property", "is required but missing")
        return
    if error.validator == "enum":
        choices = ", ".join(json.dumps(choice) for choice in error.validator_value)
        yield path, f"{json.dumps(error.instance)} is not one of: {choices}"
        return
    yield path, error.message
