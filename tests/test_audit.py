"""The audit workflow: suppressions with owner and expiry, baselines, drift and the --fail-on-new gate."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scanner import snapshot as snapshots
from scanner.audit.baseline import drift_between
from scanner.cli.command import main
from scanner.evaluate import drift_markers
from scanner.model import Markers, Snapshot
from tests.test_rule_cases import MANAGEMENT, MEMBER, build_snapshot

TODAY = date.today().isoformat()
LEGACY_ROLE = {"roles": [{"name": "AWSArtifactAccountSync", "path": "/service-role/", "attached": [],
                          "trust": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                   "Action": "sts:AssumeRole"}]}}]}  # ART-011 (medium) only
LEGACY_ARN = f"arn:aws:iam::{MEMBER}:role/service-role/AWSArtifactAccountSync"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def write(tmp_path: Path, name: str, snapshot: Snapshot) -> Path:
    path = tmp_path / name
    path.write_bytes(snapshots.dumps(snapshot))
    return path


def suppressions_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "suppressions.yaml"
    path.write_text(body)
    return path


def results(run_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return document


def finding(document: dict[str, Any], rule_id: str) -> dict[str, Any]:
    [item] = [r for r in document["results"] if r["rule_id"] == rule_id and r["status"] in ("fail", "suppressed")]
    return item


ENTRY = """\
suppressions:
  - rule: ART-011
    {match}
    reason: Kept until the old audit tooling is retired (SEC-1234).
    owner: cloud-security@example.com
    expires: {expires}
