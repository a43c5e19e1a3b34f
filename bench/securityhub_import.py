"""Benchmark of `--security-hub` at organization scale: how many API calls an import makes.

Builds the HTML benchmark's synthetic organization (bench/html_report.py: N accounts x every built-in
rule, 2% of accounts failing one to three rules, 0.5% unreadable, 1% suspended), then imports its findings
into moto's Security Hub (in process) with the real import code (scanner.publish.securityhub: its batching,
rate limiters and retry policy), twice:

1. the first import: nothing active yet;
2. a later run in which half of the failing accounts were fixed: their findings are archived.

It prints the findings, the batches and the calls each import made (counted by the collector's CallStats),
and the arithmetic the batching code implies (ceil(findings / 100) while 100 findings stay under 6 MB).

    python bench/securityhub_import.py                  # 10,000 accounts
    python bench/securityhub_import.py --accounts 1000 50000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto import mock_aws

from bench.html_report import synthetic_scan
from scanner.model import ScanResult, Status
from scanner.publish import securityhub
from scanner.report import asff

MOTO_ACCOUNT = "123456789012"  # the account moto's fake credentials belong to


def fixed_half(scan: ScanResult) -> ScanResult:
    """The failing accounts' first half fixed: their failures pass now."""
    failing = sorted({r.account_id for r in scan.results if r.status is Status.FAIL})
    fixed = set(failing[: len(failing) // 2])
    results = tuple(replace(r, status=Status.PASS) if r.status is Status.FAIL and r.account_id in fixed else r
                    for r in scan.results)
    return replace(scan, results=results, info=replace(scan.info, evaluated_at="2026-02-01T00:00:00Z"))


def line(label: str, scan: ScanResult, report: securityhub.ImportReport, seconds: float) -> str:
    calls = {op.split(":")[1]: counts["calls"] for op, counts in sorted(report.calls.items())}
    return (f"  {label}: sent {report.sent} findings ({report.archived} archived), {len(report.failed)} refused; "
            f"calls {calls}; {seconds:.1f} s")


def run(accounts: int) -> None:
    scan = replace(synthetic_scan(accounts), info=replace(synthetic_scan(accounts).info,
                                                           management_account_id=MOTO_ACCOUNT))
    findings = asff.findings(scan, account_id=MOTO_ACCOUNT, region="us-east-1")
    sizes = [securityhub.finding_size(f) for f in findings]
    batches = list(securityhub.batches(findings))
    by_status: dict[str, int] = {}
    for finding in findings:
        status = finding["ProductFields"]["artifact-scan/Status"]
        by_status[status] = by_status.get(status, 0) + 1
    failing_accounts = len({r.account_id for r in scan.results if r.status is Status.FAIL})
    print(f"{accounts:,} accounts, {failing_accounts} failing: {len(findings)} findings {by_status}, "
          f"largest {max(sizes, default=0):,} bytes, all {sum(sizes):,} bytes")
    print(f"  batching: {len(batches)} BatchImportFindings requests ({[len(b) for b in batches]}); arithmetic "
          f"ceil({len(findings)}/100) = {math.ceil(len(findings) / 100)}")
    with mock_aws():
        session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench-secret",
                                region_name="us-east-1")
        session.client("securityhub").enable_security_hub()
        started = time.perf_counter()
        first = securityhub.publish(scan, session)
        print(line("first import", scan, first, time.perf_counter() - started))
        later = fixed_half(scan)
        started = time.perf_counter()
        second = securityhub.publish(later, session)
        print(line("next run, half fixed", later, second, time.perf_counter() - started))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000])
    args = parser.parse_args(argv)
    for accounts in args.accounts:
        run(accounts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
