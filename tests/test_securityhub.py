"""--security-hub: the run's ASFF findings imported into moto's Security Hub, end to end.

moto's Security Hub keeps findings by Id (an import of a known Id updates it) and answers GetFindings
without applying its filters; it accepts imports whether or not the hub is enabled and never answers
FailedFindings for a well-formed finding. Refusals and partial failures are therefore made at the botocore
layer (a `before-send` handler answering as Security Hub would, an `after-call` handler adding
FailedFindings), on the session the import uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from scanner import demo, run
from scanner.cli import command as cli
from scanner.config import Collection, Config
from scanner.model import ScanResult, Status
from scanner.publish import securityhub
from scanner.publish.securityhub import MAX_BATCH, MAX_REQUEST_BYTES, SecurityHubError, batches, finding_size
from scanner.report import asff
from scanner.rules import load_rules
from tests.conftest import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MANAGEMENT_ACCOUNT_ID
from tests.format_schemas import asff_errors
from tests.scan_fixture import build_scan

FAST = Collection(max_attempts=3)


@pytest.fixture(scope="module")
def demo_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path]:
    """The demo's drifted organization, scanned once: its result and its run folder (with the snapshot)."""
    out = tmp_path_factory.mktemp("demo") / "run"
    with demo.simulated_organization("drifted") as organization:
        outcome = run.scan(Config(), load_rules(), out_dir=out, formats=["json"], gate=run.Gate(),
                           session=organization.session)
    return outcome.scan, out


