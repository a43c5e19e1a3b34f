"""results.junit.xml: one suite per rule, one testcase per result, counts in attributes, always parseable."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from scanner.model import CollectionError, ScanResult, Status
from scanner.report import WRITERS, junit
from tests.golden_support import assert_golden
from tests.scan_fixture import BASELINE_RUN, HOSTILE, LOCKED, MANAGEMENT, MEMBER, SUSPENDED, build_scan


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {suite.get("name", "").split(" ")[0]: suite for suite in root.findall("testsuite")}


def case(root: ET.Element, rule_id: str) -> ET.Element:
    (found,) = suites(root)[rule_id].findall("testcase")
    return found


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("results.junit.xml", junit.render(scan), update_golden)


def test_registered_as_junit() -> None:
    assert WRITERS["junit"].filename == "results.junit.xml"
    assert WRITERS["junit"].render is junit.render


def test_declaration_and_parse(scan: ScanResult) -> None:
    data = junit.render(scan)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites ")
    assert parse(data).tag == "testsuites"


def test_one_suite_per_rule_named_by_id_and_title(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    names = [suite.get("name") for suite in root.findall("testsuite")]
    expected = [f"{rule.id} {rule.title}" for rule in sorted(scan.rules, key=lambda r: r.id)]
    assert names == [*expected, junit.COLLECTION_SUITE, junit.BASELINE_SUITE, junit.SUPPRESSIONS_SUITE]
    assert suites(root)["ART-001"].findall("testcase") == []


def test_counts_in_attributes(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        for attribute, child in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(attribute, "")) == sum(1 for c in cases if c.find(child) is not None)
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(attribute, "")) == sum(int(s.get(attribute, "")) for s in root.findall("testsuite"))
    # 7 results + 1 collection error + 2 resolved; 2 fail; 1 error result + 1 collection error;
    # 1 suppressed + 1 skipped
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("10", "2", "2", "2")
    assert root.get("time") == "5.000"


def test_fail_is_a_failure_with_evidence(scan: ScanResult) -> None:
    testcase = case(parse(junit.render(scan)), "ART-006")
    assert testcase.get("classname") == "ART-006"
    assert testcase.get("name") == f"{MEMBER} AWSServiceRoleForArtifact"
    failure = testcase.find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert failure.get("message", "").startswith("AWSServiceRoleForArtifact in 222222222222 trusts aws:999999999999")
    assert failure.text is not None
    assert 'found ["aws:999999999999", "service:artifact.amazonaws.com"]' in failure.text
    assert "arn:aws:iam::222222222222:role/aws-service-role/" in failure.text


def test_error_is_an_error_with_its_causes(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    testcases = suites(root)["ART-012"].findall("testcase")
    errored = [c for c in testcases if c.find("error") is not None]
    assert len(errored) == 1 and errored[0].get("name") == f"{LOCKED} locked"
    error = errored[0].find("error")
    assert error is not None and error.get("type") == "high"
    assert "cause: sts:AssumeRole: AccessDenied" in (error.text or "")
    passed = [c for c in testcases if len(c) == 0]
    assert [c.get("name") for c in passed] == [f"{MEMBER} ArtifactReader"]


def test_suppressed_and_skipped_are_skipped(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    suppressed = case(root, "ART-011").find("skipped")
    assert suppressed is not None
    assert suppressed.get("message") == (
        "suppressed until 2027-01-31 by cloud-security@example.com: Decommissioning in ticket SEC-42")
    skipped = case(root, "ART-014")
    assert skipped.get("name") == f"{SUSPENDED} suspended"
    element = skipped.find("skipped")
    assert element is not None and element.get("message") == "account state is SUSPENDED"


def test_pass_has_no_child(scan: ScanResult) -> None:
    assert len(case(parse(junit.render(scan)), "ART-002")) == 0


def test_collection_errors_only_when_there_are_some(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    collection = root.find(f"testsuite[@name='{junit.COLLECTION_SUITE}']")
    assert collection is not None and collection.get("errors") == "1"
    (error,) = collection.iter("error")
    assert error.get("type") == "AccessDenied" and LOCKED in (error.text or "")
    clean = parse(junit.render(replace(scan, errors=())))
    assert clean.find(f"testsuite[@name='{junit.COLLECTION_SUITE}']") is None
    assert clean.get("errors") == "1"


def test_deterministic(scan: ScanResult) -> None:
    shuffled = replace(scan, results=tuple(reversed(scan.results)), rules=tuple(reversed(scan.rules)),
                       resolved=tuple(reversed(scan.resolved)))
    assert junit.render(shuffled) == junit.render(scan)


# --- baseline, expired and unused suppressions, drift ---------------------------------------------


def _suite_named(root: ET.Element, name: str) -> ET.Element | None:
    return root.find(f"testsuite[@name='{name}']")


def test_findings_say_new_or_unchanged_and_first_seen(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    failure = case(root, "ART-006").find("failure")
    assert failure is not None and "\nnew since the baseline (first seen 2026-01-01T00:00:00Z)" in (failure.text or "")
    skipped = case(root, "ART-011").find("skipped")
    assert skipped is not None and "\nunchanged since the baseline (first seen 2025-11-03T08:00:00Z)" in (
        skipped.text or "")
    unbaselined = replace(scan, baseline_run_id=None, resolved=(), drift=(),
                          results=tuple(replace(r, baseline=None, first_seen=None) for r in scan.results))
    data = junit.render(unbaselined)
    assert b"since the baseline" not in data and junit.BASELINE_SUITE.encode() not in data


def test_expired_suppression_is_in_the_failure_message(scan: ScanResult) -> None:
    failure = case(parse(junit.render(scan)), "ART-010").find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("suppression suppressions.yaml:9 expired on 2025-12-31, so this "
                                                 "failure is no longer accepted: AWSServiceRoleForArtifact in "
                                                 "111111111111 is named like")
    text = failure.text or ""
    assert ("suppression suppressions.yaml:9 expired on 2025-12-31, so this failure is no longer accepted "
            "(rule ART-010") in text
    assert f"account {MANAGEMENT}, owner platform@example.com" in text
    plain = case(parse(junit.render(scan)), "ART-006").find("failure")
    assert plain is not None and "expired" not in (plain.text or "") + plain.get("message", "")


def test_resolved_findings_pass_in_a_baseline_suite_with_the_drift(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    suite = _suite_named(root, junit.BASELINE_SUITE)
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {"baseline_run_id": BASELINE_RUN, "new_findings": "1", "resolved_findings": "2",
                          "drift": "1"}
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == ["ART-007", "ART-010"]
    assert all(c.find("failure") is None and c.find("skipped") is None for c in cases)
    assert cases[1].get("name") == f"{MEMBER} look-alike {HOSTILE} (resolved)"
    assert "first seen: 2025-10-01T00:00:00Z" in (cases[0].findtext("system-out") or "")
    out = suite.find("system-out")
    assert out is not None and out.text is not None
    assert out.text.startswith(f"1 new, 2 resolved since baseline {BASELINE_RUN}; drift: 1")
    assert "drift: service-linked-role-recreated" in out.text
    assert 'before {"create_date": "2025-06-01T10:00:00Z"' in out.text and '"AROANEWNEWNEWNEWNEW2"}' in out.text


def test_expired_and_unused_suppressions_are_listed(scan: ScanResult) -> None:
    root = parse(junit.render(scan))
    suite = _suite_named(root, junit.SUPPRESSIONS_SUITE)
    assert suite is not None and suite.get("tests") == "0" and suite.findall("testcase") == []
    lines = (suite.findtext("system-out") or "").splitlines()
    assert lines[0].startswith("suppression suppressions.yaml:9 expired on 2025-12-31: 1 failure fails again "
                               "(rule ART-010")
    assert lines[1].startswith("suppression suppressions.yaml:15 matched no failure of this run (rule ART-007, "
                               "every account")
    quiet = replace(scan, unused_suppressions=(), results=tuple(replace(r, expired_suppression=None)
                                                                 for r in scan.results))
    assert _suite_named(parse(junit.render(quiet)), junit.SUPPRESSIONS_SUITE) is None


NASTY = HOSTILE + ' & "quotes" \x00\x07\x1b[31m\x0b\x0c\ud800\ufffe ]]> <![CDATA[ x ]]> \n second line'


def test_hostile_text_is_escaped_and_always_parses(scan: ScanResult) -> None:
    hostile = tuple(
        replace(r, account_name=NASTY, resource_name=NASTY, message=NASTY,
                suppression=replace(r.suppression, reason=NASTY) if r.suppression else None,
                causes=tuple(replace(c, message=NASTY) for c in r.causes))
        for r in scan.results
    )
    errors = (*scan.errors, CollectionError("iam:ListRoles", NASTY, NASTY, None, NASTY))
    data = junit.render(replace(
        scan, results=hostile, errors=errors,
        resolved=tuple(replace(r, resource_name=NASTY, message=NASTY) for r in scan.resolved),
        drift=tuple(replace(d, message=NASTY, after={"x": NASTY}) for d in scan.drift),
        unused_suppressions=tuple(replace(u, reason=NASTY, source=NASTY) for u in scan.unused_suppressions)))
    assert b"<script>" not in data and b"<img" not in data
    root = parse(data)
    failure = case(root, "ART-006").find("failure")
    assert failure is not None
    assert '<script>alert("x")</script>' in failure.get("message", "")  # escaped in the file, intact when read
    assert "\n" not in failure.get("message", "")
    assert "second line" in (failure.text or "")
    assert "\x00" not in (failure.text or "") and "\ufffd" in (failure.text or "")
    assert len(list(root.iter("testcase"))) == len(scan.results) + len(errors) + len(scan.resolved)
    baseline = root.find(f"testsuite[@name='{junit.BASELINE_SUITE}']")
    assert baseline is not None and NASTY.split("\x00")[0] in (baseline.findtext("system-out") or "")


def test_long_message_attribute_is_bounded(scan: ScanResult) -> None:
    long = tuple(replace(r, message="x" * 10_000) if r.status is Status.FAIL else r for r in scan.results)
    failure = case(parse(junit.render(replace(scan, results=long))), "ART-006").find("failure")
    assert failure is not None
    assert len(failure.get("message", "")) == junit.MAX_MESSAGE
    assert "x" * 10_000 in (failure.text or "")
