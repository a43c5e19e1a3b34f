"""summary.md: a short Markdown summary for a CI job summary page (e.g. `$GITHUB_STEP_SUMMARY`).

A header line (organization, complete or incomplete, counts by status), a line on accounts and errors,
which AWS Artifact principal has trusted access, a severity x status table, then at most `MAX_LISTED` fail and error results, most severe first, each
with its rule, account, resource and a one-line reason, and "…and N more" for the rest.

With a baseline, a line under the header counts new, unchanged and resolved findings and drift, new
results are marked `(new)` in the list, and a "Since the baseline" block lists the first
`MAX_AUDIT_LISTED` resolved findings and drift entries. A fail whose suppression expired is marked
`(suppression expired)`, and a "Suppressions" block lists the first `MAX_AUDIT_LISTED` suppressed
results (reason, owner, expiry) and expired and unused entries (file:line, rule, scope, owner, date).

Its size is bounded whatever the size of the scan (GitHub accepts 1 MiB per step summary; this stays
well under 64 KiB): the list is capped and every cell of user data is cut to a byte budget.

User data (account names, resource names, messages, the organization id) is escaped: a `|` cannot
break the table, newlines cannot start a new block, `<` `>` `&` become entities so that no HTML gets
through, and Markdown punctuation (backticks, emphasis, brackets) is backslash-escaped so no link,
image or code span can be injected.
"""

from __future__ import annotations

from typing import Any

from scanner import integrations
from scanner.model import ResolvedFinding, Result, ScanResult, Status, Suppression
from scanner.report import grouping, wording, writer
from scanner.report.json_report import summary

MAX_LISTED = 50
MAX_AUDIT_LISTED = 10  # resolved findings, drift entries, expired and unused suppressions: each
LISTED = (Status.FAIL, Status.ERROR)

# Byte budgets of the escaped text of each cell of the listed results.
MAX_RULE = 40
MAX_ACCOUNT = 80
MAX_RESOURCE = 120
MAX_REASON = 240
MAX_ORGANIZATION = 80
MAX_SUPPRESSION = 400  # one suppression sentence (scanner.report.wording) with the entry's details

INCOMPLETE = "**Incomplete scan:** some data could not be read; rules that needed it are `error`, not `pass`."

_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_BACKSLASHED = frozenset("\\`*_[]|~")


def _escape_char(char: str) -> str:
    if char in _ENTITIES:
        return _ENTITIES[char]
    if char in _BACKSLASHED:
        return "\\" + char
    if char.isspace() or not char.isprintable():
        return " "  # newlines, tabs, control and format characters: a cell stays one plain line
    return char


def cell(text: object, limit: int) -> str:
    """`text` escaped for Markdown (table cells and inline text), one line, at most `limit` UTF-8 bytes."""
    pieces = [_escape_char(char) for char in " ".join(str(text).split())]
    escaped = "".join(pieces).strip()
    if len(escaped.encode("utf-8", "replace")) <= limit:
        return escaped or " "
    kept: list[str] = []
    size = len("…".encode())
    for piece in pieces:  # whole escapes only: a cut never leaves a lone backslash or half an entity
        piece_size = len(piece.encode("utf-8", "replace"))
        if size + piece_size > limit:
            break
        kept.append(piece)
        size += piece_size
    return "".join(kept).strip() + "…"


def _order(result: Result) -> tuple[Any, ...]:
    return (-result.severity, result.rule_id, result.account_id, result.resource_arn, result.status.value,
            result.resource_name, result.message)


def _status(result: Result) -> str:
    marks = []
    if result.baseline == "new":
        marks.append("new")
    if result.expired_suppression is not None:
        marks.append("suppression expired")
    return result.status.value + (f" ({', '.join(marks)})" if marks else "")


def _more(count: int, noun: str) -> list[str]:
    if count <= MAX_AUDIT_LISTED:
        return []
    return [f"- …and {count - MAX_AUDIT_LISTED} more {noun} (all are in results.json)"]


def _resolved_order(resolved: ResolvedFinding) -> tuple[Any, ...]:
    key = resolved.key
    return (-resolved.severity, key.rule_id, key.account_id, key.resource_arn, resolved.resource_name)


