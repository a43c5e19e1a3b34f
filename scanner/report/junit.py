"""results.junit.xml: JUnit XML, so that a CI system shows each rule as a test suite.

One `<testsuite>` per rule (every loaded rule, also one without results), named by rule id and title,
and one `<testcase>` per result (classname: the rule id; name: account id and resource name):

- `fail` -> `<failure message=... type=<severity>>` with the evidence as text;
- `error` -> `<error message=... type=<severity>>` with the causes as text;
- `suppressed` and `skipped` -> `<skipped message=...>` (a suppression says who accepted it until when);
- `pass` -> an empty testcase.

A failed AWS read (a collection error) is not a rule's result, but a CI must not take an incomplete scan
for a clean one: when there are any, a suite `artifact-scan: collection` holds one `<error>` testcase
per failed read. Counts are in the attributes of every suite and of `<testsuites>`.

Audit workflow: with a baseline, every finding's text says `new since the baseline` or `unchanged since
the baseline` and when it was first seen, and a suite `artifact-scan: since baseline` holds one passing testcase per resolved
finding (it failed in the baseline run and no longer does) with the drift since the baseline in its
`<system-out>`. A fail whose suppression expired starts its failure message with which entry expired
and when. Expired and unused suppressions are listed in the `<system-out>` of a last suite,
`artifact-scan: suppressions`, which has no testcases.

ElementTree escapes markup; characters XML 1.0 cannot carry at all (most control characters, lone
surrogates) are replaced by U+FFFD first so that the file always parses. Order is deterministic: suites
by rule id, testcases by account, resource and status.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from scanner.model import CollectionError, ResolvedFinding, Result, Rule, ScanResult, Status, Suppression
from scanner.report import wording, writer
from scanner.report.json_report import summary

TOOL_NAME = "artifact-scan"
COLLECTION_SUITE = f"{TOOL_NAME}: collection"
BASELINE_SUITE = f"{TOOL_NAME}: since baseline"
SUPPRESSIONS_SUITE = f"{TOOL_NAME}: suppressions"
MAX_MESSAGE = 500  # characters of a message attribute (the full text is in the element's body)

# Everything XML 1.0 allows is \t \n \r, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: object) -> str:
    """Text XML 1.0 can carry: anything it cannot is replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(text))


def _attribute(text: str) -> str:
    """A one-line, bounded attribute value."""
    line = " ".join(xml_text(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment


def _seconds(started: str, finished: str) -> str:
    start, end = _time(started), _time(finished)
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return "0"
    return f"{max(0.0, (end - start).total_seconds()):.3f}"


def _timestamp(text: str) -> dict[str, str]:
    """JUnit's `timestamp`: ISO 8601 in UTC without a zone suffix, as the common JUnit XSD wants."""
    moment = _time(text)
    return {"timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S")} if moment else {}


def _describe_result(result: Result) -> list[str]:
    account = result.account_id + (f" ({result.account_name})" if result.account_name else "")
    lines = [
        f"rule: {result.rule_id} ({result.severity.label})",
        f"account: {account}",
        f"resource: {result.resource_type} {result.resource_arn}",
        f"result: {result.message}",
    ]
    if result.baseline is not None:
        lines.append(wording.baseline_state(result.baseline, result.first_seen))
    if result.expired_suppression is not None:
        s = result.expired_suppression
        lines.append(f"{wording.expired(s)} ({wording.details(s)})")
    return lines


def _failure_message(result: Result) -> str:
    if result.expired_suppression is None:
        return result.message
    return f"{wording.expired(result.expired_suppression)}: {result.message}"


def _evidence(result: Result) -> str:
    lines = _describe_result(result)
    for evidence in result.evidence:
        found = json.dumps(evidence.found, sort_keys=True, ensure_ascii=False, default=str)
        lines.append(f"evidence: {evidence.path}: expected {evidence.expected}; found {found}")
    return "\n".join(lines)


def _causes(result: Result) -> str:
    lines = _describe_result(result)
    lines += [f"cause: {cause.describe()}" for cause in result.causes]
    return "\n".join(lines)


def _order(result: Result) -> tuple[str, ...]:
    return (result.account_id, result.resource_name, result.resource_arn, result.status.value, result.message)


def _testcase(suite: ET.Element, result: Result) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": xml_text(result.rule_id),
        "name": _attribute(f"{result.account_id} {result.resource_name}"),
        "time": "0",
    })
    if result.status is Status.FAIL:
        child = ET.SubElement(case, "failure", {"message": _attribute(_failure_message(result)),
                                                "type": result.severity.label})
        child.text = xml_text(_evidence(result))
    elif result.status is Status.ERROR:
        child = ET.SubElement(case, "error", {"message": _attribute(result.message), "type": result.severity.label})
        child.text = xml_text(_causes(result))
    elif result.status is Status.SUPPRESSED:
        s = result.suppression
        why = wording.accepted(s) if s else "suppressed"
        child = ET.SubElement(case, "skipped", {"message": _attribute(why)})
        child.text = xml_text("\n".join([*_describe_result(result), why]))
    elif result.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", {"message": _attribute(result.message)})


