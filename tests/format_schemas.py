"""Validators for the OCSF, OSCAL and ASFF documents, against the vendored official schemas and botocore's model.

OSCAL's schema writes its token and name patterns with Unicode property classes (`\\p{L}`, `\\p{N}`), which
ECMA-262 (JSON Schema's regex dialect, with the `u` flag) has and Python's `re` does not: `re` refuses to
compile them, and jsonschema uses `re`. The choice here is the `regex` engine, plugged in for the `pattern`
keyword, rather than rewriting the patterns: `regex` implements `\\p{..}` from the Unicode database itself,
so the schema is used exactly as NIST publishes it, byte for byte, and no hand-made translation of Unicode
categories into ranges can drift from the standard. The cost is one test dependency (`regex`, a wheel).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema
import regex
from botocore.validate import ParamValidator
from jsonschema import Draft7Validator, Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

DATA = Path(__file__).parent / "data"
OCSF_SCHEMA = json.loads((DATA / "ocsf" / "compliance_finding-1.8.0.schema.json").read_text())
OSCAL_SCHEMA = json.loads((DATA / "oscal" / "oscal_complete_schema-1.2.3.json").read_text())

OCSF = Draft202012Validator(OCSF_SCHEMA, format_checker=jsonschema.FormatChecker())


def _unicode_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance[:200]!r} does not match {pattern!r}")


OscalValidator = validators.extend(Draft7Validator, {"pattern": _unicode_pattern})
OSCAL = OscalValidator(OSCAL_SCHEMA, format_checker=jsonschema.FormatChecker())

_SECURITY_HUB = botocore.session.get_session().get_service_model("securityhub")
BATCH_IMPORT_INPUT = _SECURITY_HUB.operation_model("BatchImportFindings").input_shape


def _describe(error: ValidationError) -> str:
    deepest = error
    while deepest.context:
        deepest = min(deepest.context, key=lambda e: -len(list(e.absolute_path)))
    return f"{list(error.absolute_path)}: {error.message[:300]} / {list(deepest.absolute_path)}: {deepest.message[:300]}"


def ocsf_errors(event: dict[str, Any]) -> list[str]:
    return [_describe(e) for e in OCSF.iter_errors(event)]


def oscal_errors(document: dict[str, Any]) -> list[str]:
    return [_describe(e) for e in OSCAL.iter_errors(document)]


def asff_errors(finding: dict[str, Any]) -> str | None:
    """botocore's ParamValidator on one finding as BatchImportFindings' input; None when it fits."""
    report = ParamValidator().validate({"Findings": [finding]}, BATCH_IMPORT_INPUT)
    return report.generate_report() if report.has_errors() else None
