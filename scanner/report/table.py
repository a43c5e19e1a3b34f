"""The console summary: counts by severity and status, then every fail, error and suppressed result
with its reason, then what changed since the baseline and what needs doing about suppressions, and for
an incomplete scan the reads that failed (account, API, error code; the first MAX_AUDIT_LISTED).

With a baseline, the findings table has a `baseline` column (`NEW` or `unchanged`) and a line says
"N new, M resolved since <baseline run id>", followed by a line per drift entry. A fail whose
suppression expired says so in its reason; a line per expired entry says which (file:line, rule,
scope, owner) and when it expired, and a line per unused entry says it matched nothing.

The only place that colours text: colour only on a terminal and never when NO_COLOR is set. Every value
from AWS, a snapshot, a baseline or the suppressions file is escaped and cut short where it goes into a
cell or a line (scanner.terminal.excerpt): a control or bidi character shows as `\x1b` or `\u202e`, so
it cannot move the cursor, colour the terminal, reorder a line or start a new one.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import IO

from tabulate import tabulate

from scanner import integrations
from scanner.model import Result, ScanResult, Severity, Status, Suppression
from scanner.report import grouping, wording
from scanner.report.json_report import summary
from scanner.terminal import escape, excerpt

_COLOURS = {
    Status.FAIL: "\033[31m",
    Status.ERROR: "\033[35m",
    Status.PASS: "\033[32m",
    Status.SUPPRESSED: "\033[36m",
    Status.SKIPPED: "\033[2m",
}
_NEW = "\033[1m"
_RESET = "\033[0m"
_LISTED = (Status.FAIL, Status.ERROR, Status.SUPPRESSED)
MAX_REASON = 110
DEFAULT_WIDTH = 100  # when the width is not known (not a terminal)
MIN_WIDTH = 60
_ANSI = re.compile("\x1b\\[[0-9;]*m")
MAX_AUDIT_LISTED = 10  # resolved findings, drift entries, expired and unused suppressions: each


def use_colour(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"{_COLOURS[status]}{text}{_RESET}" if colour and text != "0" else text


def _shorten(text: object, limit: int = MAX_REASON) -> str:
    """One line of about `limit` characters, every control and bidi character escaped (none gets through)."""
    return excerpt(text, limit)


def _more(count: int, noun: str) -> list[str]:
    if count <= MAX_AUDIT_LISTED:
        return []
    return [f"  …and {count - MAX_AUDIT_LISTED} more {noun} (all are in results.json)"]


def render(scan: ScanResult, *, colour: bool = False, width: int = DEFAULT_WIDTH) -> str:
    """The summary for a terminal `width` columns wide: no line is longer, no identifier is broken."""
    counts = summary(scan)
    statuses = list(Status)
    rows = []
    for severity, by_status in counts["by_severity"].items():
        rows.append([severity, *(_paint(str(by_status[s.value]), s, colour) for s in statuses)])
    total = counts["by_status"]
    rows.append(["total", *(_paint(str(total[s.value]), s, colour) for s in statuses)])
    lines = [tabulate(rows, headers=["severity", *(s.value for s in statuses)], tablefmt="simple")]
    lines.append(grouping.findings_line(total))
    with_baseline = scan.baseline_run_id is not None
    lines += _findings(scan, colour, with_baseline, width)
    accounts = counts["accounts"]
    skipped = [a for a in scan.accounts if not a.scanned]
    lines += [
        "",
        *(f"{label}: {_shorten(seen, 200)}"
          for label, seen in integrations.headers(scan.markers, (r.integration for r in scan.rules))),
        f"Accounts: {accounts['total']} listed, {accounts['scanned']} scanned, {accounts['skipped']} skipped"
        + (f" ({', '.join(_shorten(f'{a.id} {a.skip_reason}', 60) for a in skipped[:5])}"
           + (", …" if len(skipped) > 5 else "") + ")" if skipped else ""),
    ]
    if with_baseline:
        lines += _baseline_lines(scan, counts)
    lines += _suppression_lines(scan)
    if not scan.info.complete:
        lines.append(
            f"INCOMPLETE: {len(scan.errors)} read(s) failed; results that depend on them are `error`, not `pass`."
        )
        lines += _failed_read_lines(scan)
    return "\n".join(fit(line, width) for line in lines) + "\n"


def _failed_read_lines(scan: ScanResult) -> list[str]:
    """Each failed read with its account, API and error code, so the cause is on the console too."""
    names = {account.id: account.name for account in scan.accounts}
    errors = sorted(scan.errors, key=lambda e: (e.account_id or "", e.api, e.resource or "", e.code, e.message))
    lines = []
    for error in errors[:MAX_AUDIT_LISTED]:
        where = "organization"
        if error.account_id:
            name = names.get(error.account_id)
            where = f"account {error.account_id}" + (f" ({name})" if name else "")
        resource = f" ({error.resource})" if error.resource else ""
        lines.append("  " + _shorten(f"{where}: {error.api}: {error.code}{resource}: {error.message}", 200))
    return lines + _more(len(errors), "failed reads")


def _baseline_lines(scan: ScanResult, counts: dict[str, object]) -> list[str]:
    resolved = sorted(scan.resolved, key=lambda r: (-r.severity, r.key.rule_id, r.key.account_id,
                                                    r.key.resource_arn))
    drift = sorted(scan.drift, key=lambda d: (d.kind, d.account_id, d.resource_arn, d.message))
    lines = [f"{counts['new_findings']} new, {counts['resolved_findings']} resolved since "
             f"{_shorten(scan.baseline_run_id, 64)}" + (f"; {len(drift)} drift" if drift else "")]
    for item in resolved[:MAX_AUDIT_LISTED]:
        key = item.key
        lines.append(f"  resolved: {_shorten(key.rule_id, 40)} {item.severity.label} {_shorten(key.account_id, 20)} "
                     f"{_shorten(item.resource_name or key.resource_arn, 60)}")
    lines += _more(len(resolved), "resolved findings")
    for d in drift[:MAX_AUDIT_LISTED]:
        lines.append(f"  drift: {_shorten(d.kind, 40)} in account {_shorten(d.account_id, 20)}: "
                     f"{_shorten(d.message, 200)}")
    lines += _more(len(drift), "drift entries")
    return lines


def _suppression_lines(scan: ScanResult) -> list[str]:
    expired: dict[Suppression, int] = {}
    for result in scan.results:
        if result.expired_suppression is not None:
            expired[result.expired_suppression] = expired.get(result.expired_suppression, 0) + 1

    def order(s: Suppression) -> tuple[str, ...]:
        return (s.source, s.rule_id, s.account_id or "", s.resource or "", s.expires, s.owner, s.reason)

    lines = []
    for s in sorted(expired, key=order)[:MAX_AUDIT_LISTED]:
        lines.append(f"Expired: {_shorten(f'{wording.expired_entry(s, expired[s])} ({wording.details(s)})', 400)}")
    lines += _more(len(expired), "expired suppressions")
    for s in sorted(scan.unused_suppressions, key=order)[:MAX_AUDIT_LISTED]:
        lines.append(f"Unused: {_shorten(f'{wording.unused(s)} ({wording.details(s)})', 400)}")
    lines += _more(len(scan.unused_suppressions), "unused suppressions")
    return lines


def _order(result: Result) -> tuple[object, ...]:
    """summary.md's order: most severe first, then rule, account and resource."""
    return (-result.severity, result.rule_id, result.account_id, result.resource_arn, result.status.value,
            result.resource_name, result.message)


