"""Scale benchmark: the collector over a simulated organization of N accounts, against the latency bound.

    python bench/scale.py                                   # N = 100, 1,000, 10,000; 50 ms per call
    python bench/scale.py --accounts 1000 --rate-limits     # AWS-like limits: sts=20,iam=15,organizations=5
    python bench/scale.py --rate-limits sts=50,organizations=8 --accounts 1000 10000
    python bench/scale.py --accounts 2000 --expiry-seconds 10   # credentials expire every 10 s
    python bench/scale.py --moto-server --accounts 100 500  # the real command against a moto server

Simulated mode (the default) answers every request at the botocore layer (bench/simulator.py: a
`before-send` handler serving generated state after `--latency-ms`), so the figure is the scanner's
own: botocore still builds, signs and parses every request. Each N runs in a fresh process, so that
its peak RSS is its own. For each N it collects with the default configuration, then evaluates the
built-in rule pack and renders every report format, timing each step separately.

The ideal ("the latency-bound ideal for the configured concurrency") is computed from what a perfect
scanner would have to do, not from what this one did:

- start-up: GetCallerIdentity then DescribeOrganization, one after the other (2 latencies; 3 with
  management.role_arn); nothing can be scanned before the organization is known;
- ListAccounts pages are sequential: page p (20 accounts) arrives p page-times after the start-up,
  a page-time being the latency or, when Organizations is rate limited, 1 / rate (the bucket's first
  second of tokens free);
- each account, as soon as its page has arrived, goes to the first of `concurrency` workers free,
  which makes its minimal calls one after the other: AssumeRole (members), one ListRoles page, and 3
  detail reads per role of interest; the two other organization reads (trusted access, agreements)
  take one worker-latency each. The ideal is when the last worker finishes (a list-scheduling
  simulation of that perfect scanner);
- with rate limits (the simulator's, or the scanner's own configured maximum, whichever is lower),
  no API can go faster than its rate: the ideal is at least start-up + (calls - rate) / rate for each
  limited API (the first second's burst free). The ideal is the largest of these bounds: a lower
  bound of any scanner's wall time, so actual / ideal is conservative.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ACCOUNTS = (100, 1_000, 10_000)
EXAMPLE_RATE_LIMITS = {"sts": 20.0, "iam": 15.0, "organizations": 5.0}
PAGE = 20
STARTUP_APIS = frozenset({"sts:GetCallerIdentity", "organizations:DescribeOrganization"})


# --------------------------------------------------------------------------------------------
# The ideal
# --------------------------------------------------------------------------------------------


def ideal_seconds(
    per_account_calls: Sequence[int],
    *,
    concurrency: int,
    latency: float,
    startup_calls: int,
    rates: Mapping[str, float],
    api_calls: Mapping[str, int],
    organization_tasks: int = 2,
) -> dict[str, float]:
    """The bounds described in the module docstring; `per_account_calls` in listing order."""
    start = startup_calls * latency
    org_rate = rates.get("organizations")
    pages = math.ceil(len(per_account_calls) / PAGE)

    def page_time(p: int) -> float:  # p: 1-based
        at_latency = p * latency
        if not org_rate:
            return at_latency
        # Organizations calls before this page: DescribeOrganization, trusted access, the p pages.
        free = org_rate  # the bucket's first second
        return max(at_latency, (p + 2 - free) / org_rate)

    workers = [start] * max(1, concurrency)
    heapq.heapify(workers)
    for _ in range(organization_tasks):
        heapq.heappush(workers, heapq.heappop(workers) + latency)
    for index, calls in enumerate(per_account_calls):
        available = start + page_time(index // PAGE + 1)
        free = heapq.heappop(workers)
        heapq.heappush(workers, max(free, available) + calls * latency)
    latency_bound = max(*workers, start + page_time(pages))
    bounds = {"latency": latency_bound}
    for service, rate in rates.items():
        if service == "iam" or not rate:
            continue  # iam is per account (never binding here)
        # The start-up's own calls are inside `start`; counting them again would overstate the bound.
        calls = sum(n for api, n in api_calls.items() if api.startswith(f"{service}:") and api not in STARTUP_APIS)
        bounds[service] = start + max(0.0, calls - rate) / rate
    bounds["ideal"] = max(bounds.values())
    return bounds


# --------------------------------------------------------------------------------------------
# One N, simulated, in this process (run as a child)
# --------------------------------------------------------------------------------------------


def run_simulated(args: argparse.Namespace, accounts: int) -> dict[str, Any]:
    import boto3

    from bench.simulator import (
        BASE_ACCESS_KEY,
        BASE_SECRET_KEY,
        MANAGEMENT_ID,
        SimulatedOrganization,
        integrations_for_bench,
    )
    from scanner import run as pipeline
    from scanner.collect import collect
    from scanner.config import Collection, Config, ManagementAccess, OutputConfig
    from scanner.evaluate import evaluate
    from scanner.model import Status
    from scanner.report import WRITERS
    from scanner.rules import load_rules
    from scanner.snapshot import dumps

    sim = SimulatedOrganization(
        accounts,
        latency=args.latency_ms / 1000,
        roles_per_account=args.roles_per_account,
        legacy_every=args.legacy_every,
        rate_limits=args.rate_limits or {},
        expiry_seconds=args.expiry_seconds or 3600.0,
        integrations=integrations_for_bench(args.integrations),
        delegated_every=args.delegated_every,
        scope=frozenset(collection_scope(args.scope)),
    )
    scope = collection_scope(args.scope)
    session = boto3.Session(
        aws_access_key_id=BASE_ACCESS_KEY, aws_secret_access_key=BASE_SECRET_KEY, region_name="us-east-1"
    )
    sim.install(session)
    collection = Collection() if args.concurrency is None else Collection(concurrency=args.concurrency)
    management = ManagementAccess()
    if args.expiry_seconds:  # exercise the refresh of the management role's credentials too
        management = ManagementAccess(role_arn=f"arn:aws:iam::{MANAGEMENT_ID}:role/Auditor")
    config = Config(management=management, collection=collection)
    ruleset = load_rules([], builtin=True)

    started, cpu_started = time.perf_counter(), time.process_time()
    snapshot = collect(config, rules_sha256=ruleset.sha256, session=session, integrations=scope)
    wall = time.perf_counter() - started
    collect_cpu = time.process_time() - cpu_started
    collect_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.collect_only:  # the collection's figures alone: evaluating and reporting 10,000 accounts take minutes
        results: list[Any] = []
        errors: list[Any] = []
        evaluate_seconds = reports_seconds = default_reports_seconds = snapshot_seconds = derive_seconds = 0.0
        writer_seconds, sizes, snapshot_size = {}, {}, 0
        default_formats = OutputConfig().formats
    else:
        started = time.perf_counter()
        result = evaluate(ruleset, snapshot, run_id="bench")
        evaluate_seconds = time.perf_counter() - started

        out = Path(tempfile.mkdtemp(prefix="artifact-scan-bench-"))
        try:
            sizes = {}
            writer_seconds = {}
            for name in sorted(WRITERS):
                writer = WRITERS[name]
                started = time.perf_counter()
                data = writer.render(result)
                (out / writer.filename).write_bytes(data)
                writer_seconds[name] = time.perf_counter() - started
                sizes[name] = len(data)
                del data  # one report's bytes at a time, as `scan` writes them
            reports_seconds = sum(writer_seconds.values())
            # What a plain `scan` writes (output.formats' default), beside every format: the budget counts both.
            default_formats = OutputConfig().formats
            default_reports_seconds = sum(writer_seconds[name] for name in default_formats)
            started = time.perf_counter()
            snapshot_data = dumps(snapshot)
            (out / "snapshot.json").write_bytes(snapshot_data)
            snapshot_seconds = time.perf_counter() - started
            # What `scan` really does after collecting: derive every report from the run's inputs (the snapshot
            # parsed again from its bytes, as `scan --snapshot` and `evidence verify` do), one code path for all.
            inputs = {
                pipeline.SNAPSHOT_FILE: snapshot_data,
                pipeline.SETTINGS_FILE: pipeline.settings_bytes(config, run_id="bench", evaluated_at="2026-01-01T00:00:00Z"),
                **{f"{pipeline.RULES_DIR}/{name}": data for name, data in ruleset.files},
            }
            started = time.perf_counter()
            pipeline.derive(inputs, sorted(WRITERS))
            derive_seconds = time.perf_counter() - started
            snapshot_size = (out / "snapshot.json").stat().st_size
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results = list(result.results)
        errors = [r for r in results if r.status is Status.ERROR]

    stats = snapshot.metadata.stats or {}
    rates = {
        service: min(x for x in (config.collection.max_requests_per_second.get(service), sim.rate_limits.get(service)) if x)
        for service in ("sts", "organizations", "iam", "artifact")
    }
    per_account = [sim.ideal_calls(account) for account in sim.ids]
    ideal_calls = ideal_calls_by_operation(sim, scope, management_role=management.role_arn is not None)
    ideal = ideal_seconds(
        per_account,
        concurrency=config.collection.concurrency,
        latency=sim.latency,
        startup_calls=3 if management.role_arn else 2,
        rates=rates,
        api_calls=ideal_calls,
        organization_tasks=organization_tasks(ideal_calls),
    )
    member_calls = sim.member_calls()
    healthy = [c for a, c in sim.per_account.items() if a not in ("?", MANAGEMENT_ID) and not sim.roles_of_interest(a)]
    typical = Counter(healthy).most_common(1)[0][0] if healthy else 0
    return {
        "mode": "simulated",
        "accounts": accounts,
        "latency_ms": args.latency_ms,
        "concurrency": config.collection.concurrency,
        "rate_limits": dict(sim.rate_limits),
        "expiry_seconds": args.expiry_seconds,
        "wall_seconds": wall,
        "collect_cpu_seconds": collect_cpu,
        "ideal": ideal,
        "ratio": wall / ideal["ideal"],
        "calls_by_operation": dict(sorted(sim.calls.items())),
        "calls_total": sum(sim.calls.values()),
        "ideal_calls_by_operation": dict(sorted(ideal_calls.items())),
        "ideal_calls_total": sum(ideal_calls.values()),
        "integrations": [entry.id for entry in sim.integrations],
        "enabled_principals": len(sim.enabled_principals),
        "management_roles": len(sim.management_roles),
        "member_service_linked_roles": len(sim.member_roles),
        "delegated_administrators": {a: len(p) for a, p in sorted(sim.delegated.items())},
        "scope": args.scope,
        "scope_integrations": len(scope),
        "scanner_stats": stats,
        "retries": sum(s.get("retries", 0) for s in stats.values()),
        "throttled": sum(sim.throttled.values()),
        "expired_answers": sum(sim.expired.values()),
        "member_calls": {str(k): v for k, v in sorted(member_calls.items())},
        "healthy_member_calls_max": max(healthy) if healthy else 0,
        "healthy_member_calls_typical": typical,
        "management_calls": sim.per_account.get(MANAGEMENT_ID, 0),
        "management_account_scan_calls": sum(
            n for (account, api), n in sim.per_account_api.items() if account == MANAGEMENT_ID and api.startswith("iam:")
        ),
        "first_member_assume_role_at": sim.first_member_assume,
        "last_list_accounts_page_at": sim.last_list_accounts,
        "complete": snapshot.metadata.complete,
        "accounts_in_error": len({r.account_id for r in errors} | {a.id for a in snapshot.accounts if a.errors}),
        "error_results": len(errors),
        "results": len(results),
        "collect_only": args.collect_only,
        "evaluate_seconds": evaluate_seconds,
        "reports_seconds": reports_seconds,
        "default_formats": list(default_formats),
        "default_reports_seconds": default_reports_seconds,
        "writer_seconds": writer_seconds,
        "report_bytes": sizes,
        "snapshot_seconds": snapshot_seconds,
        "derive_seconds": derive_seconds,
        "snapshot_bytes": snapshot_size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "collect_peak_rss_mb": collect_rss,
    }


def collection_scope(scope: str) -> tuple[str, ...]:
    """The integrations the collection is for: the built-in packs', or every catalog integration (what the
    `organizations` pack, `integration: "*"`, makes the scope)."""
    from scanner import integrations
    from scanner.catalog import load_catalog

    if scope == "catalog":
        return tuple(entry.id for entry in load_catalog().integrations)
    return integrations.builtin_pack_integrations()


def ideal_calls_by_operation(sim: Any, scope: Sequence[str], *, management_role: bool = False) -> dict[str, int]:
    """What a perfect scanner calls per API over the whole organization (SPEC14's rule, see
    SimulatedOrganization.ideal_calls_by_operation): the delegated-administrator reads when the scope holds an
    integration that supports one, the agreements when it holds Artifact's (the reader the collector runs)."""
    from scanner.catalog import load_catalog
    from scanner.model import AGREEMENTS_INTEGRATION

    catalog = load_catalog()
    delegated = any(
        (entry := catalog.get(i)) is not None and entry.delegated_administrator.supported for i in scope
    )
    calls: dict[str, int] = sim.ideal_calls_by_operation(
        management_role=management_role, agreements=AGREEMENTS_INTEGRATION in scope, delegated_reads=delegated
    )
    return calls


