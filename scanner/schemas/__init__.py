"""The JSON Schemas shipped with the package, and validation that reports every problem at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import re2
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


def _listed(value: object) -> list[Any]:
    """A keyword's value that the schema gives as a list (`required`, `enum`); jsonschema types it loosely."""
    return list(value) if isinstance(value, (list, tuple)) else []


def _explain(error: ValidationError) -> Iterable[tuple[JsonPath, str]]:
    """Turn one jsonschema error into messages a person can act on."""
    path: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        properties = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        allowed = sorted(properties)
        extra = [key for key in error.instance if key not in properties]
        for key in extra:
            expected = f"one of: {', '.join(allowed)}" if allowed else "no keys here"
            yield (*path, key), f"unknown key '{excerpt(key)}' (expected {expected})"  # a key is text from the file
        return
    if error.validator == "anyOf" and error.context and all(e.validator == "required" for e in error.context):
        names = sorted({str(name) for e in error.context for name in _listed(e.validator_value)})
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
        choices = ", ".join(json.dumps(choice) for choice in _listed(error.validator_value))
        yield path, f"{json.dumps(error.instance)} is not one of: {choices}"
        return
    yield path, error.message


# --------------------------------------------------------------------------------------------
# Rules' own schemas (`where`, `expect`): their regular expressions run on RE2, which matches in time
# linear in the text and cannot backtrack, so no pattern a rule author writes can make a scan hang on a
# long role name. Python's `re` (jsonschema's default) backtracks: `^([a-z]+-?)+$` is exponential.
# --------------------------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported by the rule loader, not on stderr


class RulePatternError(ValueError):
    """A rule's regular expression that RE2 cannot run (a backreference, a lookaround, ...)."""


@cache
def rule_pattern(text: str) -> Any:
    """`text` compiled by RE2; raises RulePatternError saying why it cannot be."""
    try:
        return re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RulePatternError(
            f"{reason} (rule patterns run on RE2, which matches in linear time: backreferences and "
            "lookaround are not supported)"
        ) from None


def _search(pattern: str, text: str) -> bool:
    return rule_pattern(pattern).search(text) is not None


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties_keyword(
    validator: Any, pattern_properties: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _is_rule_regex(instance: object) -> bool:
    if isinstance(instance, str):
        rule_pattern(instance)  # raises RulePatternError, which the format checker reports
    return True


RULE_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
RULE_FORMAT_CHECKER.checks("regex", raises=RulePatternError)(_is_rule_regex)

RuleSchemaValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # untyped in types-jsonschema
    jsonschema.Draft202012Validator,
    {"pattern": _pattern_keyword, "patternProperties": _pattern_properties_keyword},
)
"""Draft 2020-12 with `pattern` and `patternProperties` on RE2: what evaluates rules' where/expect."""


def rule_schema_validator(schema: Any) -> jsonschema.protocols.Validator:
    validator: jsonschema.protocols.Validator = RuleSchemaValidator(schema, format_checker=RULE_FORMAT_CHECKER)
    return validator


def rule_schema_problems(schema: Any) -> list[tuple[JsonPath, str]]:
    """Why `schema` cannot be a rule's where/expect: not valid JSON Schema, or a regex RE2 refuses.

    (path inside the schema, message) pairs; the metaschema marks every regular expression (`pattern`,
    the keys of `patternProperties`) with format "regex", which is checked here on RE2.
    """
    meta = jsonschema.Draft202012Validator(
        jsonschema.Draft202012Validator.META_SCHEMA, format_checker=RULE_FORMAT_CHECKER
    )
    found = []
    for error in meta.iter_errors(schema):
        path: JsonPath = tuple(error.absolute_path)
        if error.validator == "format" and isinstance(error.cause, RulePatternError):
            message = f"the regular expression {error.instance!r} is refused: {error.cause}"
        elif error.validator == "propertyNames" and error.context:
            # patternProperties' keys: the inner error names the key that RE2 refused.
            inner = error.context[0]
            cause = inner.cause if isinstance(inner.cause, RulePatternError) else inner.message
            message = f"the patternProperties key {inner.instance!r} is refused: {cause}"
        else:
            message = f"not a valid JSON Schema: {error.message}"
        found.append((path, message))
    return sorted(found, key=lambda item: [str(p) for p in item[0]])