@pytest.fixture(scope="module")
def healthy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete scan with nothing failing: exit 0, unless the import fails."""
    out = tmp_path_factory.mktemp("healthy") / "run"
    with demo.simulated_organization("healthy") as organization:
        outcome = run.scan(Config(), load_rules(), out_dir=out, formats=["json"], gate=run.Gate(),
                           session=organization.session)
    assert outcome.exit_code == run.ExitCode.OK
    return out


@pytest.fixture
def hub() -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                                region_name="us-east-1")
        session.client("securityhub").enable_security_hub()
        yield session


def all_findings(session: boto3.Session) -> list[dict[str, Any]]:
    client = session.client("securityhub")
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("get_findings").paginate():
        found.extend(page["Findings"])
    return found


def for_management(scan: ScanResult) -> ScanResult:
    """The management account of moto's fake credentials, so that the findings are the caller's."""
    return replace(scan, info=replace(scan.info, management_account_id=MANAGEMENT_ACCOUNT_ID))


def test_import_then_get_findings_returns_the_same_set(demo_scan: tuple[ScanResult, Path],
                                                       hub: boto3.Session) -> None:
    scan, _ = demo_scan
    report = securityhub.publish(scan, hub, collection=FAST)
    expected = asff.findings(scan, account_id=MANAGEMENT_ACCOUNT_ID, region="us-east-1")
    assert report.ok and report.sent == len(expected) > 0 and report.archived == 0
    stored = all_findings(hub)
    assert {f["Id"] for f in stored} == {f["Id"] for f in expected}
    by_id = {f["Id"]: f for f in stored}
    for finding in expected:
        assert by_id[finding["Id"]]["Compliance"] == finding["Compliance"]
        assert by_id[finding["Id"]]["RecordState"] == "ACTIVE"
    assert report.calls["securityhub:BatchImportFindings"]["calls"] == -(-len(expected) // MAX_BATCH)
    assert report.calls["securityhub-read:GetFindings"]["calls"] == 1


def test_importing_twice_updates_and_never_duplicates(demo_scan: tuple[ScanResult, Path],
                                                      hub: boto3.Session) -> None:
    scan, _ = demo_scan
    securityhub.publish(scan, hub, collection=FAST)
    first = all_findings(hub)
    later = replace(scan, info=replace(scan.info, evaluated_at="2099-01-01T00:00:00Z"))
    report = securityhub.publish(later, hub, collection=FAST)
    second = all_findings(hub)
    assert report.ok and report.archived == 0
    assert sorted(f["Id"] for f in second) == sorted(f["Id"] for f in first)
    assert {f["UpdatedAt"] for f in second} == {"2099-01-01T00:00:00Z"}


def test_a_finding_resolved_since_the_last_import_is_archived(hub: boto3.Session) -> None:
    scan = for_management(build_scan())
    securityhub.publish(scan, hub, collection=FAST)
    fail = next(r for r in scan.results if r.status is Status.FAIL)
    fixed = replace(scan, results=tuple(replace(r, status=Status.PASS) if r is fail else r for r in scan.results),
                    info=replace(scan.info, evaluated_at="2026-02-01T00:00:00Z"))
    report = securityhub.publish(fixed, hub, collection=FAST)
    assert report.ok and report.archived == 1
    by_id = {f["Id"]: f for f in all_findings(hub)}
    gone = by_id[asff.finding_id(fail.rule_id, fail.account_id, fail.resource_arn)]
    assert (gone["RecordState"], gone["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert gone["UpdatedAt"] == "2026-02-01T00:00:00Z"
    still = [f for f in by_id.values() if f["Id"] != gone["Id"] and f["ProductFields"].get(
        "artifact-scan/Status") in ("fail", "suppressed", "error")]
    assert still and all(f["RecordState"] == "ACTIVE" for f in still)


def test_a_finding_this_run_could_not_check_stays_active(hub: boto3.Session) -> None:
    scan = for_management(build_scan())
    securityhub.publish(scan, hub, collection=FAST)
    fail = next(r for r in scan.results if r.status is Status.FAIL)
    # The account of the finding became unreadable: the rule gives `error` there, which proves nothing.
    unreadable = replace(scan, results=tuple(replace(r, status=Status.ERROR, resource_arn=f"arn:aws:organizations::"
                                                     f"{r.account_id}:account") if r is fail else r
                                             for r in scan.results))
    report = securityhub.publish(unreadable, hub, collection=FAST)
    assert report.archived == 0
    by_id = {f["Id"]: f for f in all_findings(hub)}
    assert by_id[asff.finding_id(fail.rule_id, fail.account_id, fail.resource_arn)]["RecordState"] == "ACTIVE"


def answer(status: int, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    response = AWSResponse("https://securityhub.us-east-1.amazonaws.com", status,
                           {"Content-Type": "application/json", "x-amzn-ErrorType": code}, None)
    response._content = body
    return response


@pytest.mark.parametrize(("status", "code", "says"), [
    (403, "AccessDeniedException", "may not call Security Hub"),
    (401, "InvalidAccessException", "not enabled"),
    (429, "TooManyRequestsException", "throttled after every retry"),
])
def test_a_refusing_security_hub_is_a_clear_error(hub: boto3.Session, status: int, code: str, says: str) -> None:
    sent: list[str] = []

    def refuse(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return answer(status, code, "refused by the test")

    hub.events.register("before-send.securityhub", refuse)
    with pytest.raises(SecurityHubError) as raised:
        securityhub.publish(for_management(build_scan()), hub, collection=FAST)
    assert code in str(raised.value) and says in str(raised.value)
    assert len(sent) == (FAST.max_attempts if status == 429 else 1)  # throttling retried, then given up


def test_failed_findings_are_reported_one_by_one(hub: boto3.Session) -> None:
    def partial(parsed: dict[str, Any], **_: Any) -> None:
        parsed["FailedFindings"] = [{"Id": "artifact-scan/X/1", "ErrorCode": "InvalidInput", "ErrorMessage": "no"}]
        parsed["FailedCount"] = 1

    hub.events.register("after-call.securityhub.BatchImportFindings", partial)
    report = securityhub.publish(for_management(build_scan()), hub, collection=FAST)
    assert not report.ok
    assert [(f.id, f.code, f.message) for f in report.failed] == [("artifact-scan/X/1", "InvalidInput", "no")]


def test_batches_respect_count_and_size() -> None:
    small = [{"Id": str(i), "Description": "x" * 10} for i in range(250)]
    assert [len(b) for b in batches(small)] == [100, 100, 50]
    big = [{"Id": str(i), "Description": "x" * 200_000} for i in range(70)]
    sized = list(batches(big))
    assert all(sum(finding_size(f) + 1 for f in b) + 64 <= MAX_REQUEST_BYTES for b in sized)
    assert sum(len(b) for b in sized) == 70 and len(sized) == 3  # 31 findings of 200 KB fit in 6 MB
    assert list(batches([])) == []


def test_every_finding_sent_fits_the_model(demo_scan: tuple[ScanResult, Path]) -> None:
    scan, _ = demo_scan
    for finding in asff.findings(scan, account_id=MANAGEMENT_ACCOUNT_ID, region="us-east-1"):
        assert asff_errors(finding) is None


def session_factory(hub: boto3.Session) -> Any:
    return lambda *args, **kwargs: hub


def test_the_command_imports_after_writing_the_reports(demo_scan: tuple[ScanResult, Path], hub: boto3.Session,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, run_dir = demo_scan
    monkeypatch.setattr("scanner.collect.session.base_session", session_factory(hub))
    out = tmp_path / "run"
    code = cli.main(["scan", "--snapshot", str(run_dir / "snapshot.json"), "--out", str(out), "--format",
                     "asff,ocsf,oscal", "--security-hub", "-q"])
    err = capsys.readouterr().err
    assert code == 3  # the demo organization has unreadable accounts: incomplete, as without the import
    assert "security hub (123456789012, us-east-1): sent" in err and "0 refused" in err
    written = json.loads((out / "results.asff.json").read_text())
    assert {f["Id"] for f in all_findings(hub)} == {f["Id"] for f in written}


@pytest.mark.parametrize("refuse", [True, False])
def test_the_command_exits_3_when_security_hub_refuses(healthy_run: Path, hub: boto3.Session, refuse: bool,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = healthy_run
    if refuse:
        hub.events.register("before-send.securityhub",
                            lambda **_: answer(401, "InvalidAccessException", "Account is not subscribed"))
    monkeypatch.setattr("scanner.collect.session.base_session", session_factory(hub))
    out = tmp_path / "run"
    code = cli.main(["scan", "--snapshot", str(run_dir / "snapshot.json"), "--out", str(out), "--format",
                     "asff,ocsf,oscal", "--security-hub", "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert {p.name for p in out.iterdir()} >= {"results.asff.json", "results.ocsf.jsonl",
                                               "results.oscal.json"}
    if refuse:
        assert code == 3
        assert "error: Security Hub refused" in err and "InvalidAccessException" in err and "hint:" in err
    else:
        assert code == 0 and "0 refused" in err