def _baseline_lines(scan: ScanResult, counts: dict[str, Any]) -> list[str]:
    resolved = sorted(scan.resolved, key=_resolved_order)
    drift = sorted(scan.drift, key=lambda d: (d.kind, d.account_id, d.resource_arn, d.message))
    lines = ["", f"#### Since baseline {cell(scan.baseline_run_id, 64)}", "",
             (f"{counts['resolved_findings']} resolved finding{'s' if counts['resolved_findings'] != 1 else ''} · "
             f"{len(drift)} drift")]
    if resolved or drift:
        lines.append("")
    for item in resolved[:MAX_AUDIT_LISTED]:
        key = item.key
        lines.append(
            f"- resolved: {item.severity.label} {cell(key.rule_id, MAX_RULE)} in {cell(key.account_id, MAX_ACCOUNT)} "
            f"on {cell(item.resource_name or key.resource_arn, MAX_RESOURCE)} "
            f"(first seen {cell(item.first_seen or 'unknown', 40)})"
        )
    lines += _more(len(resolved), "resolved findings")
    for d in drift[:MAX_AUDIT_LISTED]:
        lines.append(f"- drift: {cell(d.kind, 60)} in account {cell(d.account_id, MAX_ACCOUNT)}: "
                     f"{cell(d.message, MAX_REASON)}")
    lines += _more(len(drift), "drift entries")
    return lines


def _suppression_lines(scan: ScanResult) -> list[str]:
    expired: dict[Suppression, int] = {}
    for result in scan.results:
        if result.expired_suppression is not None:
            expired[result.expired_suppression] = expired.get(result.expired_suppression, 0) + 1
    suppressed = sorted((r for r in scan.results if r.status is Status.SUPPRESSED), key=_order)
    if not expired and not scan.unused_suppressions and not suppressed:
        return []

    def order(s: Suppression) -> tuple[str, ...]:
        return (s.source, s.rule_id, s.account_id or "", s.resource or "", s.expires, s.owner, s.reason)

    lines = ["", "#### Suppressions", "",
             (f"{len(suppressed)} suppressed (accepted risks, not failing the gate) · {len(expired)} expired "
              f"(their failures fail again) · {len(scan.unused_suppressions)} unused (matched no failure)"), ""]
    for result in suppressed[:MAX_AUDIT_LISTED]:
        s = result.suppression
        accepted = cell(wording.accepted(s), MAX_SUPPRESSION) if s is not None else "no suppression recorded"
        account = f"{result.account_id} {result.account_name}".strip()
        lines.append(f"- suppressed: {result.severity.label} {cell(result.rule_id, MAX_RULE)} in "
                     f"{cell(account, MAX_ACCOUNT)} on {cell(result.resource_name or result.resource_arn, MAX_RESOURCE)}:"
                     f" {accepted}")
    lines += _more(len(suppressed), "suppressed results")
    for s in sorted(expired, key=order)[:MAX_AUDIT_LISTED]:
        text = f"{wording.expired_entry(s, expired[s])} ({wording.details(s)})"
        lines.append(f"- expired: {cell(text, MAX_SUPPRESSION)}")
    lines += _more(len(expired), "expired suppressions")
    for s in sorted(scan.unused_suppressions, key=order)[:MAX_AUDIT_LISTED]:
        lines.append(f"- unused: {cell(f'{wording.unused(s)} ({wording.details(s)})', MAX_SUPPRESSION)}")
    lines += _more(len(scan.unused_suppressions), "unused suppressions")
    return lines


