"""What GitHub code scanning demands of an uploaded SARIF file beyond the SARIF schema.

`github_problems(sarif)` returns one line per violation (an empty list means GitHub would take it). It
checks GitHub's documented requirements and limits (relative artifact URIs with a start line, rule and
result fields it shows or ranks by, results, runs, tags and compressed size) and this project's own
conventions for GitHub (the resource ARN as a logical location, `level` following `security-severity`).
The limits are module constants so that tests can make them small.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from typing import Any

MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_LOCATIONS = 1_000
MAX_TAGS = 20
MAX_GZIP_BYTES = 10 * 1024 * 1024
PRECISIONS = ("high", "very-high")
LEVELS = ("error", "warning", "note")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _get(document: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(document, list) or key >= len(document):
                return None
        elif not isinstance(document, dict):
            return None
        document = document[key] if isinstance(key, int) else document.get(key)
    return document


def _text(document: Any, *path: str | int) -> bool:
    value = _get(document, *path)
    return isinstance(value, str) and bool(value.strip())


def level_for(security_severity: float) -> str:
    """GitHub's bands: >= 7.0 high or critical, >= 4.0 medium, else low (and 0.0 none)."""
    if security_severity >= 7.0:
        return "error"
    if security_severity >= 4.0:
        return "warning"
    return "note"


def uri_problem(uri: Any) -> str | None:
    """Why `uri` is not a relative, scheme-less path GitHub can resolve in the repository, if it is not."""
    if not isinstance(uri, str) or not uri:
        return "artifactLocation.uri is missing"
    if _SCHEME.match(uri):
        return f"artifactLocation.uri {uri!r} has a scheme (it must be a relative path)"
    if uri.startswith(("/", "\\")):
        return f"artifactLocation.uri {uri!r} is absolute (it must be relative to the repository root)"
    if "\\" in uri or any(c.isspace() for c in uri):
        return f"artifactLocation.uri {uri!r} has a backslash or whitespace"
    if ".." in uri.split("/"):
        return f"artifactLocation.uri {uri!r} leaves the repository with '..'"
    return None