ORGANIZATION_READS = (
    "organizations:ListAWSServiceAccessForOrganization",
    "artifact:ListCustomerAgreements",
    "organizations:ListDelegatedAdministrators",
    "organizations:ListDelegatedServicesForAccount",
)


def organization_tasks(calls: Mapping[str, int]) -> int:
    """The organization-level reads beside the listing, each one worker-latency: trusted access, agreements,
    and the delegated-administrator reads (counted as independent, which only lowers the ideal)."""
    return sum(calls.get(api, 0) for api in ORGANIZATION_READS)


# --------------------------------------------------------------------------------------------
# One N against a moto server: the real command, end to end
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_moto_server(args: argparse.Namespace, accounts: int) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AWS_PROFILE", None)
    try:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        orgs = session.client("organizations", endpoint_url=endpoint)
        orgs.create_organization(FeatureSet="ALL")
        orgs.enable_aws_service_access(ServicePrincipal="aws-artifact-account-sync.amazonaws.com")
        started = time.perf_counter()
        for n in range(1, accounts):
            orgs.create_account(Email=f"member{n}@example.com", AccountName=f"member-{n}")
        build_seconds = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="artifact-scan-moto-") as tmp:
            config = Path(tmp) / "config.yaml"
            # moto's server does not implement the Artifact API (HTTP 500): one attempt, recorded as an error.
            config.write_text("collection:\n  max_attempts: 1\n")
            output = Path(tmp) / "snapshot.json"
            command = [sys.executable, "-m", "scanner", "collect", "--config", str(config), "-o", str(output), "-q"]
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            stderr = process.stderr.read().decode() if process.stderr else ""
            document = json.loads(output.read_text()) if output.exists() else {}
    finally:
        server.stop()
    meta = document.get("metadata", {})
    stats = meta.get("stats") or {}
    calls = {op: s["calls"] for op, s in stats.items()}
    scanned = [a for a in document.get("accounts", []) if a.get("scanned")]
    return {
        "mode": "moto-server",
        "accounts": accounts,
        "build_seconds": build_seconds,
        "wall_seconds": wall,
        "exit_code": os.waitstatus_to_exitcode(status),
        "stderr_tail": stderr.strip().splitlines()[-3:],
        "calls_by_operation": calls,
        "calls_total": sum(calls.values()),
        "retries": sum(s.get("retries", 0) for s in stats.values()),
        "accounts_scanned": len(scanned),
        "accounts_with_errors": sum(1 for a in scanned if a.get("errors")),
        "organization_errors": [e["api"] + ": " + e["code"] for e in document.get("organization", {}).get("errors", [])],
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def print_simulated(rows: Sequence[Mapping[str, Any]], out: Any = sys.stdout) -> None:
    first = rows[0]
    limits = ", ".join(f"{k}={v:g}/s" for k, v in first["rate_limits"].items()) or "none"
    out.write(
        f"simulated organization: {first['latency_ms']:g} ms per call, concurrency {first['concurrency']}, "
        f"simulated rate limits: {limits}"
        + (f", credentials expire after {first['expiry_seconds']:g} s" if first["expiry_seconds"] else "")
        + "\n\n"
    )
    header = ("accounts", "wall s", "ideal s", "actual/ideal", "collect CPU s", "CPU ms/account", "CPU ms/call",
              "API calls (ideal)", "requests/healthy member (max)",
              "mgmt account scan calls", "retries", "throttled", "peak RSS MB: collect (all)", "evaluate s", "reports s: default (every format)",
              "1st member AssumeRole s", "last ListAccounts s")
    lines = []
    for r in rows:
        lines.append((
            f"{r['accounts']:,}", _fmt(r["wall_seconds"]), _fmt(r["ideal"]["ideal"]), f"{r['ratio']:.2f}",
            _fmt(r["collect_cpu_seconds"]), f"{1000 * r['collect_cpu_seconds'] / r['accounts']:.2f}",
            f"{1000 * r['collect_cpu_seconds'] / max(1, r['calls_total']):.2f}",
            f"{r['calls_total']:,} ({r['ideal_calls_total']:,})",
            f"{r['healthy_member_calls_typical']} ({r['healthy_member_calls_max']})", str(r["management_account_scan_calls"]),
            f"{r['retries']:,}", f"{r['throttled']:,}", f"{r['collect_peak_rss_mb']:.0f} ({r['peak_rss_mb']:.0f})", f"{r['evaluate_seconds']:.2f}",
            f"{r['default_reports_seconds']:.2f} ({r['reports_seconds']:.2f})", f"{r['first_member_assume_role_at']:.2f}",
            f"{r['last_list_accounts_page_at']:.2f}",
        ))
    _table(header, lines, out)
    out.write(
        f"\nintegrations enabled besides Artifact's: {len(first['integrations'])} ({', '.join(first['integrations']) or 'none'}); "
        f"{first['enabled_principals']} principals with trusted access; {first['management_roles']} service-linked roles "
        f"in the management account, {first['member_service_linked_roles']} in every member; delegated administrators "
        f"(account: services): {first['delegated_administrators'] or 'none'}; collection scope: {first['scope']} "
        f"({first['scope_integrations']} integrations)\n")
    out.write("\nRequests by operation, actual (every request the simulator answered, throttled ones included) "
              "and ideal (what a perfect scanner must call: bench/README.md):\n\n")
    operations = sorted({op for r in rows for op in (*r["calls_by_operation"], *r["ideal_calls_by_operation"])})
    header2 = ("operation", *(f"N={r['accounts']:,} actual (ideal)" for r in rows),
               *(f"per member, N={r['accounts']:,}" for r in rows[-1:]))
    lines2 = []
    for op in operations:
        counts = [r["calls_by_operation"].get(op, 0) for r in rows]
        ideals = [r["ideal_calls_by_operation"].get(op, 0) for r in rows]
        members = max(1, rows[-1]["accounts"] - 1)
        lines2.append((op, *(f"{c:,} ({i:,})" + (" *" if c != i else "") for c, i in zip(counts, ideals, strict=True)),
                       f"{counts[-1] / members:.3f}"))
    _table(header2, lines2, out)
    out.write("* actual differs from the ideal\n")
    out.write("\nideal bounds (s): " + "; ".join(
        f"N={r['accounts']:,}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["ideal"].items() if k != "ideal")
        for r in rows) + "\n")
    out.write("complete: " + ", ".join(
        f"N={r['accounts']:,}: {r['complete']} ({r['accounts_in_error']} accounts in error, "
        f"{r['expired_answers']} requests with expired credentials, "
        f"{r['calls_by_operation'].get('sts:AssumeRole', 0) - (r['accounts'] - 1)} AssumeRole beyond one per member)"
        for r in rows) + "\n")
    if first.get("collect_only"):
        out.write("evaluation, reports and derive: not run (--collect-only)\n")
        return
    out.write("reports (s): " + "; ".join(
        f"N={r['accounts']:,}: default formats ({', '.join(r['default_formats'])}) {r['default_reports_seconds']:.2f}, "
        f"every format {r['reports_seconds']:.2f} ("
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["writer_seconds"].items()) + ")"
        for r in rows) + "\n")
    out.write("derive (scan's pipeline: parse the snapshot, evaluate, every report): " + ", ".join(
        f"N={r['accounts']:,}: {r['derive_seconds']:.2f} s" for r in rows) + "\n")
    out.write("snapshot.json: " + ", ".join(f"N={r['accounts']:,}: {r['snapshot_seconds']:.2f} s, "
                                          f"{r['snapshot_bytes'] / 1e6:.1f} MB" for r in rows) + "\n")


