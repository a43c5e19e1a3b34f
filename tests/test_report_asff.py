"""results.asff.json: ASFF findings, each valid as BatchImportFindings input (botocore's model) and in limits."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given

from scanner.model import ScanResult, Status
from scanner.publish.securityhub import MAX_FINDING_BYTES, finding_size
from scanner.report import WRITERS, asff
from tests.format_schemas import asff_errors
from tests.golden_support import assert_golden
from tests.scan_fixture import MANAGEMENT, MEMBER, build_scan
from tests.test_properties import WRITER_EXAMPLES, bounded, hostile_scans


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def render(scan: ScanResult) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads(asff.render(scan))
    return findings


def within_limits(finding: dict[str, Any]) -> list[str]:
    problems = []
    for key, limit in (("Title", 256), ("Description", 1024), ("Id", 512), ("GeneratorId", 512)):
        if len(finding[key]) > limit:
            problems.append(f"{key} over {limit}")
    if len(finding.get("Remediation", {}).get("Recommendation", {}).get("Text", "")) > 512:
        problems.append("Remediation text over 512")
    if len(finding["ProductFields"]) > 50 or any(len(v) > 2048 for v in finding["ProductFields"].values()):
        problems.append("ProductFields over limits")
    for resource in finding["Resources"]:
        if len(resource["Id"]) > 512 or any(len(v) > 1024 for v in resource["Details"]["Other"].values()):
            problems.append("resource over limits")
    if finding_size(finding) > MAX_FINDING_BYTES:
        problems.append("over 240 KB")
    return problems


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("results.asff.json", asff.render(scan), update_golden)


def test_registered() -> None:
    assert WRITERS["asff"].filename == "results.asff.json" and WRITERS["asff"].render is asff.render


def test_every_finding_is_valid_batch_import_input(scan: ScanResult) -> None:
    findings = render(scan)
    assert findings
    for finding in findings:
        assert asff_errors(finding) is None
        assert within_limits(finding) == []


def test_the_model_check_is_real(scan: ScanResult) -> None:
    good = render(scan)[0]
    for key in ("Id", "ProductArn", "Resources", "Title", "AwsAccountId"):
        bad = {k: v for k, v in good.items() if k != key}
        assert asff_errors(bad), key
    assert asff_errors({**good, "Title": 3})
    assert asff_errors({**good, "Unknown": "x"})


def test_which_results_and_how(scan: ScanResult) -> None:
    findings = {f["ProductFields"]["artifact-scan/Status"]: f for f in render(scan)}
    reported = sum(1 for r in scan.results if r.status in (Status.FAIL, Status.SUPPRESSED, Status.ERROR))
    assert len(render(scan)) == reported + len(scan.resolved)
    fail = findings["fail"]
    assert (fail["Compliance"]["Status"], fail["RecordState"], fail["Workflow"]["Status"]) == ("FAILED", "ACTIVE",
                                                                                             "NEW")
    assert findings["suppressed"]["Workflow"]["Status"] == "SUPPRESSED" and "SEC-42" in findings["suppressed"]["Note"][
        "Text"]
    assert findings["error"]["Compliance"]["Status"] == "NOT_AVAILABLE"
    resolved = findings["resolved"]
    assert (resolved["Compliance"]["Status"], resolved["RecordState"]) == ("PASSED", "ARCHIVED")
    # Security Hub takes findings under the default product only for the importing account.
    assert {f["AwsAccountId"] for f in render(scan)} == {MANAGEMENT}
    assert {f["ProductArn"] for f in render(scan)} == {
        f"arn:aws:securityhub:us-east-1:{MANAGEMENT}:product/{MANAGEMENT}/default"}
    member = [f for f in render(scan) if f["ProductFields"]["artifact-scan/AccountId"] == MEMBER]
    assert member and all(MEMBER in f["Resources"][0]["Id"] for f in member)


def test_ids_are_stable_and_unique(scan: ScanResult) -> None:
    ids = [f["Id"] for f in render(scan)]
    assert len(ids) == len(set(ids))
    later = replace(scan, info=replace(scan.info, run_id="20270101T000000Z-ffffff", started_at="2027-01-01T00:00:00Z",
                                       evaluated_at="2027-01-01T00:00:05Z"))
    assert [f["Id"] for f in render(later)] == ids
    assert {f["UpdatedAt"] for f in render(later)} == {"2027-01-01T00:00:05Z"}


def test_region_and_account_of_an_import(scan: ScanResult) -> None:
    findings = asff.findings(scan, account_id="999988887777", region="eu-west-1", partition="aws")
    assert {f["ProductArn"] for f in findings} == {
        "arn:aws:securityhub:eu-west-1:999988887777:product/999988887777/default"}
    assert {f["Resources"][0]["Region"] for f in findings} == {"eu-west-1"}


def test_pure_and_deterministic(scan: ScanResult) -> None:
    data = asff.render(scan)
    shuffled = replace(scan, results=tuple(reversed(scan.results)), resolved=tuple(reversed(scan.resolved)))
    assert asff.render(shuffled) == data == asff.render(build_scan())


@bounded(WRITER_EXAMPLES, deadline_ms=20_000)
@given(hostile_scans())
def test_hostile_aws_strings_keep_every_finding_valid(case: tuple[ScanResult, str]) -> None:
    scan, _ = case
    scan = replace(scan, results=tuple(replace(r, resource_arn=r.resource_arn + r.resource_name)
                                       for r in scan.results))
    findings = render(scan)
    for finding in findings:
        assert asff_errors(finding) is None
        assert within_limits(finding) == []
        json.dumps(finding, ensure_ascii=False).encode("utf-8")  # no lone surrogate: strict UTF-8 encodes it
