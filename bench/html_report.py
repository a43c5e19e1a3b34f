"""Benchmark of the HTML report at organization scale: file size, render time, time to interactive.

Builds a synthetic ScanResult (no AWS, plain dataclasses) of N accounts x every built-in rule, with
2% of accounts failing some rules, 0.5% unreadable (error), 1% suspended (not scanned) and the
service-linked role absent from half the accounts (a skipped result per role rule there, the bulk of
a real report's non-pass results). Renders report.html, then opens it in headless Chromium and reads
`window.__reportReadyAt`: milliseconds from navigation start until the page has drawn the first page
of the matrix and findings and attached its handlers.

    python bench/html_report.py                     # 10,000 accounts, 3 browser runs
    python bench/html_report.py --accounts 1000 2000 --runs 5 --keep /tmp/report.html
    python bench/html_report.py --accounts 300 --runs 1 --screenshot docs/report-screenshot.png

Budget (the report's design goal): under 10 MB and interactive in under 2 s at 10,000 accounts.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.model import (
    AccountSummary,
    CollectionError,
    Evidence,
    Markers,
    Result,
    RunInfo,
    ScanResult,
    Status,
    Suppression,
)
from scanner.report.html import render
from scanner.rules import load_rules

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORG = "o-bench000001"
MANAGEMENT = "100000000000"
SLR = "AWSServiceRoleForArtifact"
EXPECTED_PRINCIPALS = '["service:artifact.amazonaws.com"]'
ORG_LEVEL = "aws.organizations.organization"


def _trust(extra_account: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "artifact.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{extra_account}:root"},
                "Action": "sts:AssumeRole",
            },
        ],
    }


def synthetic_scan(n_accounts: int, seed: int = 7) -> ScanResult:
    """N accounts x every rule, deterministic for a given seed."""
    rng = random.Random(seed)
    ruleset = load_rules()
    rules = tuple(sorted(ruleset.rules, key=lambda r: r.id))
    ids = [MANAGEMENT] + [f"{200000000000 + i:012d}" for i in range(n_accounts - 1)]
    failing = set(rng.sample(ids[1:], k=max(1, n_accounts * 2 // 100)))
    unreadable = set(rng.sample(sorted(set(ids[1:]) - failing), k=n_accounts // 200))
    suspended = set(rng.sample(sorted(set(ids[1:]) - failing - unreadable), k=n_accounts // 100))
    results: list[Result] = []
    errors: list[CollectionError] = []
    accounts: list[AccountSummary] = []

    def result(
        rule_id: str, status: Status, account: str, name: str, arn: str, message: str, **extra: Any
    ) -> Result:
        rule = next(r for r in rules if r.id == rule_id)
        return Result(
            rule_id=rule_id,
            status=status,
            severity=rule.severity,
            account_id=account,
            account_name=name,
            resource_type=rule.resource,
            resource_arn=arn,
            resource_name=arn.rsplit("/")[-1],
            message=message,
            **extra,
        )

    for account in ids:
        name = (
            "management"
            if account == MANAGEMENT
            else f"workload-{account[-5:]}-{rng.choice(['prod', 'dev', 'sandbox'])}"
        )
        account_arn = f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{account}"
        if account in suspended:
            accounts.append(
                AccountSummary(account, name, "SUSPENDED", False, False, "account state is SUSPENDED", 0)
            )
            results.append(
                result("ART-014", Status.SKIPPED, account, name, account_arn, "account state is SUSPENDED")
            )
            continue
        cause = CollectionError(
            "sts:AssumeRole", "AccessDenied", "User is not authorized to perform: sts:AssumeRole", account
        )
        accounts.append(
            AccountSummary(
                account, name, "ACTIVE", account == MANAGEMENT, True, None, int(account in unreadable)
            )
        )
        if account in unreadable:
            errors.append(cause)
        has_slr = account == MANAGEMENT or rng.random() < 0.5
        broken = (
            set(rng.sample(["ART-006", "ART-007", "ART-010", "ART-012"], k=rng.randint(1, 3)))
            if account in failing
            else set()
        )
        role_arn = f"arn:aws:iam::{account}:role/aws-service-role/artifact.amazonaws.com/{SLR}"
        for rule in rules:
            if rule.resource == ORG_LEVEL:
                if account == MANAGEMENT:
                    results.append(
                        result(
                            rule.id,
                            Status.PASS,
                            account,
                            name,
                            f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG}",
                            rule.title,
                        )
                    )
                continue
            if account in unreadable:
                results.append(
                    result(
                        rule.id,
                        Status.ERROR,
                        account,
                        name,
                        account_arn,
                        f"could not be evaluated: {cause.describe()}",
                        causes=(cause,),
                    )
                )
            elif rule.id in broken and rule.id == "ART-006":
                found = [f"aws:{ids[1]}", "service:artifact.amazonaws.com"]
                results.append(
                    result(
                        rule.id,
                        Status.FAIL,
                        account,
                        name,
                        role_arn,
                        f"$.trust.allowed_principals: expected exactly {EXPECTED_PRINCIPALS}, found {json.dumps(found)}",
                        evidence=(
                            Evidence(
                                "$.trust.allowed_principals",
                                f"exactly {EXPECTED_PRINCIPALS}",
                                found,
                            ),
                        ),
                        document=_trust(ids[1]),
                    )
                )
            elif rule.id in broken:
                results.append(
                    result(
                        rule.id,
                        Status.FAIL,
                        account,
                        name,
                        role_arn,
                        f"$: {rule.title} does not hold",
                        evidence=(Evidence("$", "no such resource", {"name": SLR, "path": "/"}),),
                    )
                )
            elif rule.id == "ART-011" and account in failing and rng.random() < 0.2:
                results.append(
                    result(
                        rule.id,
                        Status.SUPPRESSED,
                        account,
                        name,
                        role_arn,
                        "found the legacy role",
                        suppression=Suppression(
                            rule.id,
                            "Decommissioning in SEC-42",
                            "secops@example.com",
                            "2027-01-31",
                            account_id=account,
                        ),
                    )
                )
            elif rule.none_matched == "skip" and rule.resource == "aws.iam.role" and not has_slr:
                results.append(
                    result(
                        rule.id, Status.SKIPPED, account, name, account_arn, "no matching resource to check"
                    )
                )
            else:
                results.append(result(rule.id, Status.PASS, account, name, role_arn, rule.title))
    return ScanResult(
        info=RunInfo(
            run_id="20260101T000000Z-bench",
            tool_version="bench",
            started_at="2026-01-01T00:00:00Z",
            finished_at="2026-01-01T00:20:00Z",
            organization_id=ORG,
            management_account_id=MANAGEMENT,
            caller_arn=f"arn:aws:sts::{MANAGEMENT}:assumed-role/Auditor/bench",
            rules_sha256=ruleset.sha256,
            config_sha256="0" * 64,
            rule_packs=tuple((p.id, p.version) for p in ruleset.packs),
            complete=not errors,
        ),
        rules=rules,
        results=tuple(results),
        accounts=tuple(accounts),
        errors=tuple(errors),
        markers=Markers(trusted_access={"aws-artifact-account-sync.amazonaws.com": "2024-03-05T09:12:44Z"}),
    )


def time_to_interactive(path: Path, runs: int) -> list[float]:
    """Milliseconds from navigation start to `window.__reportReady`, one fresh browser page per run."""
    from playwright.sync_api import sync_playwright

    times = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(path.as_uri())  # returns after the load event; the page's script runs before it
                # Polled from here: wait_for_function would eval() in the page, which the CSP forbids.
                deadline = time.monotonic() + 60
                while not page.evaluate("window.__reportReady === true"):
                    if errors or time.monotonic() > deadline:
                        raise RuntimeError(f"report never became ready: {errors}")
                    time.sleep(0.01)
                times.append(float(page.evaluate("window.__reportReadyAt")))
                page.close()
        finally:
            browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return times


def screenshot(report: Path, target: Path) -> None:
    """A picture for the README: the top of the page with the first finding opened."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            page.click("#findings-list article.finding >> nth=0 >> button.toggle")
            height = min(2600, int(page.evaluate("document.documentElement.scrollHeight")))
            page.screenshot(
                path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
            )
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=int, nargs="+", default=[10_000], help="organization sizes (default 10000)"
    )
    parser.add_argument("--runs", type=int, default=3, help="browser loads per size; the median is shown")
    parser.add_argument("--keep", type=Path, help="also write the last report here")
    parser.add_argument("--no-browser", action="store_true", help="size and render time only")
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of the last report (docs/report-screenshot.png)"
    )
    args = parser.parse_args(argv)
    browser = not args.no_browser and Path(CHROMIUM).exists()
    rows = []
    for n in args.accounts:
        scan = synthetic_scan(n)
        started = time.perf_counter()
        page = render(scan)
        render_ms = (time.perf_counter() - started) * 1000
        non_pass = sum(1 for r in scan.results if r.status is not Status.PASS)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.html"
            path.write_bytes(page)
            tti = time_to_interactive(path, args.runs) if browser else []
            if browser and args.screenshot:
                screenshot(path, args.screenshot)
        if args.keep:
            args.keep.write_bytes(page)
        rows.append(
            (
                n,
                len(scan.results),
                non_pass,
                len(page) / 1_000_000,
                render_ms,
                statistics.median(tti) if tti else None,
                max(tti) if tti else None,
            )
        )
    print(
        f"{'accounts':>9} {'results':>9} {'not pass':>9} {'size MB':>8} {'render ms':>10} "
        f"{'TTI ms (median)':>16} {'TTI ms (max)':>13}"
    )
    for n, results, non_pass, size, render_ms, median, worst in rows:
        cells = (
            f"{median:16.0f} {worst:13.0f}"
            if median is not None and worst is not None
            else f"{'-':>16} {'-':>13}"
        )
        print(f"{n:>9,} {results:>9,} {non_pass:>9,} {size:8.2f} {render_ms:10.0f} {cells}")
    if not browser:
        print("time to interactive not measured: --no-browser, or /usr/bin/chromium is missing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
