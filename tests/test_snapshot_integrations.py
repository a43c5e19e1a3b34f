"""A snapshot answers only for the integrations it was collected for: any other integration's rule is an
error (exit 3), never a pass on data that was not read. Collected in process against moto, saved and loaded
as JSON, evaluated with both built-in packs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from scanner import demo
from scanner import snapshot as snapshots
from scanner.errors import ExitCode
from scanner.evaluate import evaluate
from scanner.model import Result, RuleSet, Snapshot, Status
from scanner.rules import builtin_packs_dir, load_rules
from scanner.run import Gate, exit_code
from tests.conftest import MANAGEMENT_ACCOUNT_ID, CallLog
from tests.test_collect_moto import build_org, scan

UNCOLLECTED = "the snapshot was not collected for integration ssm: run collect with this rule pack loaded"


def pack(*names: str) -> RuleSet:
    return load_rules([builtin_packs_dir() / name for name in names], builtin=False)


def collected(aws: boto3.Session, *names: str) -> Snapshot:
    """Collect with only the named packs loaded, through the snapshot's JSON (what `scan --snapshot` reads)."""
    build_org(aws, {"member": [demo.LEGACY_ROLE, demo.SSM_SERVICE_LINKED_ROLE]})
    demo.create_roles(aws.client("iam"), MANAGEMENT_ACCOUNT_ID, [demo.SERVICE_LINKED_ROLE, demo.SSM_SERVICE_LINKED_ROLE])
    raw = snapshots.dumps(scan(aws, integrations=pack(*names).integrations))
    return snapshots.loads(raw, "collected")


def without_the_field(snapshot: Snapshot) -> Snapshot:
    """The same snapshot as an earlier version wrote it: no metadata.integrations."""
    document = snapshots.to_document(snapshot)
    del document["metadata"]["integrations"]
    return snapshots.loads(json.dumps(document).encode(), "old")


def results(snapshot: Snapshot, prefix: str) -> list[Result]:
    scan_result = evaluate(load_rules(), snapshot, run_id="t")
    return [r for r in scan_result.results if r.rule_id.startswith(prefix)]


# (packs collected, make the snapshot old, what the snapshot records, SSM results all uncollected errors)
CASES = [
    (("artifact",), False, ("artifact",), True),
    (("artifact", "ssm"), False, ("artifact", "ssm"), False),
    (("artifact", "ssm"), True, ("artifact",), True),  # an old snapshot counts as Artifact's alone
]


@pytest.mark.parametrize(("packs", "old", "recorded", "ssm_uncollected"), CASES)
def test_rules_of_an_integration_not_collected_are_errors(
    aws: boto3.Session, packs: tuple[str, ...], old: bool, recorded: tuple[str, ...], ssm_uncollected: bool
) -> None:
    snapshot = collected(aws, *packs)
    if old:
        snapshot = without_the_field(snapshot)
    assert snapshot.metadata.integrations == recorded
    assert snapshots.is_complete(snapshot)  # completeness is about the collection; the rules' errors are not

    ssm = results(snapshot, "SSM-")
    assert {r.rule_id for r in ssm} == {r.id for r in pack("ssm").rules}
    if ssm_uncollected:
        assert all(r.status is Status.ERROR and r.message == UNCOLLECTED for r in ssm)
        # one per account a member-scoped rule applies to, not one per rule
        assert {r.account_id for r in ssm} >= {a.id for a in snapshot.accounts if not a.is_management}
    else:
        assert not any(r.status is Status.ERROR for r in ssm)
        assert any(r.status is Status.PASS for r in ssm)
    # The two packs this collection is about (the organizations pack, for every integration, was not collected)
    incomplete = exit_code(evaluate(pack("artifact", "ssm"), snapshot, run_id="t"), Gate()) is ExitCode.INCOMPLETE
    assert incomplete == ssm_uncollected

    # Artifact's results do not depend on what else was collected.
    artifact = [(r.rule_id, r.account_id, r.resource_arn, r.status, r.message) for r in results(snapshot, "ART-")]
    assert artifact and not any(status is Status.ERROR for *_, status, _ in artifact)


def test_artifact_results_are_the_same_whatever_else_was_collected(aws: boto3.Session) -> None:
    both = collected(aws, "artifact", "ssm")
    key = [(r.rule_id, r.account_id, r.resource_arn, r.status, r.message) for r in results(both, "ART-")]
    assert key == [(r.rule_id, r.account_id, r.resource_arn, r.status, r.message)
                   for r in results(without_the_field(both), "ART-")]


def test_a_collection_for_ssm_alone_skips_the_agreements_and_is_complete(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"quiet": []})
    call_log.clear()

    snapshot = snapshots.loads(snapshots.dumps(scan(aws, integrations=pack("ssm").integrations)), "ssm")

    assert call_log.count(api="artifact:ListCustomerAgreements") == 0
    assert snapshot.organization.customer_agreements is None
    assert snapshot.metadata.integrations == ("ssm",)
    assert snapshots.gaps(snapshot) == () and snapshot.metadata.complete
    quiet = [c.api for c in call_log.calls if c.account_id == ids["quiet"] or ids["quiet"] in str(c.params.get("RoleArn"))]
    assert quiet == ["sts:AssumeRole", "iam:ListRoles"]
    # Artifact's rules over it: the agreements were not read, so they cannot pass.
    artifact = results(snapshot, "ART-")
    assert artifact and all(r.status is Status.ERROR for r in artifact)


def test_a_collection_for_artifact_still_reads_the_agreements(aws: boto3.Session, call_log: CallLog) -> None:
    build_org(aws, {})
    call_log.clear()
    snapshot = scan(aws, integrations=pack("artifact").integrations)
    assert call_log.count(api="artifact:ListCustomerAgreements") == 1
    # Missing agreements are a gap for such a collection.
    document = snapshots.to_document(snapshot)
    document["organization"]["customer_agreements"] = None
    assert any("customer agreements" in gap for gap in snapshots.gaps(snapshots.loads(json.dumps(document).encode(), "x")))


def test_scan_of_a_snapshot_not_collected_for_ssm_exits_3(aws: boto3.Session, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(snapshots.dumps(collected(aws, "artifact")))
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--snapshot", str(path), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == ExitCode.INCOMPLETE, done.stderr
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    ssm = [r for r in written["results"] if r["rule_id"].startswith("SSM-")]
    assert ssm and all(r["status"] == "error" and r["message"] == UNCOLLECTED for r in ssm)
