"""Suppressions: accepted risks with a reason, an owner and an expiry date.

A matched, unexpired suppression turns a `fail` into `suppressed`; it is counted apart and shown in
every report, never dropped. An expired one no longer suppresses: the finding fails again and says
which suppression expired and when. A suppression that matched nothing is reported as unused.
Suppressions never hide an `error`: missing data is not a risk anyone can accept.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from scanner import files, schemas, yamlfile
from scanner.errors import SuppressionError
from scanner.model import Result, ScanResult, Status, Suppression

WHAT = "suppressions file"


def read_suppressions(path: str | Path) -> bytes:
    """The file's bytes (a regular file within the YAML limit): read once, parsed and kept in the run."""
    return files.read_limited(path, what=WHAT, limit=files.MAX_YAML_BYTES, error=SuppressionError)


def load_suppressions(path: str | Path) -> tuple[Suppression, ...]:
    return parse_suppressions(read_suppressions(path), str(path))


def parse_suppressions(raw: bytes, source: str) -> tuple[Suppression, ...]:
    """A suppressions file's bytes, named `source` in messages and in each entry's `source`."""
    document = yamlfile.parse_bytes(raw, source, what=WHAT, error=SuppressionError)
    data = {} if document.data is None else document.data
    schemas.validate(data, "suppressions", source=source, error=SuppressionError, where=document.where)
    return tuple(
        Suppression(
            rule_id=entry["rule"],
            reason=entry["reason"].strip(),
            owner=entry["owner"],
            expires=entry["expires"],
            account_id=entry.get("account"),
            resource=entry.get("resource"),
            source=document.where(("suppressions", index)),
        )
        for index, entry in enumerate(data.get("suppressions", []))
    )


def matches(suppression: Suppression, result: Result) -> bool:
    if suppression.rule_id != result.rule_id:
        return False
    if suppression.account_id is not None and suppression.account_id != result.account_id:
        return False
    # fnmatchcase: ARNs are case-sensitive, and a pattern must not match more than its author wrote.
    return suppression.resource is None or fnmatch.fnmatchcase(result.resource_arn, suppression.resource)


def is_expired(suppression: Suppression, today: date) -> bool:
    return date.fromisoformat(suppression.expires) < today


def apply_suppressions(scan: ScanResult, suppressions: Sequence[Suppression], *, today: date) -> ScanResult:
    """Suppress the fails that an unexpired entry covers; the first matching entry in the file wins."""
    used: set[Suppression] = set()
    results = []
    for result in scan.results:
        if result.status is not Status.FAIL:
            results.append(result)
            continue
        matching = [s for s in suppressions if matches(s, result)]
        used.update(matching)
        active = next((s for s in matching if not is_expired(s, today)), None)
        if active is not None:
            results.append(replace(result, status=Status.SUPPRESSED, suppression=active))
        elif matching:
            results.append(replace(result, expired_suppression=matching[0]))
        else:
            results.append(result)
    unused = tuple(s for s in suppressions if s not in used)
    return replace(scan, results=tuple(results), unused_suppressions=unused)