def _counts(results: list[Result]) -> dict[str, str]:
    def count(*statuses: Status) -> str:
        return str(sum(1 for r in results if r.status in statuses))

    return {
        "tests": str(len(results)),
        "failures": count(Status.FAIL),
        "errors": count(Status.ERROR),
        "skipped": count(Status.SUPPRESSED, Status.SKIPPED),
    }


def _suite(root: ET.Element, name: str, counts: dict[str, str], scan: ScanResult) -> ET.Element:
    return ET.SubElement(root, "testsuite", {
        "name": _attribute(name),
        **counts,
        "time": "0",
        **_timestamp(scan.info.started_at),
    })


def _properties(suite: ET.Element, values: dict[str, str]) -> None:
    properties = ET.SubElement(suite, "properties")
    for key, value in values.items():
        ET.SubElement(properties, "property", {"name": key, "value": _attribute(value)})


def _collection_case(suite: ET.Element, error: CollectionError) -> None:
    where = f"account {error.account_id}" if error.account_id else "organization"
    case = ET.SubElement(suite, "testcase", {
        "classname": COLLECTION_SUITE,
        "name": _attribute(f"{error.account_id or 'organization'} {error.api}"),
        "time": "0",
    })
    child = ET.SubElement(case, "error", {"message": _attribute(error.describe()), "type": xml_text(error.code)})
    child.text = xml_text(f"could not read ({where}): {error.describe()}")


def _resolved_case(suite: ET.Element, resolved: ResolvedFinding) -> None:
    key = resolved.key
    case = ET.SubElement(suite, "testcase", {
        "classname": xml_text(key.rule_id),
        "name": _attribute(f"{key.account_id} {resolved.resource_name} (resolved)"),
        "time": "0",
    })
    out = ET.SubElement(case, "system-out")
    out.text = xml_text("\n".join([
        f"resolved: {key.rule_id} ({resolved.severity.label}) no longer fails",
        f"account: {key.account_id}",
        f"resource: {key.resource_arn}",
        f"was: {resolved.message}",
        f"first seen: {resolved.first_seen or 'unknown'}",
    ]))


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _baseline_suite(root: ET.Element, scan: ScanResult, counts: dict[str, object]) -> None:
    resolved = sorted(scan.resolved, key=lambda r: (r.key.rule_id, r.key.account_id, r.key.resource_arn,
                                                    r.resource_name, r.message))
    count = str(len(resolved))
    suite = _suite(root, BASELINE_SUITE, {"tests": count, "failures": "0", "errors": "0", "skipped": "0"}, scan)
    _properties(suite, {
        "baseline_run_id": str(scan.baseline_run_id),
        "new_findings": str(counts["new_findings"]),
        "resolved_findings": str(counts["resolved_findings"]),
        "drift": str(len(scan.drift)),
    })
    for item in resolved:
        _resolved_case(suite, item)
    drift = sorted(scan.drift, key=lambda d: (d.kind, d.account_id, d.resource_arn, d.message))
    lines = [(f"{counts['new_findings']} new, {counts['resolved_findings']} resolved since baseline "
             f"{scan.baseline_run_id}; drift: {len(drift) or 'none'}")]
    for d in drift:
        lines.append(f"drift: {d.kind} in account {d.account_id} on {d.resource_arn}: {d.message}; "
                     f"before {_json(d.before)}; after {_json(d.after)}")
    ET.SubElement(suite, "system-out").text = xml_text("\n".join(lines))


