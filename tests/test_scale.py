"""Scale: the collector against the benchmark's simulated organization (bench/simulator.py), the rate
limiter, credential refresh, interrupts, shards and their merge. Behaviour, not timing: small
organizations and latencies of a few milliseconds keep the file fast; bench/scale.py measures.
"""

from __future__ import annotations

import _thread
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import ClientError

from bench.simulator import (
    BASE_ACCESS_KEY,
    BASE_SECRET_KEY,
    MANAGEMENT_ID,
    SimulatedOrganization,
    member_id,
)
from scanner import demo
from scanner import snapshot as snapshots
from scanner.cli.command import main
from scanner.collect import collect
from scanner.collect.limits import RateLimiter, RetryPolicy, classify
from scanner.config import Collection, Config, ManagementAccess, load_config
from scanner.errors import ScanInterrupted
from scanner.evaluate import evaluate
from scanner.model import Snapshot
from scanner.rules import load_rules
from scanner.snapshot.merge import MergeError, merge
from scanner.snapshot.shard import Shard, shard_of

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules([], builtin=True)


def simulated(sim: SimulatedOrganization) -> boto3.Session:
    session = boto3.Session(aws_access_key_id=BASE_ACCESS_KEY, aws_secret_access_key=BASE_SECRET_KEY,
                            region_name="us-east-1")
    sim.install(session)
    return session


def scan(sim: SimulatedOrganization, config: Config | None = None, **kwargs: Any) -> Snapshot:
    return collect(config or Config(), rules_sha256=RULES.sha256, session=simulated(sim), **kwargs)


def results(snapshot: Snapshot) -> tuple[Any, ...]:
    return evaluate(RULES, snapshot, run_id="same", evaluated_at="2026-01-01T00:00:00Z").results


# --------------------------------------------------------------------------------------------
# The simulator answers as AWS does
# --------------------------------------------------------------------------------------------


def test_the_simulator_answers_like_aws() -> None:
    sim = SimulatedOrganization(45, latency=0, roles_per_account=3, legacy_every=2, expiry_seconds=0.2,
                                rate_limits={"organizations": 1})
    session = simulated(sim)
    once = BotocoreConfig(retries={"mode": "standard", "total_max_attempts": 1})  # see every answer as it is
    orgs = session.client("organizations", config=once)
    first = orgs.list_accounts(MaxResults=20)
    assert len(first["Accounts"]) == 20 and first["NextToken"]
    assert first["Accounts"][0]["Id"] == MANAGEMENT_ID and first["Accounts"][1]["State"] == "ACTIVE"
    with pytest.raises(ClientError) as throttled:  # the bucket held one second: one request
        orgs.list_accounts(MaxResults=20, NextToken=first["NextToken"])
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"

    answer = session.client("sts").assume_role(RoleArn=f"arn:aws:iam::{member_id(2)}:role/OrganizationAccountAccessRole",
                                               RoleSessionName="test")
    keys = answer["Credentials"]
    iam = session.client("iam", aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
                         aws_session_token=keys["SessionToken"], config=once)
    roles = iam.list_roles(MaxItems=2)
    assert roles["IsTruncated"] and [r["RoleName"] for r in roles["Roles"]] == ["OrganizationAccountAccessRole",
                                                                              "app-role-0001"]
    assert roles["Roles"][0]["Arn"] == f"arn:aws:iam::{member_id(2)}:role/OrganizationAccountAccessRole"
    rest = iam.list_roles(MaxItems=1000, Marker=roles["Marker"])["Roles"]
    assert [r["RoleName"] for r in rest] == ["app-role-0002", "AWSArtifactAccountSync"]  # legacy member
    assert rest[1]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == (
        "aws-artifact-account-sync.amazonaws.com")
    time.sleep(0.25)
    with pytest.raises(ClientError) as expired:
        iam.list_roles()
    assert expired.value.response["Error"]["Code"] == "ExpiredToken"
    with pytest.raises(ClientError) as throttled_iam:
        limited = SimulatedOrganization(2, latency=0, rate_limits={"iam": 1})
        client = simulated(limited).client("iam", config=once)
        client.list_roles()
        client.list_roles()
    assert throttled_iam.value.response["Error"] == {"Code": "Throttling", "Message": "Rate exceeded",
                                                     "Type": "Sender"}


