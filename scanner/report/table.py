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
from collections.abc import Iterable
from typing import IO

from tabulate import tabulate

from scanner import artifact
from scanner.terminal import excerpt
from scanner.model import Result, ScanResult, Severity, Status, Suppression
from scanner.report.json_report import summary

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
MAX_AUDIT_LISTED = 10  # resolved findings, drift entries, expired and unused suppressions: each


def use_colour(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"{_COLOURS[status]}{text}{_RESET}" if colour and text != "0" else text


def _shorten(text: object, limit: int = MAX_REASON) -> str:
    """One line of about `limit` characters, every control and bidi character escaped (none gets through)."""
    return excerpt(text, limit)


def _scope(suppression: Suppression) -> str:
    account = f"account {suppression.account_id}" if suppression.account_id else "every account"
    return account + (f", resources {suppression.resource}" if suppression.resource else "")


def _entry(suppression: Suppression) -> str:
    where = f"{suppression.source} " if suppression.source else ""
    return f"{where}({suppression.rule_id}, {_scope(suppression)}, owner {suppression.owner})"  # cut by the caller


def _more(count: int, noun: str) -> list[str]:
    if count <= MAX_AUDIT_LISTED:
        return []
    return [f"  …and {count - MAX_AUDIT_LISTED} more {noun} (all are in results.json)"]


def render(scan: ScanResult, *, colour: bool = False) -> str:
    counts = summary(scan)
    statuses = list(Status)
    rows = []
    for severity, by_status in counts["by_severity"].items():
        rows.append([severity, *(_paint(str(by_status[s.value]), s, colour) for s in statuses)])
    total = counts["by_status"]
    rows.append(["total", *(_paint(str(total[s.value]), s, colour) for s in statuses)])
    lines = [tabulate(rows, headers=["severity", *(s.value for s in statuses)], tablefmt="simple")]
    listed = sorted(
        (r for r in scan.results if r.status in _LISTED),
        key=lambda r: (-r.severity, _LISTED.index(r.status), r.rule_id, r.account_id, r.resource_arn),
    )
    with_baseline = scan.baseline_run_id is not None
    if listed:
        headers = ["status", "rule", "severity", *(["baseline"] if with_baseline else []), "account", "resource",
                   "reason"]
        lines += ["", tabulate(list(_finding_rows(listed, colour, with_baseline)), headers=headers)]
    accounts = counts["accounts"]
    skipped = [a for a in scan.accounts if not a.scanned]
    lines += [
        "",
        f"AWS Artifact trusted access: {_shorten(artifact.trusted_access_seen(scan.markers), 200)}",
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
    return "\n".join(lines) + "\n"


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
        n = expired[s]
        lines.append(f"Expired suppression: {_shorten(_entry(s), 160)} expired on {_shorten(s.expires, 30)}; "
                     f"{n} failure{' fails' if n == 1 else 's fail'} again")
    lines += _more(len(expired), "expired suppressions")
    for s in sorted(scan.unused_suppressions, key=order)[:MAX_AUDIT_LISTED]:
        lines.append(f"Unused suppression: {_shorten(_entry(s), 160)} matched no failure "
                     f"(expires {_shorten(s.expires, 30)})")
    lines += _more(len(scan.unused_suppressions), "unused suppressions")
    return lines


def _finding_rows(results: Iterable[Result], colour: bool, with_baseline: bool) -> Iterable[list[str]]:
    for result in results:
        account = f"{result.account_id} {result.account_name}".strip()
        reason = result.message
        if result.status is Status.ERROR and result.causes:
            # The API and the error code first: the full message (with the role ARN) would push the code
            # past the column's width. results.json and the other reports have every word.
            reason = "could not be evaluated: " + "; ".join(
                f"{c.api}: {c.code}: {c.message}" for c in result.causes
            )
        if result.expired_suppression is not None:
            s = result.expired_suppression
            reason = f"suppression {s.source or s.rule_id} expired {s.expires}: {reason}"
        marker: list[str] = []
        if with_baseline:
            state = {"new": "NEW", "unchanged": "unchanged"}.get(result.baseline or "", "")
            marker = [f"{_NEW}{state}{_RESET}" if colour and state == "NEW" else state]
        yield [
            _paint(result.status.value, result.status, colour),
            _shorten(result.rule_id, 40),
            Severity(result.severity).label,
            *marker,
            _shorten(account, 40),
            _shorten(result.resource_name or result.resource_arn, 40),
            _shorten(reason),
        ]