def _suppressions_suite(root: ET.Element, scan: ScanResult) -> None:
    expired: dict[Suppression, int] = {}
    for result in scan.results:
        if result.expired_suppression is not None:
            expired[result.expired_suppression] = expired.get(result.expired_suppression, 0) + 1
    if not expired and not scan.unused_suppressions:
        return

    def order(s: Suppression) -> tuple[str, ...]:
        return (s.source, s.rule_id, s.account_id or "", s.resource or "", s.expires, s.owner, s.reason)

    suite = _suite(root, SUPPRESSIONS_SUITE, {"tests": "0", "failures": "0", "errors": "0", "skipped": "0"}, scan)
    _properties(suite, {"expired": str(len(expired)), "unused": str(len(scan.unused_suppressions))})
    lines = [f"{wording.expired_entry(s, n)} ({wording.details(s)})"
             for s, n in sorted(expired.items(), key=lambda item: order(item[0]))]
    lines += [f"{wording.unused(s)} ({wording.details(s)})" for s in sorted(scan.unused_suppressions, key=order)]
    ET.SubElement(suite, "system-out").text = xml_text("\n".join(lines))


def to_junit(scan: ScanResult) -> bytes:
    info = scan.info
    by_rule: dict[str, list[Result]] = {}
    for result in scan.results:
        by_rule.setdefault(result.rule_id, []).append(result)
    rules: dict[str, Rule | None] = {rule.id: rule for rule in scan.rules}
    for rule_id in by_rule:
        rules.setdefault(rule_id, None)

    counts = summary(scan)
    by_status = counts["by_status"]
    resolved_cases = len(scan.resolved) if scan.baseline_run_id is not None else 0
    totals = {
        "tests": str(len(scan.results) + len(scan.errors) + resolved_cases),
        "failures": str(by_status[Status.FAIL.value]),
        "errors": str(by_status[Status.ERROR.value] + len(scan.errors)),
        "skipped": str(by_status[Status.SUPPRESSED.value] + by_status[Status.SKIPPED.value]),
    }
    root = ET.Element("testsuites", {
        "name": _attribute(f"{TOOL_NAME} {info.organization_id or 'unknown organization'}"),
        **totals,
        "time": _seconds(info.started_at, info.finished_at),
    })
    for rule_id in sorted(rules):
        rule = rules[rule_id]
        results = sorted(by_rule.get(rule_id, []), key=_order)
        suite = _suite(root, f"{rule_id} {rule.title}" if rule else rule_id, _counts(results), scan)
        if rule is not None:
            _properties(suite, {"severity": rule.severity.label, "resource": rule.resource, "pack": rule.pack})
        for result in results:
            _testcase(suite, result)
    if scan.errors:
        count = str(len(scan.errors))
        suite = _suite(root, COLLECTION_SUITE, {"tests": count, "failures": "0", "errors": count, "skipped": "0"},
                       scan)
        _properties(suite, {"complete": str(info.complete).lower()})
        for error in sorted(scan.errors, key=lambda e: (e.account_id or "", e.api, e.code, e.resource or "",
                                                        e.message)):
            _collection_case(suite, error)
    if scan.baseline_run_id is not None:
        _baseline_suite(root, scan, counts)
    _suppressions_suite(root, scan)
    ET.indent(root, space="  ")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


@writer("junit", "results.junit.xml")
def render(scan: ScanResult) -> bytes:
    return to_junit(scan)
