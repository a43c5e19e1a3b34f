"""The console summary: counts by severity and status, then every fail and error with its reason.

The only place that colours text: colour only on a terminal and never when NO_COLOR is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO

from tabulate import tabulate

from scanner.model import Result, ScanResult, Severity, Status
from scanner.report.json_report import summary

_COLOURS = {
    Status.FAIL: "\033[31m",
    Status.ERROR: "\033[35m",
    Status.PASS: "\033[32m",
    Status.SUPPRESSED: "\033[36m",
    Status.SKIPPED: "\033[2m",
}
_RESET = "\033[0m"
_LISTED = (Status.FAIL, Status.ERROR, Status.SUPPRESSED)
MAX_REASON = 110


def use_colour(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, status: Status, colour: bool) -> str:
    return f"{_COLOURS[status]}{text}{_RESET}" if colour and text != "0" else text


def _shorten(text: str, limit: int = MAX_REASON) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    if listed:
        lines += ["", tabulate(list(_finding_rows(listed, colour)), headers=["status", "rule", "severity",
                                                                            "account", "resource", "reason"])]
    accounts = counts["accounts"]
    skipped = [a for a in scan.accounts if not a.scanned]
    lines += [
        "",
        f"Accounts: {accounts['total']} listed, {accounts['scanned']} scanned, {accounts['skipped']} skipped"
        + (f" ({', '.join(f'{a.id} {a.skip_reason}' for a in skipped[:5])}"
           + (", …" if len(skipped) > 5 else "") + ")" if skipped else ""),
    ]
    if not scan.info.complete:
        lines.append(
            f"INCOMPLETE: {len(scan.errors)} read(s) failed; results that depend on them are `error`, not `pass`."
        )
    return "\n".join(lines) + "\n"


def _finding_rows(results: Iterable[Result], colour: bool) -> Iterable[list[str]]:
    for result in results:
        account = f"{result.account_id} {result.account_name}".strip()
        yield [
            _paint(result.status.value, result.status, colour),
            result.rule_id,
            Severity(result.severity).label,
            _shorten(account, 40),
            _shorten(result.resource_name or result.resource_arn, 40),
            _shorten(result.message),
        ]