def wrap(text: str, width: int, indent: str = "", *, cut: bool = True) -> list[str]:
    """`text` as lines of at most `width` characters, broken at spaces only, the first line keeping the
    text's own indentation. A word longer than a line is alone on its line; with `cut`, shortened to fit
    with a visible "…" (never split across lines)."""
    width = max(width, 8)
    first = text[: len(text) - len(text.lstrip(" "))]
    room = width - max(len(indent), len(first))
    words = [w if len(w) <= room or not cut else w[: room - 1] + "…" for w in text.split()]
    return textwrap.wrap(" ".join(words), width, initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [""]


def fit(text: str, width: int) -> str:
    """Each line that would wrap in the terminal, wrapped at spaces instead (indented under itself)."""
    lines = []
    for line in text.split("\n"):
        if len(_ANSI.sub("", line)) <= width:
            lines.append(line)
            continue
        indent = " " * min(len(line) - len(line.lstrip(" ")) + 2, width // 3)
        lines += wrap(line, width, indent)
    return "\n".join(lines)


def columns(rows: list[list[str]], headers: list[str], width: int) -> str:
    """A plain table whose last column (prose) wraps at spaces in what `width` leaves it; the others hold
    identifiers and keep their full width."""
    fixed = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers) - 1)]
    lead = sum(fixed) + 2 * len(fixed)
    room = max(20, width - lead)

    def line(cells: list[str], last: str) -> str:
        return ("".join(str(c).ljust(w + 2) for c, w in zip(cells, fixed, strict=False)) + last).rstrip()

    out = [line(headers[:-1], headers[-1]), line(["-" * w for w in fixed], "-" * min(room, max(
        [len(headers[-1]), *(len(r[-1]) for r in rows)])))]
    for row in rows:
        wrapped = wrap(_printable_text(row[-1]), room)
        out.append(line([_printable_text(c) for c in row[:-1]], wrapped[0]))
        out += [" " * lead + more for more in wrapped[1:]]
    return "\n".join(fit(text, width) for text in out)