def _rule_problems(where: str, rule: Any) -> list[str]:
    problems = []
    for field in ("name",):
        if not _text(rule, field):
            problems.append(f"{where}: no {field}")
    for path in (("shortDescription", "text"), ("fullDescription", "text"), ("help", "text"), ("help", "markdown")):
        if not _text(rule, *path):
            problems.append(f"{where}: no {'.'.join(path)}")
    help_uri = _get(rule, "helpUri")
    if not (isinstance(help_uri, str) and help_uri.startswith("https://")):
        problems.append(f"{where}: no https helpUri")
    if _get(rule, "defaultConfiguration", "level") not in LEVELS:
        problems.append(f"{where}: defaultConfiguration.level is not one of {', '.join(LEVELS)}")
    tags = _get(rule, "properties", "tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(f"{where}: properties.tags is not a list of strings")
    else:
        if "security" not in tags:
            problems.append(f"{where}: properties.tags lacks 'security' (GitHub files it elsewhere)")
        if len(tags) > MAX_TAGS:
            problems.append(f"{where}: {len(tags)} tags, more than GitHub's {MAX_TAGS}")
        if len(set(tags)) != len(tags):
            problems.append(f"{where}: duplicate tags")
    if _get(rule, "properties", "precision") not in PRECISIONS:
        problems.append(f"{where}: properties.precision is not one of {', '.join(PRECISIONS)}")
    severity = _get(rule, "properties", "security-severity")
    if not isinstance(severity, str):
        problems.append(f"{where}: properties.security-severity is missing or not a string")
    else:
        try:
            score = float(severity)
        except ValueError:
            problems.append(f"{where}: properties.security-severity {severity!r} is not a number")
        else:
            if not 0.0 <= score <= 10.0:
                problems.append(f"{where}: properties.security-severity {severity} is outside 0.0-10.0")
            elif _get(rule, "defaultConfiguration", "level") != level_for(score):
                problems.append(f"{where}: defaultConfiguration.level does not follow security-severity {severity}")
    return problems


def _result_problems(where: str, result: Any, rules: dict[str, tuple[int, Any]]) -> list[str]:
    problems = []
    rule_id = _get(result, "ruleId")
    if not isinstance(rule_id, str) or rule_id not in rules:
        problems.append(f"{where}: ruleId {rule_id!r} is not a rule of tool.driver.rules")
        rule_index, rule = None, None
    else:
        rule_index, rule = rules[rule_id]
        index = _get(result, "ruleIndex")
        if index is not None and index != rule_index:
            problems.append(f"{where}: ruleIndex {index} is not the index of {rule_id} ({rule_index})")
    if not _text(result, "message", "text"):
        problems.append(f"{where}: no message.text")
    locations = _get(result, "locations")
    if not isinstance(locations, list) or not locations:
        problems.append(f"{where}: no locations (GitHub needs a physical location)")
        locations = []
    if len(locations) > MAX_LOCATIONS:
        problems.append(f"{where}: {len(locations)} locations, more than GitHub's {MAX_LOCATIONS}")
    for i, location in enumerate(locations):
        physical = _get(location, "physicalLocation")
        if not isinstance(physical, dict):
            problems.append(f"{where}.locations[{i}]: no physicalLocation")
            continue
        problem = uri_problem(_get(physical, "artifactLocation", "uri"))
        if problem:
            problems.append(f"{where}.locations[{i}]: {problem}")
        start = _get(physical, "region", "startLine")
        if not isinstance(start, int) or isinstance(start, bool) or start < 1:
            problems.append(f"{where}.locations[{i}]: no region.startLine >= 1")
    logical = [loc for location in locations for loc in (_get(location, "logicalLocations") or [])]
    if not any(_get(loc, "kind") == "resource" and _text(loc, "fullyQualifiedName") for loc in logical):
        problems.append(f"{where}: no logical location of kind 'resource' with the resource's ARN")
    if not _text(result, "partialFingerprints", "primaryLocationLineHash"):
        problems.append(f"{where}: no partialFingerprints.primaryLocationLineHash")
    if rule is not None:
        level = _get(result, "level")
        try:
            expected = level_for(float(_get(rule, "properties", "security-severity")))
        except (TypeError, ValueError):
            expected = None
        if expected and level != expected:
            problems.append(f"{where}: level {level!r} does not follow its rule's security-severity ({expected})")
    return problems


def github_problems(sarif: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if _get(sarif, "version") != "2.1.0":
        problems.append("version is not 2.1.0")
    runs = _get(sarif, "runs")
    if not isinstance(runs, list) or not runs:
        return [*problems, "no runs"]
    if len(runs) > MAX_RUNS:
        problems.append(f"{len(runs)} runs, more than GitHub's {MAX_RUNS}")
    categories = Counter(
        (_get(run, "tool", "driver", "name"), _get(run, "automationDetails", "id")) for run in runs
    )
    for (tool, category), count in sorted(categories.items(), key=str):
        if count > 1:
            problems.append(f"{count} runs of {tool} share the category {category!r} (GitHub rejects the file)")
    for r, run in enumerate(runs):
        where = f"runs[{r}]"
        if not _text(run, "tool", "driver", "name"):
            problems.append(f"{where}: no tool.driver.name")
        if not _text(run, "automationDetails", "id"):
            problems.append(f"{where}: no automationDetails.id (the category alerts are tracked under)")
        rules = _get(run, "tool", "driver", "rules") or []
        if len(rules) > MAX_RULES:
            problems.append(f"{where}: {len(rules)} rules, more than GitHub's {MAX_RULES}")
        by_id: dict[str, tuple[int, Any]] = {}
        for i, rule in enumerate(rules):
            rule_id = _get(rule, "id")
            if not isinstance(rule_id, str) or not rule_id:
                problems.append(f"{where}.tool.driver.rules[{i}]: no id")
                continue
            if rule_id in by_id:
                problems.append(f"{where}.tool.driver.rules[{i}]: duplicate rule id {rule_id}")
                continue
            by_id[rule_id] = (i, rule)
            problems.extend(_rule_problems(f"{where}.tool.driver.rules[{i}] ({rule_id})", rule))
        results = _get(run, "results") or []
        if len(results) > MAX_RESULTS:
            problems.append(f"{where}: {len(results)} results, more than GitHub's {MAX_RESULTS}")
        fingerprints: Counter[tuple[Any, Any]] = Counter()
        for i, result in enumerate(results):
            problems.extend(_result_problems(f"{where}.results[{i}]", result, by_id))
            fingerprints[(_get(result, "ruleId"), _get(result, "partialFingerprints", "primaryLocationLineHash"))] += 1
        for (rule_id, value), count in sorted(fingerprints.items(), key=str):
            if value is not None and count > 1:
                problems.append(f"{where}: {count} results of {rule_id} share the fingerprint {value} (merged into one)")
    size = len(gzip.compress(json.dumps(sarif).encode("utf-8"), mtime=0))
    if size > MAX_GZIP_BYTES:
        problems.append(f"{size} bytes compressed, more than GitHub's {MAX_GZIP_BYTES}")
    return problems