def print_moto(rows: Sequence[Mapping[str, Any]], out: Any = sys.stdout) -> None:
    out.write("moto server, end to end: `python -m scanner collect` against AWS_ENDPOINT_URL (max_attempts 1)\n\n")
    header = ("accounts", "build s", "wall s", "exit", "API calls", "retries", "scanned", "with errors",
              "peak RSS MB", "organization errors")
    lines = [(
        f"{r['accounts']:,}", _fmt(r["build_seconds"]), _fmt(r["wall_seconds"]), str(r["exit_code"]),
        f"{r['calls_total']:,}", str(r["retries"]), f"{r['accounts_scanned']:,}", str(r["accounts_with_errors"]),
        f"{r['peak_rss_mb']:.0f}", "; ".join(r["organization_errors"]) or "none",
    ) for r in rows]
    _table(header, lines, out)


def _table(header: Sequence[str], lines: Sequence[Sequence[str]], out: Any) -> None:
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out.write("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + " |\n")
    out.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")
    for line in lines:
        out.write("| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=False))) + " |\n")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _rate_limits(text: str) -> dict[str, float]:
    limits = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in ("sts", "iam", "organizations", "artifact") or not value:
            raise argparse.ArgumentTypeError(f"expected service=rate[,service=rate], services sts, iam, organizations, artifact: {text!r}")
        limits[name.strip()] = float(value)
    return limits


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, nargs="+", default=list(DEFAULT_ACCOUNTS), metavar="N",
                   help="organization sizes, the management account included (default: 100 1000 10000)")
    p.add_argument("--latency-ms", type=float, default=50.0, help="simulated latency of every call (default 50)")
    p.add_argument("--rate-limits", nargs="?", type=_rate_limits, const=EXAMPLE_RATE_LIMITS, default=None,
                   metavar="SERVICE=RATE,...",
                   help="simulated AWS rate limits per second (alone: sts=20,iam=15,organizations=5)")
    p.add_argument("--expiry-seconds", type=float, default=None,
                   help="simulated AssumeRole credentials expire after this; the scan then assumes a "
                   "management role too, whose credentials must be refreshed as well")
    p.add_argument("--concurrency", type=int, default=None, help="collection.concurrency (default: the config's)")
    p.add_argument("--roles-per-account", type=int, default=20, help="ordinary roles in every account (default 20)")
    p.add_argument("--legacy-every", type=int, default=100,
                   help="every n-th member holds the legacy AWSArtifactAccountSync role (default 100; 0: none)")
    p.add_argument("--integrations", type=int, default=10, metavar="N",
                   help="catalog integrations with trusted access enabled besides Artifact's, with their "
                   "service-linked roles and some delegated administrators (default 10; 0: Artifact's alone)")
    p.add_argument("--scope", choices=("catalog", "builtin"), default="catalog",
                   help="integrations the collection is for: every catalog integration, as the `organizations` "
                   "pack makes it (default), or the built-in packs' as found in the package")
    p.add_argument("--delegated-every", type=int, default=2, metavar="N",
                   help="every n-th enabled integration that supports one has a delegated administrator (default 2)")
    p.add_argument("--collect-only", action="store_true",
                   help="time the collection alone (no evaluation, reports or derive): the speed target's figures")
    p.add_argument("--moto-server", action="store_true", help="run the real command against a moto server instead")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.child is not None:
        run = run_moto_server if args.moto_server else run_simulated
        print(json.dumps(run(args, args.child)))
        return 0
    rows = []
    forwarded = [a for a in (argv if argv is not None else sys.argv[1:])]
    forwarded = _without_accounts(forwarded)
    for accounts in args.accounts:
        print(f"running N={accounts:,} ...", file=sys.stderr, flush=True)  # the table goes to stdout
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *forwarded, "--child", str(accounts)],
            capture_output=True, text=True, cwd=ROOT,
        )
        if completed.returncode != 0:
            sys.stderr.write(completed.stderr)
            return 1
        rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    (print_moto if args.moto_server else print_simulated)(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _without_accounts(argv: list[str]) -> list[str]:
    out, skipping = [], False
    for arg in argv:
        if arg == "--accounts":
            skipping = True
            continue
        if skipping and arg.isdigit():
            continue
        skipping = False
        if arg.startswith("--accounts="):
            continue
        out.append(arg)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