# --------------------------------------------------------------------------------------------
# Calls: two per healthy member, the listing overlapping the scan
# --------------------------------------------------------------------------------------------


def test_a_healthy_member_with_1000_roles_costs_two_calls() -> None:
    sim = SimulatedOrganization(6, latency=0, roles_per_account=1000, legacy_every=5)

    snapshot = scan(sim)

    assert snapshot.metadata.complete
    members = [a for a in snapshot.accounts if not a.is_management]
    assert all(a.roles_listed == 1000 + sim.is_legacy(a.id) for a in members)
    healthy = [a.id for a in members if not sim.is_legacy(a.id)]
    assert len(healthy) == 4
    for account in healthy:
        assert {api: n for (acct, api), n in sim.per_account_api.items() if acct == account} == {
            "sts:AssumeRole": 1, "iam:ListRoles": 1}
    # The management account: one ListRoles page (1,001 roles at 1,000 a page: two) plus the service-linked
    # role's three detail reads; the legacy member: its role's three.
    management = {api: n for (acct, api), n in sim.per_account_api.items() if acct == MANAGEMENT_ID and "iam:" in api}
    assert management == {"iam:ListRoles": 2, "iam:GetRole": 1, "iam:ListAttachedRolePolicies": 1,
                          "iam:ListRolePolicies": 1}
    legacy = member_id(5)  # 1,001 roles: two pages, then its role of interest's three detail reads
    assert sim.per_account[legacy] == 6
    # The scanner's own counts agree with what the simulator answered.
    stats = snapshot.metadata.stats or {}
    assert {op: s["calls"] for op, s in stats.items()} == dict(sim.calls)
    assert all(s["retries"] == 0 for s in stats.values())


def test_accounts_are_scanned_while_the_listing_pages() -> None:
    sim = SimulatedOrganization(200, latency=0.005, roles_per_account=2)  # 10 pages

    snapshot = scan(sim)

    assert len(snapshot.accounts) == 200 and snapshot.metadata.complete
    assert sim.calls["organizations:ListAccounts"] == 10
    assert sim.first_member_assume is not None and sim.last_list_accounts is not None
    assert sim.first_member_assume < sim.last_list_accounts


# --------------------------------------------------------------------------------------------
# Rate limits and retries
# --------------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sent(limiter: RateLimiter, fake: FakeTime) -> float:
    """When a request could go: the (fake) time acquire() returned at."""
    limiter.acquire()
    return fake.now


def test_the_limiter_paces_after_a_one_second_burst() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10, clock=fake.clock, sleep=fake.sleep)
    starts = [sent(limiter, fake) for _ in range(15)]
    assert starts[:10] == [100.0] * 10  # one second of tokens
    assert starts[10:] == pytest.approx([100.1, 100.2, 100.3, 100.4, 100.5])


def test_a_throttling_answer_slows_every_worker_sharing_the_limit_then_the_rate_recovers() -> None:
    fake = FakeTime()
    limiter = RateLimiter(100, clock=fake.clock, sleep=fake.sleep)
    reserved = [limiter.acquire() for _ in range(40)]
    fake.now += 0.5
    for _ in range(10):  # 10 answers got through in the last second: AWS allows about 10 per second
        limiter.succeeded()
    fake.now += 0.5
    assert limiter.throttled(reserved[-1]) is True
    assert limiter.rate == pytest.approx(10 * RateLimiter.MARGIN)
    # Requests paced (their tokens reserved) before the decrease went at the old rate: no second decrease.
    assert limiter.throttled(reserved[-2]) is False
    assert limiter.rate == pytest.approx(9)
    # Every thread now waits its turn at the lower rate.
    before = len(fake.slept)
    a, b, c = sent(limiter, fake), sent(limiter, fake), sent(limiter, fake)
    assert b - a == pytest.approx(1 / 9, rel=0.02) and c - b == pytest.approx(1 / 9, rel=0.02)
    assert len(fake.slept) > before
    # Nothing got through at all: the rate halves.
    fake.now += 10
    assert limiter.throttled(fake.now) is True
    assert limiter.rate < 9
    # Then it grows back, linearly, to the configured maximum.
    fake.now += 1000
    assert limiter.rate == 100


