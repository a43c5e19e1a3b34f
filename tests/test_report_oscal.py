"""results.oscal.json: valid against NIST's OSCAL 1.2.3 JSON Schema, deterministic, uuid5 ids."""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given

from scanner.model import ScanResult, Status
from scanner.report import WRITERS, oscal
from tests.format_schemas import oscal_errors
from tests.golden_support import assert_golden
from tests.scan_fixture import build_scan
from tests.test_properties import WRITER_EXAMPLES, bounded, hostile_scans


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def render(scan: ScanResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(oscal.render(scan))
    return document


def result_of(document: dict[str, Any]) -> dict[str, Any]:
    results = document["assessment-results"]["results"]
    assert len(results) == 1
    found: dict[str, Any] = results[0]
    return found


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("results.oscal.json", oscal.render(scan), update_golden)


def test_registered() -> None:
    assert WRITERS["oscal"].filename == "results.oscal.json" and WRITERS["oscal"].render is oscal.render


def test_valid_against_the_official_schema(scan: ScanResult) -> None:
    assert oscal_errors(render(scan)) == []


def test_python_re_cannot_read_the_schema_patterns() -> None:
    """Why the tests plug in the `regex` engine (tests/format_schemas.py)."""
    with pytest.raises(re.error):
        re.compile(r"^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$")


def test_the_schema_check_is_real(scan: ScanResult) -> None:
    good = render(scan)
    mutations = [
        lambda d: d["assessment-results"].pop("import-ap"),
        lambda d: d["assessment-results"]["metadata"].update(title="two\nlines"),
        lambda d: result_of(d)["findings"][0]["target"].update({"target-id": "1-starts-with-a-digit"}),
        lambda d: result_of(d)["findings"][0]["target"].update({"target-id": "é-unicode-letter-is-fine"}),
        lambda d: result_of(d).update(uuid="not-a-uuid"),
        lambda d: result_of(d)["observations"][0]["props"][0].update(value=" leading space"),
    ]
    outcomes = []
    for mutate in mutations:
        bad = copy.deepcopy(good)
        mutate(bad)
        outcomes.append(bool(oscal_errors(bad)))
    assert outcomes == [True, True, True, False, True, True]


def test_subjects_observations_and_findings(scan: ScanResult) -> None:
    result = result_of(render(scan))
    items = result["local-definitions"]["inventory-items"]
    item_uuids = {item["uuid"] for item in items}
    props = [{p["name"]: p["value"] for p in item["props"]} for item in items]
    assert {p["account-id"] for p in props if p["asset-kind"] == "aws-account"} == {a.id for a in scan.accounts}
    assert any(p["asset-kind"] == "aws.iam.role" for p in props)
    resources = {(r.account_id, r.resource_arn) for r in scan.results}
    assert len(result["observations"]) == len(resources)
    for observation in result["observations"]:
        assert observation["subjects"][0]["subject-uuid"] in item_uuids
        assert observation["relevant-evidence"][0]["href"].lstrip("#") in {
            r["uuid"] for r in render(scan)["assessment-results"]["back-matter"]["resources"]}
    failing = [r for r in scan.results if r.status is Status.FAIL]
    assert len(result["findings"]) == len(failing)
    observation_uuids = {o["uuid"] for o in result["observations"]}
    for finding in result["findings"]:
        assert finding["target"]["status"]["state"] == "not-satisfied"
        assert finding["related-observations"][0]["observation-uuid"] in observation_uuids
    assert (result["start"], result["end"]) == (scan.info.started_at, scan.info.finished_at)


def test_evidence_links(scan: ScanResult) -> None:
    resources = render(scan)["assessment-results"]["back-matter"]["resources"]
    hrefs = {r["rlinks"][0]["href"] for r in resources}
    assert f"../evidence-{scan.info.run_id}.tar" in hrefs
    digests = {p["value"] for r in resources for p in r.get("props", []) if p["name"] == "sha256"}
    assert digests == {scan.info.rules_sha256, scan.info.config_sha256}


def test_uuids_are_deterministic_version_5_and_unique(scan: ScanResult) -> None:
    text = oscal.render(scan).decode()
    found = re.findall(r'"(?:uuid|subject-uuid|observation-uuid|actor-uuid)": "([0-9a-f-]{36})"', text)
    assert found and all(uuid.UUID(u).version == 5 for u in found)
    defined = re.findall(r'"uuid": "([0-9a-f-]{36})"', text)
    assert len(defined) == len(set(defined))
    shuffled = replace(scan, results=tuple(reversed(scan.results)), accounts=tuple(reversed(scan.accounts)))
    assert oscal.render(shuffled) == oscal.render(scan) == oscal.render(build_scan())
    other_run = replace(scan, info=replace(scan.info, run_id="20270101T000000Z-ffffff"))
    assert render(other_run)["assessment-results"]["uuid"] != render(scan)["assessment-results"]["uuid"]


def test_tokens() -> None:
    assert oscal.token("ART-006") == "ART-006"
    assert oscal.token("1 rule/x") == "_1_rule_x"
    assert oscal.token("") == "_"


@bounded(WRITER_EXAMPLES, deadline_ms=30_000)
@given(hostile_scans())
def test_hostile_aws_strings_keep_the_document_valid(case: tuple[ScanResult, str]) -> None:
    scan, _ = case
    scan = replace(scan, results=tuple(replace(r, resource_arn=r.resource_arn + r.resource_name[:300],
                                               rule_id=r.rule_id + r.message[:20])
                                       for r in scan.results))
    assert oscal_errors(render(scan)) == []
