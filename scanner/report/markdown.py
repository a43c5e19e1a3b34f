"""summary.md: a short Markdown summary for a CI job summary page (e.g. `$GITHUB_STEP_SUMMARY`).

A header line (organization, complete or incomplete, counts by status), a line on accounts and errors,
a severity x status table, then at most `MAX_LISTED` fail and error results, most severe first, each
with its rule, account, resource and a one-line reason, and "…and N more" for the rest.

Its size is bounded whatever the size of the scan (GitHub accepts 1 MiB per step summary; this stays
well under 64 KiB): the list is capped and every cell of user data is cut to a byte budget.

User data (account names, resource names, messages, the organization id) is escaped: a `|` cannot
break the table, newlines cannot start a new block, `<` `>` `&` become entities so that no HTML gets
through, and Markdown punctuation (backticks, emphasis, brackets) is backslash-escaped so no link,
image or code span can be injected.
"""

from __future__ import annotations

from typing import Any

from scanner.model import Result, ScanResult, Status
from scanner.report import writer
from scanner.report.json_report import summary

MAX_LISTED = 50
LISTED = (Status.FAIL, Status.ERROR)

# Byte budgets of the escaped text of each cell of the listed results.
MAX_RULE = 40
MAX_ACCOUNT = 80
MAX_RESOURCE = 120
MAX_REASON = 240
MAX_ORGANIZATION = 80

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
    lines = [f"### artifact-scan: {organization}, {state}: {tally}", "", accounts_line]
    if not info.complete:
        lines += ["", INCOMPLETE]
    lines += ["", "| severity | " + " | ".join(s.value for s in statuses) + " |",
              "|---|" + "---:|" * len(statuses)]
    for severity, row in counts["by_severity"].items():
        lines.append(f"| {severity} | " + " | ".join(str(row[s.value]) for s in statuses) + " |")
    lines.append("| **total** | " + " | ".join(f"**{by_status[s.value]}**" for s in statuses) + " |")

    listed = sorted((r for r in scan.results if r.status in LISTED), key=_order)
    if listed:
        lines += ["", "#### Fail and error results, most severe first", "",
                  "| severity | status | rule | account | resource | reason |", "|---|---|---|---|---|---|"]
        for result in listed[:MAX_LISTED]:
            account = f"{result.account_id} {result.account_name}".strip()
            resource = result.resource_name or result.resource_arn
            lines.append(
                f"| {result.severity.label} | {result.status.value} | {cell(result.rule_id, MAX_RULE)} "
                f"| {cell(account, MAX_ACCOUNT)} | {cell(resource, MAX_RESOURCE)} "
                f"| {cell(result.message, MAX_REASON)} |"
            )
        if len(listed) > MAX_LISTED:
            lines += ["", f"…and {len(listed) - MAX_LISTED} more fail and error results (all are in results.json)."]
    else:
        lines += ["", "No fail or error results."]
    return "\n".join(lines) + "\n"


@writer("markdown", "summary.md")
def render(scan: ScanResult) -> bytes:
    return to_markdown(scan).encode("utf-8", "replace")