def to_markdown(scan: ScanResult) -> str:
    info = scan.info
    counts = summary(scan)
    statuses = list(Status)
    by_status = counts["by_status"]
    organization = cell(info.organization_id or "unknown organization", MAX_ORGANIZATION)
    state = "complete" if info.complete else "incomplete"
    tally = " · ".join(f"{by_status[s.value]} {s.value}" for s in statuses)
    accounts = counts["accounts"]
    accounts_line = (
        f"{accounts['total']} accounts ({accounts['scanned']} scanned, {accounts['skipped']} not scanned, "
        f"{accounts['with_errors']} with errors) · collection errors: {counts['collection_errors']} · "
        f"run {cell(info.run_id, 64)} · artifact-scan {cell(info.tool_version, 40)}"
    )
    trusted_access = [
        f"{label}: {cell(seen, MAX_REASON)}"
        for label, seen in integrations.headers(scan.markers, (r.integration for r in scan.rules))
    ]
    lines = [f"### artifact-scan: {organization}, {state}: {tally}", "", accounts_line, "", *trusted_access]
    if scan.baseline_run_id is not None:
        unchanged = sum(1 for r in scan.results if r.baseline == "unchanged")
        lines += ["", (f"Since baseline {cell(scan.baseline_run_id, 64)}: **{counts['new_findings']} new** · "
                      f"{unchanged} unchanged · {counts['resolved_findings']} resolved · {len(scan.drift)} drift")]
    if not info.complete:
        lines += ["", INCOMPLETE]
    lines += ["", "| severity | " + " | ".join(s.value for s in statuses) + " |",
              "|---|" + "---:|" * len(statuses)]
    for severity, row in counts["by_severity"].items():
        lines.append(f"| {severity} | " + " | ".join(str(row[s.value]) for s in statuses) + " |")
    lines.append("| **total** | " + " | ".join(f"**{by_status[s.value]}**" for s in statuses) + " |")

    lines += ["", grouping.findings_line(by_status) + ". Skipped checks are not applicable, not findings."]
    listed, groups = grouping.group_errors(sorted((r for r in scan.results if r.status in LISTED), key=_order))
    if groups:
        lines += ["", "#### Could not be evaluated (one line per account and cause)", ""]
        for group in sorted(groups, key=lambda g: (-g.severity, g.account_id, g.short_reason)):
            account = f"{group.account_id} {group.account_name}".strip()
            lines.append(f"- {group.severity.label} error in {cell(account, MAX_ACCOUNT)}: {cell(group.sentence, MAX_REASON)} "
                         f"({cell(', '.join(group.rule_ids), MAX_REASON)})")
    if listed:
        lines += ["", "#### Fail and error results, most severe first", "",
                  "| severity | status | rule | account | resource | reason |", "|---|---|---|---|---|---|"]
        for result in listed[:MAX_LISTED]:
            account = f"{result.account_id} {result.account_name}".strip()
            resource = result.resource_name or result.resource_arn
            lines.append(
                f"| {result.severity.label} | {_status(result)} | {cell(result.rule_id, MAX_RULE)} "
                f"| {cell(account, MAX_ACCOUNT)} | {cell(resource, MAX_RESOURCE)} "
                f"| {cell(result.message, MAX_REASON)} |"
            )
        if len(listed) > MAX_LISTED:
            lines += ["", f"…and {len(listed) - MAX_LISTED} more fail and error results (all are in results.json)."]
    else:
        lines += ["", "No fail or error results."]
    lines += _compliance_lines(scan)
    if scan.baseline_run_id is not None:
        lines += _baseline_lines(scan, counts)
    lines += _suppression_lines(scan)
    return "\n".join(lines) + "\n"


def _compliance_lines(scan: ScanResult) -> list[str]:
    rows = grouping.compliance_view(scan.rules, scan.results)
    if not rows:
        return []
    statuses = list(Status)
    lines = ["", "#### Compliance view", "",
             "Results by the framework controls the rules are mapped to (only where the mapping is honest).", "",
             "| framework | control | rules | verdict | " + " | ".join(s.value for s in statuses) + " |",
             "|---|---|---|---|" + "---:|" * len(statuses)]
    for row in rows:
        lines.append(f"| {cell(row.framework, 60)} | {cell(row.control, 40)} | {cell(', '.join(row.rule_ids), 200)} "
                     f"| {row.verdict} | " + " | ".join(str(row.counts[s.value]) for s in statuses) + " |")
    return lines


@writer("markdown", "summary.md")
def render(scan: ScanResult) -> bytes:
    return to_markdown(scan).encode("utf-8", "replace")