def _findings(scan: ScanResult, colour: bool, with_baseline: bool, width: int) -> list[str]:
    """Findings by rule, most severe first: a line with the rule's id, severity and title, then one row
    per result (status, account, the sentence). Errors that share an account and a cause are one row."""
    width = max(width, MIN_WIDTH)
    listed = sorted((r for r in scan.results if r.status in _LISTED), key=_order)
    single, groups = grouping.group_errors(listed)
    if not single and not groups:
        return []
    titles = {rule.id: rule.title for rule in scan.rules}
    status_width = max(len("status"), *(len(_status_text(r, with_baseline)) for r in single), 5)
    account_width = max([len("account"), *(len(_printable_text(r.account_id)) for r in listed)])
    account_width = min(account_width, 20)
    lead = 2 + status_width + 2 + account_width + 2
    text_width = width - lead
    lines = ["", "  " + "status".ljust(status_width) + "  " + "account".ljust(account_width) + "  what is wrong"]
    current = None
    for result in single:
        if result.rule_id != current:
            current = result.rule_id
            title = titles.get(result.rule_id, "")
            head = f"{_shorten(result.rule_id, 40)} {Severity(result.severity).label}: {_shorten(title, 200)}"
            lines += wrap(head, width, "    ")
        status = _status_text(result, with_baseline)
        lines += _row(status, result.status, result.account_id, _reason(result), colour, status_width,
                      account_width, text_width, new=result.baseline == "new")
    if groups:
        lines += wrap("Not evaluated: one line per account and cause (the rules are in the reports)", width, "    ")
        for group in sorted(groups, key=lambda g: (-g.severity, g.account_id, g.short_reason)):
            text = f"{group.sentence} ({', '.join(group.rule_ids)})"
            lines += _row("error", Status.ERROR, group.account_id, text, colour, status_width, account_width,
                          text_width, new=False)
    return lines


def _printable_text(text: object) -> str:
    """AWS data made safe for a terminal (terminal.escape) with its runs of spaces folded, to wrap at spaces."""
    return " ".join(escape(text).split())


def _status_text(result: Result, with_baseline: bool) -> str:
    marker = {"new": " NEW", "unchanged": ""}.get(result.baseline or "", "") if with_baseline else ""
    return result.status.value + marker


def _reason(result: Result) -> str:
    reason = result.message
    if result.expired_suppression is not None:
        reason = f"{wording.expired(result.expired_suppression)}: {reason}"
    if result.suppression is not None:
        reason = f"{wording.accepted(result.suppression)}: {reason}"
    return _shorten(reason, 600)


def _row(status: str, state: Status, account: str, text: str, colour: bool, status_width: int,
         account_width: int, text_width: int, *, new: bool) -> list[str]:
    account = _printable_text(account)
    if len(account) > account_width:
        account = account[: account_width - 1] + "…"
    lead = 2 + status_width + 2 + account_width + 2
    width = lead + text_width
    shown = status.ljust(status_width)
    if colour:
        name, _, marker = status.partition(" ")
        shown = _paint(name, state, colour) + (f" {_NEW}{marker}{_RESET}" if marker and new else
                                               f" {marker}" if marker else "") + " " * (status_width - len(status))
    lines = ["  " + shown + "  " + account.ljust(account_width) + "  "]
    for index, line in enumerate(wrap(text, text_width, cut=False)):
        if len(line) > text_width:
            # One identifier longer than the column (an ARN): on a line of its own, whole if the terminal
            # is wide enough, ending at the right edge; otherwise cut with a visible "…".
            shown = line if len(line) <= width - 2 else line[: width - 3] + "…"
            lines.append(" " * (width - len(shown)) + shown)
        elif index == 0:
            lines[0] += line
        else:
            lines.append(" " * lead + line)
    return [line.rstrip() for line in lines]