"""


@pytest.mark.parametrize("match", [f'account: "{MEMBER}"', 'resource: "arn:aws:iam::*:role/service-role/AWSArtifact*"'])
def test_unexpired_suppression_suppresses(tmp_path: Path, capsys: pytest.CaptureFixture[str], match: str) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot(LEGACY_ROLE))
    rules = suppressions_file(tmp_path, ENTRY.format(match=match, expires=TODAY))  # holds through today
    code, _ = run(capsys, "scan", "--snapshot", str(snapshot), "--suppressions", str(rules),
                  "--fail-on", "medium", "--out", str(tmp_path / "out"))
    assert code == 0
    item = finding(results(tmp_path / "out"), "ART-011")
    assert item["status"] == "suppressed"
    assert item["suppression"]["owner"] == "cloud-security@example.com"
    assert item["suppression"]["source"].endswith("suppressions.yaml:2")
    assert results(tmp_path / "out")["summary"]["by_status"]["suppressed"] == 1


def test_expired_suppression_fails_the_gate_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot(LEGACY_ROLE))
    rules = suppressions_file(tmp_path, ENTRY.format(match=f'account: "{MEMBER}"', expires="2020-01-31"))
    code, _ = run(capsys, "scan", "--snapshot", str(snapshot), "--suppressions", str(rules),
                  "--fail-on", "medium", "--out", str(tmp_path / "out"))
    assert code == 1
    item = finding(results(tmp_path / "out"), "ART-011")
    assert item["status"] == "fail"
    assert item["suppression"] is None
    assert item["expired_suppression"]["expires"] == "2020-01-31"
    assert results(tmp_path / "out")["summary"]["expired_suppressions"] == 1


def test_unused_suppression_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot({}))
    rules = suppressions_file(tmp_path, ENTRY.format(match=f'account: "{MEMBER}"', expires="2099-01-01"))
    run(capsys, "scan", "--snapshot", str(snapshot), "--suppressions", str(rules), "--out", str(tmp_path / "out"))
    document = results(tmp_path / "out")
    assert [s["rule_id"] for s in document["unused_suppressions"]] == ["ART-011"]


def test_suppressions_never_hide_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unreadable = {"member": {"roles_listed": None,
                             "errors": [{"api": "sts:AssumeRole", "code": "AccessDenied", "message": "no"}]}}
    snapshot = write(tmp_path, "s.json", build_snapshot(unreadable))
    rules = suppressions_file(tmp_path, ENTRY.format(match=f'account: "{MEMBER}"', expires="2099-01-01"))
    code, _ = run(capsys, "scan", "--snapshot", str(snapshot), "--suppressions", str(rules),
                  "--out", str(tmp_path / "out"))
    assert code == 3
    errors = [r for r in results(tmp_path / "out")["results"] if r["rule_id"] == "ART-011" and r["account_id"] == MEMBER]
    assert [r["status"] for r in errors] == ["error"]


@pytest.mark.parametrize(("body", "fragments"), [
    ("suppressions:\n  - rule: ART-011\n    account: '222222222222'\n    reason: a good reason here\n    expires: 2027-01-01\n",
     ["suppressions.yaml:2", "$.suppressions[0]", "'owner' is required but missing"]),
    ("suppressions:\n  - rule: ART-011\n    reason: a good reason here\n    owner: me@example.com\n    expires: 2027-01-01\n",
     ["$.suppressions[0]", "needs at least one of: account, resource"]),
    ("suppressions:\n  - rule: ART-011\n    account: '222222222222'\n    reason: a good reason here\n"
     "    owner: me@example.com\n    expires: 2027-02-30\n", ["suppressions.yaml:6", "$.suppressions[0].expires", "is not a 'date'"]),
])
def test_bad_suppressions_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                               fragments: list[str]) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot({}))
    code, err = run(capsys, "scan", "--snapshot", str(snapshot), "--suppressions",
                    str(suppressions_file(tmp_path, body)), "--out", str(tmp_path / "out"))
    assert code == 2
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "out").exists()


def test_baseline_marks_new_unchanged_and_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write(tmp_path, "1.json", build_snapshot(LEGACY_ROLE))  # ART-011
    second = write(tmp_path, "2.json", build_snapshot({**LEGACY_ROLE, "remove_slr": True}))  # + ART-004
    third = write(tmp_path, "3.json", build_snapshot({"remove_slr": True}))  # ART-011 fixed
    run(capsys, "scan", "--snapshot", str(first), "--out", str(tmp_path / "r1"))
    run1 = results(tmp_path / "r1")
    code, _ = run(capsys, "scan", "--snapshot", str(second), "--baseline", str(tmp_path / "r1" / "results.json"),
                  "--fail-on-new", "--fail-on", "medium", "--out", str(tmp_path / "r2"))
    run2 = results(tmp_path / "r2")
    assert code == 1  # ART-004 is new
    assert finding(run2, "ART-011")["baseline"] == "unchanged"
    assert finding(run2, "ART-011")["first_seen"] == run1["run"]["started_at"]
    assert finding(run2, "ART-004")["baseline"] == "new"
    assert run2["baseline"]["run_id"] == run1["run"]["run_id"] and run2["baseline"]["resolved"] == []

    code, _ = run(capsys, "scan", "--snapshot", str(third), "--baseline", str(tmp_path / "r2" / "results.json"),
                  "--fail-on-new", "--out", str(tmp_path / "r3"))
    run3 = results(tmp_path / "r3")
    assert code == 0  # ART-004 is still failing, but not new
    assert finding(run3, "ART-004")["baseline"] == "unchanged"
    [resolved] = run3["baseline"]["resolved"]
    assert resolved["key"] == {"rule_id": "ART-011", "account_id": MEMBER, "resource_arn": LEGACY_ARN}
    assert run3["summary"]["resolved_findings"] == 1 and run3["summary"]["new_findings"] == 0


def test_unreadable_now_is_not_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write(tmp_path, "1.json", build_snapshot(LEGACY_ROLE))
    unreadable = {"member": {"roles_listed": None,
                             "errors": [{"api": "sts:AssumeRole", "code": "AccessDenied", "message": "no"}]}}
    second = write(tmp_path, "2.json", build_snapshot(unreadable))
    run(capsys, "scan", "--snapshot", str(first), "--out", str(tmp_path / "r1"))
    run(capsys, "scan", "--snapshot", str(second), "--baseline", str(tmp_path / "r1" / "results.json"),
        "--out", str(tmp_path / "r2"))
    assert results(tmp_path / "r2")["baseline"]["resolved"] == []


def _member_not_listed(snapshot: Snapshot) -> Snapshot:
    from scanner.model import CollectionError

    listing_failed = CollectionError("organizations:ListAccounts", "ResponseParserError", "the answer is not JSON")
    organization = replace(snapshot.organization, errors=(*snapshot.organization.errors, listing_failed))
    return replace(snapshot, organization=organization, accounts=tuple(a for a in snapshot.accounts if a.id != MEMBER))


def _member_skipped(snapshot: Snapshot) -> Snapshot:
    accounts = tuple(replace(a, scanned=False, roles_listed=None, roles=(), skip_reason="excluded by scope")
                     if a.id == MEMBER else a for a in snapshot.accounts)
    return replace(snapshot, accounts=accounts)


@pytest.mark.parametrize("unread", [_member_not_listed, _member_skipped], ids=["never-listed", "skipped"])
def test_an_account_this_run_did_not_read_resolves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], unread: Any
) -> None:
    """A finding disappears from an account that was not read (a failed listing, a scope change, another
    shard's account): that is not evidence that it was fixed."""
    first = write(tmp_path, "1.json", build_snapshot(LEGACY_ROLE))
    second = write(tmp_path, "2.json", unread(build_snapshot({})))
    run(capsys, "scan", "--snapshot", str(first), "--out", str(tmp_path / "r1"))
    assert finding(results(tmp_path / "r1"), "ART-011")["account_id"] == MEMBER
    run(capsys, "scan", "--snapshot", str(second), "--baseline", str(tmp_path / "r1" / "results.json"),
        "--out", str(tmp_path / "r2"))
    assert results(tmp_path / "r2")["baseline"]["resolved"] == []


def test_fail_on_new_needs_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot({}))
    code, err = run(capsys, "scan", "--snapshot", str(snapshot), "--fail-on-new")
    assert code == 2 and "--fail-on-new needs --baseline" in err