def test_classify_and_the_retry_bound() -> None:
    class Response:
        def __init__(self, status: int) -> None:
            self.status_code = status

    throttled = (Response(400), {"Error": {"Code": "TooManyRequestsException"}})
    assert classify(throttled, None) == "throttling"
    assert classify((Response(429), {}), None) == "throttling"
    assert classify((Response(503), {"Error": {"Code": "ServiceUnavailable"}}), None) == "transient"
    assert classify((Response(403), {"Error": {"Code": "AccessDenied"}}), None) is None
    assert classify((Response(200), {}), None) is None
    policy = RetryPolicy(3, rand=lambda: 1.0)
    assert policy.delay("transient", 1) == 1.0 and policy.delay("transient", 2) == 2.0
    assert policy.delay("transient", 3) is None and policy.delay("throttling", 3) is None
    assert policy.delay("throttling", 1) == RetryPolicy.THROTTLE_PAUSE


def test_under_rate_limits_the_scan_finishes_without_error_and_reports_its_retries() -> None:
    sim = SimulatedOrganization(80, latency=0.002, roles_per_account=2, legacy_every=10,
                                rate_limits={"sts": 30, "iam": 2, "organizations": 4})
    config = Config(collection=Collection(concurrency=8))
    started = time.monotonic()

    snapshot = scan(sim, config)

    elapsed = time.monotonic() - started
    assert snapshot.metadata.complete and snapshot.errors == ()
    assert len([a for a in snapshot.accounts if a.roles_listed is not None]) == 80
    throttled = sum(sim.throttled.values())
    stats = snapshot.metadata.stats or {}
    assert throttled > 0 and sum(s["retries"] for s in stats.values()) == throttled
    assert sum(s["throttled"] for s in stats.values()) == throttled
    # The shared limiter found the limit: the scan was throttled a few times, not once per request.
    assert sim.throttled["sts:AssumeRole"] < 30
    # And it never went faster than AWS allows (79 AssumeRoles at 30/s, the first 30 free).
    assert elapsed >= (79 - 30) / 30


