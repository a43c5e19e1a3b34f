"""results.ocsf.jsonl: OCSF 1.8.0 Compliance Findings, each valid against the class's JSON Schema."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given

from scanner.model import ScanResult, Status
from scanner.report import WRITERS, ocsf, sarif
from tests.format_schemas import ocsf_errors
from tests.golden_support import assert_golden
from tests.scan_fixture import MEMBER, build_scan
from tests.test_properties import WRITER_EXAMPLES, bounded, hostile_scans


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def events(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n") or data == b""
    return [json.loads(text) for text in data.decode("ascii").splitlines()]


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("results.ocsf.jsonl", ocsf.render(scan), update_golden)
    assert_golden("results-all.ocsf.jsonl", ocsf.render_all(scan), update_golden)


def test_registered() -> None:
    assert WRITERS["ocsf"].filename == "results.ocsf.jsonl" and WRITERS["ocsf"].render is ocsf.render
    assert WRITERS["ocsf-all"].filename == "results-all.ocsf.jsonl"


def test_every_event_is_valid_against_the_ocsf_schema(scan: ScanResult) -> None:
    found = events(ocsf.render_all(scan))
    assert len(found) == len(scan.results)
    for event in found:
        assert ocsf_errors(event) == []


def test_the_schema_check_is_real(scan: ScanResult) -> None:
    """Each mutation breaks a rule of the schema; the validator must say so."""
    good = events(ocsf.render(scan))[0]
    mutations = [
        lambda e: e.pop("finding_info"),
        lambda e: e["finding_info"].pop("uid"),
        lambda e: e.update(class_uid=2001),
        lambda e: e["compliance"].update(status_id=7),
        lambda e: e.update(time="2026-01-01T00:00:00Z"),
        lambda e: e["cloud"].update(unknown_field=1),
        lambda e: e["metadata"].pop("version"),
    ]
    for mutate in mutations:
        bad = copy.deepcopy(good)
        mutate(bad)
        assert ocsf_errors(bad), bad


def test_one_event_per_result_that_is_not_a_pass(scan: ScanResult) -> None:
    found = events(ocsf.render(scan))
    assert len(found) == sum(1 for r in scan.results if r.status is not Status.PASS)
    assert all(e["compliance"]["status_id"] != 1 for e in found)
    passes = [e for e in events(ocsf.render_all(scan)) if e["compliance"]["status_id"] == 1]
    assert len(passes) == sum(1 for r in scan.results if r.status is Status.PASS)
    assert {p["status"] for p in passes} == {"Resolved"}


def test_the_mapping_of_a_failure(scan: ScanResult) -> None:
    result = next(r for r in scan.results if r.rule_id == "ART-006")
    event = next(e for e in events(ocsf.render(scan)) if e["compliance"]["control"] == "ART-006")
    assert (event["class_uid"], event["category_uid"], event["type_uid"]) == (2003, 2, 200301)
    assert event["metadata"]["version"] == "1.8.0" and event["metadata"]["correlation_uid"] == scan.info.run_id
    assert event["severity_id"] == 5 and event["severity"] == "Critical"
    assert event["compliance"]["status"] == "Fail" and event["status"] == "New"
    assert "SOC 2 CC6.1" in event["compliance"]["requirements"]
    assert set(event["compliance"]["standards"]) == {"SOC 2", "ISO/IEC 27001:2022"}
    assert event["finding_info"]["uid"] == sarif.fingerprint(result.rule_id, result.account_id, result.resource_arn)
    assert event["cloud"]["account"]["uid"] == MEMBER and event["cloud"]["provider"] == "AWS"
    assert event["resources"][0]["uid"] == result.resource_arn
    assert event["time"] == 1767225605000  # the evaluation time, 2026-01-01T00:00:05Z, in ms
    run = event["unmapped"]["artifact-scan"]["run"]
    assert run["rules_sha256"] == scan.info.rules_sha256 and run["caller_arn"] == scan.info.caller_arn


def test_statuses(scan: ScanResult) -> None:
    by_status = {e["unmapped"]["artifact-scan"]["result_status"]: e for e in events(ocsf.render_all(scan))}
    assert by_status["suppressed"]["status_id"] == 3 and by_status["suppressed"]["compliance"]["status_id"] == 3
    assert by_status["error"]["compliance"]["status"] == "Unknown"
    assert by_status["skipped"]["compliance"]["status_id"] == 99
    # ART-010 was in the baseline run: an update of the same finding, not a new one
    assert by_status["fail"]["activity_id"] in (1, 2)
    unchanged = [e for e in events(ocsf.render(scan)) if e["compliance"]["control"] == "ART-010"]
    assert unchanged[0]["activity_id"] == 2 and unchanged[0]["type_uid"] == 200302


def test_pure_and_deterministic(scan: ScanResult) -> None:
    data = ocsf.render_all(scan)
    shuffled = replace(scan, results=tuple(reversed(scan.results)), rules=tuple(reversed(scan.rules)))
    assert ocsf.render_all(shuffled) == data == ocsf.render_all(build_scan())


@bounded(WRITER_EXAMPLES, deadline_ms=20_000)
@given(hostile_scans())
def test_hostile_aws_strings_keep_every_event_valid(case: tuple[ScanResult, str]) -> None:
    scan, _ = case
    scan = replace(scan, results=tuple(replace(r, resource_arn=r.resource_arn + r.resource_name[:200])
                                       for r in scan.results))
    for event in events(ocsf.render_all(scan)):
        assert ocsf_errors(event) == []