def test_bad_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot({}))
    code, err = run(capsys, "scan", "--snapshot", str(snapshot), "--baseline", str(snapshot))
    assert code == 2 and "this is a snapshot, not an artifact-scan results.json; it goes to `scan --snapshot`" in err
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')  # none of the tool's files: the loader's own message
    code, err = run(capsys, "scan", "--snapshot", str(snapshot), "--baseline", str(other))
    assert code == 2 and "expected an artifact-scan results.json" in err


def _recreated(snapshot: Snapshot) -> Snapshot:
    management = snapshot.accounts[0]
    slr, *others = management.roles  # Artifact's role first, then the other integration's, left as it was
    new_role = replace(slr, role={**slr.role, "RoleId": "AROANEWROLEID0000000", "CreateDate": "2026-06-01T00:00:00Z"})
    return replace(snapshot, accounts=(replace(management, roles=(new_role, *others)), *snapshot.accounts[1:]))


def _enabled_on(snapshot: Snapshot, when: str) -> Snapshot:
    principals = tuple({**p, "DateEnabled": when} for p in snapshot.organization.enabled_service_principals or ())
    return replace(snapshot, organization=replace(snapshot.organization, enabled_service_principals=principals))


def test_drift_recreated_role_and_reenabled_access() -> None:
    before = _enabled_on(build_snapshot({}), "2024-01-01T00:00:00Z")
    after = _enabled_on(_recreated(build_snapshot({})), "2026-06-02T00:00:00Z")
    scope = ("artifact",)
    kinds = {d.kind: d for d in drift_between(drift_markers(before, scope), drift_markers(after, scope))}
    assert set(kinds) == {"service-linked-role-recreated", "trusted-access-re-enabled"}
    assert kinds["service-linked-role-recreated"].after["role_id"] == "AROANEWROLEID0000000"
    assert kinds["service-linked-role-recreated"].account_id == MANAGEMENT
    assert drift_between(drift_markers(before, scope), drift_markers(before, scope)) == []


@pytest.mark.parametrize("edit", ["none", "no-access-list", "no-roles-listed", "role-absent"])
def test_markers_read_back_as_written(edit: str) -> None:
    """results.json's `markers` is what a later run's baseline reads: what one run writes, the next reads."""
    snapshot = build_snapshot({"remove_slr": True} if edit == "role-absent" else {})
    if edit == "no-access-list":
        snapshot = replace(snapshot, organization=replace(snapshot.organization, enabled_service_principals=None))
    if edit == "no-roles-listed":
        management = replace(snapshot.accounts[0], roles_listed=None, roles=())
        snapshot = replace(snapshot, accounts=(management, *snapshot.accounts[1:]))
    markers = drift_markers(snapshot, ("artifact",))
    assert Markers.from_json(json.loads(json.dumps(markers.to_json()))) == markers
    assert (markers.trusted_access is None) == (edit == "no-access-list")
    assert (markers.service_linked_roles is None) == (edit == "no-roles-listed")
    if edit == "role-absent":
        assert markers.service_linked_roles == {"artifact": None}


@pytest.mark.parametrize("markers", [[], {"trusted_access": ["artifact.amazonaws.com"]},
                                     {"trusted_access": {"artifact.amazonaws.com": 5}},
                                     {"service_linked_roles": {"artifact": "AROA"}},
                                     {"management_account_id": 123456789012}])
def test_a_baseline_with_unreadable_markers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], markers: Any
) -> None:
    snapshot = write(tmp_path, "s.json", build_snapshot({}))
    run(capsys, "scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "r1"))
    document = results(tmp_path / "r1")
    document["markers"] = markers
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(document))
    code, err = run(capsys, "scan", "--snapshot", str(snapshot), "--baseline", str(baseline))
    assert code == 2 and "not a complete results.json" in err and "markers" in err


def test_drift_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write(tmp_path, "1.json", build_snapshot({}))
    second = write(tmp_path, "2.json", _recreated(build_snapshot({})))
    run(capsys, "scan", "--snapshot", str(first), "--out", str(tmp_path / "r1"))
    run(capsys, "scan", "--snapshot", str(second), "--baseline", str(tmp_path / "r1" / "results.json"),
        "--out", str(tmp_path / "r2"))
    [drift] = results(tmp_path / "r2")["baseline"]["drift"]
    assert drift["kind"] == "service-linked-role-recreated"