def test_transient_failures_are_retried_with_backoff_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "BASE", 0.001)
    sim = SimulatedOrganization(3, latency=0, roles_per_account=1)
    session = simulated(sim)
    failures = {"left": 2}

    def unavailable(request: Any, **_: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            return demo.error_response(503, "ServiceUnavailable", "try again")[0]
        return None

    session.events.register_first("before-send.iam.ListRoles", unavailable)

    snapshot = collect(Config(collection=Collection(concurrency=1)), rules_sha256="r", session=session)

    assert snapshot.metadata.complete
    assert (snapshot.metadata.stats or {})["iam:ListRoles"] == {"calls": 3, "retries": 2, "throttled": 0}


# --------------------------------------------------------------------------------------------
# Credentials: reused within an account, refreshed before they expire
# --------------------------------------------------------------------------------------------


def test_credentials_are_reused_and_refreshed_before_they_expire() -> None:
    # Credentials live 1 s; every call takes 0.25 s; a legacy member's five calls take 1.25 s.
    sim = SimulatedOrganization(4, latency=0.25, roles_per_account=1, legacy_every=1, expiry_seconds=1.0)
    config = Config(management=ManagementAccess(role_arn=f"arn:aws:iam::{MANAGEMENT_ID}:role/Auditor"),
                    collection=Collection(concurrency=3))

    snapshot = scan(sim, config)

    assert snapshot.metadata.complete and snapshot.errors == ()
    assert sum(sim.expired.values()) == 0  # no request was ever signed with expired credentials
    for n in (1, 2, 3):
        assumed = sim.per_account_api[(member_id(n), "sts:AssumeRole")]
        assert 2 <= assumed <= 3  # refreshed once (or twice), not once per call
        assert sim.per_account_api[(member_id(n), "iam:ListRoles")] == 1
    assert sim.per_account_api[(MANAGEMENT_ID, "sts:AssumeRole")] >= 2  # the management role too


# --------------------------------------------------------------------------------------------
# Interrupts
# --------------------------------------------------------------------------------------------


@pytest.fixture
def interrupt_after() -> Iterator[Any]:
    timers: list[threading.Timer] = []

    def arm(seconds: float) -> None:
        timer = threading.Timer(seconds, _thread.interrupt_main)
        timers.append(timer)
        timer.start()

    yield arm
    for timer in timers:
        timer.cancel()


def test_an_interrupt_raises_scan_interrupted_with_what_was_read_at_once(interrupt_after: Any) -> None:
    sim = SimulatedOrganization(400, latency=0.1, roles_per_account=1)
    interrupt_after(1.0)
    started = time.monotonic()

    with pytest.raises(ScanInterrupted) as caught:
        scan(sim, Config(collection=Collection(concurrency=4)))

    # The whole scan would take about 20 s (400 accounts, 0.1 s a call, 4 workers); stopping at once ends it
    # far sooner. The bound is loose so that a loaded machine cannot make the test flaky.
    assert time.monotonic() - started < 10
    partial = caught.value.snapshot
    assert isinstance(partial, Snapshot)
    assert partial.metadata.interrupted and not partial.metadata.complete
    assert partial.organization.description is not None
    assert 0 < len(partial.accounts) < 400 and all(a.roles_listed is not None for a in partial.accounts)
    assert not [t for t in threading.enumerate() if t.name.startswith("artifact-scan") and not t.daemon]


def test_an_interrupt_before_the_organization_is_known_keeps_an_empty_snapshot(interrupt_after: Any) -> None:
    sim = SimulatedOrganization(3, latency=1.0)
    interrupt_after(0.3)
    with pytest.raises(ScanInterrupted) as caught:
        scan(sim)
    partial = caught.value.snapshot
    assert isinstance(partial, Snapshot) and partial.accounts == () and partial.metadata.interrupted


INTERRUPTED_PROCESS = """
import _thread, sys, threading, time, boto3
from bench.simulator import BASE_ACCESS_KEY, BASE_SECRET_KEY, SimulatedOrganization
from scanner.collect import collect
from scanner.config import Collection, Config
from scanner.errors import ScanInterrupted

sim = SimulatedOrganization(50, latency=600.0)  # every call hangs for 10 minutes
session = boto3.Session(aws_access_key_id=BASE_ACCESS_KEY, aws_secret_access_key=BASE_SECRET_KEY,
                        region_name="us-east-1")
sim.install(session)
threading.Timer(0.5, _thread.interrupt_main).start()
try:
    collect(Config(collection=Collection(concurrency=4)), rules_sha256="r", session=session)
except ScanInterrupted as exc:
    print("interrupted", exc.snapshot.metadata.interrupted, flush=True)
"""


def test_threads_in_flight_do_not_keep_the_process_alive() -> None:
    # The calls in flight hang for 10 minutes: a process that waited for them would hit this timeout. The
    # margin is wide so that a loaded CI machine, slow to start Python and boto3, cannot make it flaky.
    completed = subprocess.run([sys.executable, "-c", INTERRUPTED_PROCESS], capture_output=True, text=True,
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=False)
    assert completed.stdout.strip() == "interrupted True", completed.stderr


# --------------------------------------------------------------------------------------------
# Shards and merge
# --------------------------------------------------------------------------------------------


def test_the_shard_partition_is_stable_and_complete() -> None:
    ids = [member_id(n) for n in range(1, 2001)]
    for count in (1, 2, 3, 7):
        owners = [[s for s in range(1, count + 1) if Shard(s, count).owns(a)] for a in ids]
        assert all(len(o) == 1 for o in owners)  # every account in exactly one shard
        sizes = [sum(1 for o in owners if o == [s]) for s in range(1, count + 1)]
        assert min(sizes) > 2000 / count * 0.85  # and the shards are about even
    # sha256 of the id, first 8 bytes big-endian, mod n: the same everywhere, forever.
    assert [shard_of("123456789012", n) for n in (1, 2, 3, 4, 10)] == [1, 1, 2, 3, 5]
    assert shard_of("123456789012", 4) == shard_of("123456789012", 4)


def test_shard_specs_are_validated() -> None:
    assert Shard.parse("2/8") == Shard(2, 8) and str(Shard(2, 8)) == "2/8"
    for bad in ("0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "-1/2", ""):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def collect_shards(sim: SimulatedOrganization, count: int) -> list[tuple[str, Snapshot]]:
    return [(f"shard-{i}.json", scan(sim, shard=Shard(i, count))) for i in range(1, count + 1)]


def test_merged_shards_evaluate_exactly_like_one_full_run() -> None:
    sim = SimulatedOrganization(61, latency=0, roles_per_account=3, legacy_every=4, denied_accounts=frozenset(
        {member_id(5), member_id(6)}))
    full = scan(sim)
    shards = collect_shards(sim, 3)

    for name, shard in shards:
        members = [a for a in shard.accounts if not a.is_management]
        assert all(Shard.parse(shard.metadata.shard or "").owns(a.id) for a in members), name
        assert any(a.is_management for a in shard.accounts)  # every shard reads the management account
        assert shard.metadata.listed_accounts == tuple(sorted(sim.ids))
        assert shard.organization == full.organization
    merged = merge(shards)

    assert merged.accounts == full.accounts
    assert merged.organization == full.organization
    assert merged.metadata.shard is None and merged.metadata.complete == full.metadata.complete is False
    assert results(merged) == results(full)
    # The calls of the shards add up: every member assumed once across all shards.
    assert (merged.metadata.stats or {})["sts:AssumeRole"]["calls"] == 60
    # And the merged snapshot goes through the file format unchanged.
    assert results(snapshots.loads(snapshots.dumps(merged), "merged.json")) == results(full)


def test_merged_shards_of_the_demo_organization_equal_a_full_run() -> None:
    with demo.simulated_organization("drifted") as organization:
        full = collect(Config(), rules_sha256=RULES.sha256, session=organization.session)
        shards = [(f"{i}.json", collect(Config(), rules_sha256=RULES.sha256, session=organization.session,
                                        shard=Shard(i, 2))) for i in (1, 2)]
    merged = merge(shards)
    assert [a.id for a in merged.accounts] == [a.id for a in full.accounts]
    assert results(merged) == results(full)


@pytest.fixture(scope="module")
def three_shards() -> list[tuple[str, Snapshot]]:
    return collect_shards(SimulatedOrganization(41, latency=0, roles_per_account=2), 3)


def problems(shards: list[tuple[str, Snapshot]]) -> str:
    with pytest.raises(MergeError) as caught:
        merge(shards)
    return "\n".join(caught.value.problems)


def test_merge_rejects_missing_duplicate_and_mixed_shards(three_shards: list[tuple[str, Snapshot]]) -> None:
    first, second, third = three_shards
    assert problems([first, third]) == "missing shard 2/3 (of 3)"
    duplicated = problems([first, second, third, ("again.json", second[1])])
    assert "shard 2/3 is given twice: shard-2.json and again.json" in duplicated
    assert "account(s) in two shards" in duplicated
    other = SimulatedOrganization(41, latency=0, roles_per_account=2)
    halves = collect_shards(other, 2)
    assert "split the scan different ways" in problems([first, second, third, halves[0]])
    full = scan(other)
    assert "full.json: not a shard: it was collected without --shard" in problems([first, ("full.json", full)])
    interrupted = replace(second[1], metadata=replace(second[1].metadata, interrupted=True))
    assert "interrupted" in problems([first, ("cut.json", interrupted), third])


def test_merge_rejects_shards_that_disagree(three_shards: list[tuple[str, Snapshot]]) -> None:
    first, second, third = three_shards
    organization = second[1].organization
    description = {**(organization.description or {}), "FeatureSet": "CONSOLIDATED_BILLING"}
    changed = replace(second[1], organization=replace(organization, description=description))
    assert "the shards disagree on organization.description: shard-1.json (shard 1/3), shard-3.json (shard 3/3) " \
           "vs x.json (shard 2/3)" in problems([first, ("x.json", changed), third])
    fewer = replace(second[1], metadata=replace(second[1].metadata, listed_accounts=second[1].metadata.listed_accounts[:-1]))
    assert "the shards listed different accounts" in problems([first, ("x.json", fewer), third])
    other_config = replace(third[1], metadata=replace(third[1].metadata, config_sha256="0" * 64))
    assert "the shards disagree on metadata.config_sha256" in problems([first, second, ("x.json", other_config)])
    lost = replace(third[1], accounts=third[1].accounts[:-1])
    assert "1 listed account(s) missing from their shard" in problems([first, second, ("x.json", lost)])
    stray = next(a for a in first[1].accounts if not a.is_management)
    wrong = replace(third[1], accounts=(*third[1].accounts, stray))
    assert f"{stray.id} in x.json (shard 3/3) belongs to shard 1/3" in problems([first, second, ("x.json", wrong)])


# --------------------------------------------------------------------------------------------
# CLI: --shard and snapshot merge
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "x", "1/2/3"])
@pytest.mark.parametrize("command", ["scan", "collect"])
def test_an_invalid_shard_exits_2(command: str, spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([command, "--shard", spec])
    assert caught.value.code == 2
    assert "--shard" in capsys.readouterr().err


def test_shard_needs_a_collection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "s.json"
    snapshot.write_bytes(b"{}")
    assert main(["scan", "--snapshot", str(snapshot), "--shard", "1/2", "-q"]) == 2
    assert "--shard" in capsys.readouterr().err


def test_snapshot_merge_command(tmp_path: Path, three_shards: list[tuple[str, Snapshot]],
                                capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for name, shard in three_shards:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(snapshots.dumps(shard))
    out = tmp_path / "all.json"

    assert main(["snapshot", "merge", *map(str, paths), "-o", str(out)]) == 0
    merged = snapshots.load(out)
    assert merged.metadata.shard is None and len(merged.accounts) == 41
    assert f"wrote {out}" in capsys.readouterr().err
    # Evaluating the merged file offline works like any snapshot.
    assert main(["scan", "--snapshot", str(out), "--out", str(tmp_path / "run"), "-q", "--format", "json"]) == 0

    assert main(["snapshot", "merge", *map(str, paths), "-o", str(out)]) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err
    assert main(["snapshot", "merge", str(paths[0]), str(paths[2]), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "missing shard 2/3" in err and not (tmp_path / "x.json").exists()


def test_old_snapshots_without_stats_still_load(three_shards: list[tuple[str, Snapshot]]) -> None:
    document = json.loads(snapshots.dumps(three_shards[0][1]))
    assert document["metadata"]["stats"]["sts:AssumeRole"]["calls"] > 0
    assert document["metadata"]["listed_accounts"][0] == MANAGEMENT_ID
    del document["metadata"]["stats"], document["metadata"]["listed_accounts"]
    loaded = snapshots.loads(json.dumps(document).encode(), "old.json")
    assert loaded.metadata.stats is None and loaded.metadata.listed_accounts is None


def test_rate_limits_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("collection:\n  max_requests_per_second:\n    sts: 25\n    organizations: 2.5\n")
    rates = load_config(path).collection.max_requests_per_second
    assert rates == {"sts": 25.0, "organizations": 2.5, "iam": 20.0, "artifact": 5.0}
    assert Config().collection.max_requests_per_second == {"sts": 200.0, "organizations": 10.0, "iam": 20.0,
                                                          "artifact": 5.0}
    path.write_text("collection:\n  max_requests_per_second:\n    ec2: 5\n")
    with pytest.raises(Exception, match="ec2"):
        load_config(path)


@pytest.mark.parametrize("command", ["scan", "collect"])
def test_the_shard_reaches_the_collector(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         three_shards: list[tuple[str, Snapshot]]) -> None:
    from scanner.collect import pipeline

    seen: list[Any] = []

    def collect_snapshot(*_: Any, shard: Any = None, **__: Any) -> Snapshot:
        seen.append(shard)
        return three_shards[1][1]

    monkeypatch.setattr(pipeline, "collect_snapshot", collect_snapshot)
    target = ["-o", str(tmp_path / "s.json")] if command == "collect" else ["--out", str(tmp_path / "run")]
    main([command, "--shard", "2/3", "-q", *target])
    assert seen == [Shard(2, 3)]
    written = snapshots.load(tmp_path / "s.json" if command == "collect" else tmp_path / "run" / "snapshot.json")
    assert written.metadata.shard == "2/3"
