"""results.sarif: valid SARIF 2.1.0 (format checking on), and what GitHub code scanning demands beyond it."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft4Validator

from scanner.model import CollectionError, FindingKey, ResolvedFinding, Result, ScanResult, Severity, Status
from scanner.report import WRITERS, sarif
from tests import sarif_rules
from tests.golden_support import assert_golden
from tests.sarif_rules import github_problems
from tests.scan_fixture import (
    BASELINE_RUN,
    EXPIRED,
    HOSTILE,
    LOCKED,
    MANAGEMENT,
    MEMBER,
    ORG,
    UNUSED,
    build_scan,
)

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
STRICT = Draft4Validator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
# Draft 4 knows only its own formats; every format jsonschema knows adds `uri-reference` (artifact URIs).
ALL_FORMATS = Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def render(scan: ScanResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(sarif.render(scan))
    return document


def run_of(document: dict[str, Any]) -> dict[str, Any]:
    assert len(document["runs"]) == 1
    run: dict[str, Any] = document["runs"][0]
    return run


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for v in (STRICT, ALL_FORMATS) for e in v.iter_errors(document)]


def assert_valid(document: dict[str, Any]) -> None:
    assert schema_errors(document) == []
    assert github_problems(document) == []


def fingerprints(document: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {
        (r["ruleId"], r["properties"]["artifact-scan/account"]["id"], r["properties"]["artifact-scan/resource"]["arn"]):
        r["partialFingerprints"]["primaryLocationLineHash"]
        for r in run_of(document)["results"]
    }


def failures(scan: ScanResult, count: int) -> tuple[Result, ...]:
    """`count` distinct failing results of every severity, made from the fixture's ART-006 failure."""
    template = next(r for r in scan.results if r.status is Status.FAIL)
    rules = [rule for rule in scan.rules]
    made = []
    for i in range(count):
        rule = rules[i % len(rules)]
        account = f"{100000000000 + i:012d}"
        noise = hashlib.sha256(str(i).encode()).hexdigest()  # defeats compression in the size tests
        made.append(replace(template, rule_id=rule.id, severity=rule.severity, account_id=account,
                            resource_arn=f"arn:aws:iam::{account}:role/r{i}", resource_name=f"r{i}",
                            message=f"finding {i} {noise}"))
    return tuple(made)


# --- golden, registry, schema ----------------------------------------------------------------------


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("results.sarif", sarif.render(scan), update_golden)


def test_registered_as_sarif() -> None:
    assert WRITERS["sarif"].filename == "results.sarif"
    assert WRITERS["sarif"].render is sarif.render


def test_format_checking_is_really_on() -> None:
    assert {"uri", "date-time"} <= set(Draft4Validator.FORMAT_CHECKER.checkers)
    assert "uri-reference" in jsonschema.FormatChecker().checkers
    bad = render(build_scan())
    bad["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri"
    assert any("informationUri" in e for e in schema_errors(bad))
    bad = render(build_scan())
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "a b|c"
    assert any("uri" in e for e in schema_errors(bad))


def test_valid_against_the_schema_with_format_checking(scan: ScanResult) -> None:
    assert schema_errors(render(scan)) == []


def test_github_accepts_it(scan: ScanResult) -> None:
    assert github_problems(render(scan)) == []


def test_deterministic_and_sorted(scan: ScanResult) -> None:
    data = sarif.render(scan)
    shuffled = replace(scan, results=tuple(reversed(scan.results)), rules=tuple(reversed(scan.rules)),
                       errors=tuple(reversed(scan.errors)))
    assert sarif.render(shuffled) == data
    text = data.decode("ascii")  # non-ASCII is escaped: no encoding question for any consumer
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    run = run_of(json.loads(text))
    ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert ids == sorted(ids) == sorted({rule.id for rule in scan.rules})
    order = [(-Severity.parse(r["properties"]["artifact-scan/severity"]), r["ruleId"]) for r in run["results"]]
    assert order == sorted(order)


# --- tool, run, invocation ---------------------------------------------------------------------------


def test_one_run_with_tool_and_metadata(scan: ScanResult) -> None:
    document = render(scan)
    assert document["version"] == "2.1.0"
    run = run_of(document)
    driver = run["tool"]["driver"]
    assert driver["name"] == "artifact-scan"
    assert driver["version"] == driver["semanticVersion"] == scan.info.tool_version
    assert driver["informationUri"].startswith("https://")
    assert run["automationDetails"]["id"] == f"artifact-scan/{ORG}/"
    properties = run["properties"]
    assert properties["artifact-scan/organizationId"] == ORG
    assert properties["artifact-scan/managementAccountId"] == MANAGEMENT
    assert properties["artifact-scan/caller"] == scan.info.caller_arn
    assert properties["artifact-scan/rulesSha256"] == scan.info.rules_sha256
    assert properties["artifact-scan/complete"] is False
    assert properties["artifact-scan/truncated"] == 0
    assert properties["artifact-scan/summary"]["by_status"]["pass"] == 2


def test_times_come_from_the_run_not_the_clock(scan: ScanResult) -> None:
    invocation = run_of(render(scan))["invocations"][0]
    assert invocation["startTimeUtc"] == scan.info.started_at
    assert invocation["endTimeUtc"] == scan.info.finished_at


def test_semantic_version_only_when_it_is_one(scan: ScanResult) -> None:
    driver = run_of(render(replace(scan, info=replace(scan.info, tool_version="0.1.0.dev3"))))["tool"]["driver"]
    assert driver["version"] == "0.1.0.dev3"
    assert "semanticVersion" not in driver


def test_category_is_per_organization_and_shard(scan: ScanResult) -> None:
    other_run = replace(scan.info, run_id="20270101T000000Z-ffffff", started_at="2027-01-01T00:00:00Z")
    assert run_of(render(replace(scan, info=other_run)))["automationDetails"]["id"] == f"artifact-scan/{ORG}/"
    sharded = replace(scan, info=replace(scan.info, shard="2/4"))
    assert run_of(render(sharded))["automationDetails"]["id"] == f"artifact-scan/{ORG}/shard-2-of-4/"
    unknown = replace(scan, info=replace(scan.info, organization_id=None))
    assert run_of(render(unknown))["automationDetails"]["id"] == "artifact-scan/unknown-organization/"


# --- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "score", "level"), [
    (Severity.CRITICAL, "9.5", "error"),
    (Severity.HIGH, "8.0", "error"),
    (Severity.MEDIUM, "5.5", "warning"),
    (Severity.LOW, "3.0", "note"),
    (Severity.INFO, "0.0", "note"),
])
def test_severity_mapping(scan: ScanResult, severity: Severity, score: str, level: str) -> None:
    rule = replace(scan.rules[0], severity=severity)
    descriptor, _ = sarif.rule_descriptor(rule)
    assert descriptor["properties"]["security-severity"] == score
    assert descriptor["defaultConfiguration"]["level"] == level
    result = replace(scan.results[1], severity=severity)
    assert sarif.result_object(result, 0, "rules/x.yaml")["level"] == level


def test_rule_descriptor(scan: ScanResult) -> None:
    rules = {rule["id"]: rule for rule in run_of(render(scan))["tool"]["driver"]["rules"]}
    art006 = rules["ART-006"]
    source = next(rule for rule in scan.rules if rule.id == "ART-006")
    assert art006["name"].isalnum() and art006["name"][0].isupper()
    assert art006["shortDescription"]["text"] == source.title
    assert art006["helpUri"] == source.references[0].url
    assert source.rationale.split()[0] in art006["help"]["markdown"]
    assert f"```sh\n{source.remediation.command}\n```" in art006["help"]["markdown"]
    assert source.remediation.command in art006["help"]["text"]
    properties = art006["properties"]
    assert properties["tags"][0] == "security" and set(source.tags) <= set(properties["tags"])
    assert properties["precision"] in ("high", "very-high")
    assert properties["security-severity"] == "9.5"
    assert properties["artifact-scan/compliance"] == {k: list(v) for k, v in source.compliance.items()}


def test_tags_cut_to_githubs_limit_and_said_so(scan: ScanResult) -> None:
    tagged = replace(scan.rules[0], tags=tuple(f"tag-{i:02d}" for i in range(30)))
    document = render(replace(scan, rules=(tagged, *scan.rules[1:])))
    run = run_of(document)
    tags = run["tool"]["driver"]["rules"][0]["properties"]["tags"]
    assert len(tags) == 20 and tags[0] == "security" and tags[1:] == [f"tag-{i:02d}" for i in range(19)]
    assert run["properties"]["artifact-scan/truncatedTags"] == 11
    notes = run["invocations"][0]["toolConfigurationNotifications"]
    tag_notes = [n for n in notes if n["descriptor"]["id"] == "artifact-scan/truncated-tags"]
    assert [n["associatedRule"]["id"] for n in tag_notes] == [tagged.id]
    assert_valid(document)


def test_result_naming_an_unknown_rule_still_has_a_complete_rule(scan: ScanResult) -> None:
    stray = replace(scan.results[1], rule_id="CUSTOM-001")
    document = render(replace(scan, results=(*scan.results, stray)))
    assert "CUSTOM-001" in [rule["id"] for rule in run_of(document)["tool"]["driver"]["rules"]]
    assert_valid(document)


# --- results and locations -------------------------------------------------------------------------


def test_only_fail_and_suppressed_are_results(scan: ScanResult) -> None:
    results = run_of(render(scan))["results"]
    assert sorted(r["properties"]["artifact-scan/status"] for r in results) == ["fail", "fail", "suppressed"]
    expected = {(r.rule_id, r.resource_arn) for r in scan.results if r.status in (Status.FAIL, Status.SUPPRESSED)}
    assert {(r["ruleId"], r["properties"]["artifact-scan/resource"]["arn"]) for r in results} == expected


def test_location_is_the_rule_file_and_the_arn_is_logical(scan: ScanResult) -> None:
    for result in run_of(render(scan))["results"]:
        location = result["locations"][0]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.endswith(f"/{result['ruleId']}.yaml") and not uri.startswith(("arn:", "/"))
        assert location["physicalLocation"]["region"]["startLine"] == 1
        arn = result["properties"]["artifact-scan/resource"]["arn"]
        assert location["logicalLocations"] == [{
            "fullyQualifiedName": arn,
            "kind": "resource",
            "name": result["properties"]["artifact-scan/resource"]["name"],
        }]
        # The ARN is the logical location; the message is the rule's sentence, which names the resource
        sentence = next(r.message for r in scan.results if (r.rule_id, r.resource_arn) == (result["ruleId"], arn))
        assert result["message"]["text"].startswith(sentence.split("<")[0])


@pytest.mark.parametrize(("source", "uri"), [
    ("rules/artifact/ART-006.yaml", "rules/artifact/ART-006.yaml"),
    ("./custom/ART-006.yaml", "custom/ART-006.yaml"),
    ("custom rules/ART-006.yaml", "custom%20rules/ART-006.yaml"),
    ("/etc/artifact-scan/ART-006.yaml", "rules/artifact/ART-006.yaml"),
    ("../elsewhere/ART-006.yaml", "rules/artifact/ART-006.yaml"),
    ("C:\\rules\\ART-006.yaml", "rules/artifact/ART-006.yaml"),
    ("file:///rules/ART-006.yaml", "rules/artifact/ART-006.yaml"),
    ("", "rules/artifact/ART-006.yaml"),
])
def test_artifact_uri_is_relative_without_scheme(scan: ScanResult, source: str, uri: str) -> None:
    rule = replace(next(r for r in scan.rules if r.id == "ART-006"), source=source, pack="artifact")
    assert sarif.artifact_uri(rule) == uri
    assert sarif_rules.uri_problem(uri) is None


def test_suppressed_result_kept_with_its_suppression(scan: ScanResult) -> None:
    results = run_of(render(scan))["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert len(suppressed) == 1 and suppressed[0]["ruleId"] == "ART-011"
    (suppression,) = suppressed[0]["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["justification"] == "Decommissioning in ticket SEC-42"
    assert suppression["properties"] == {"owner": "cloud-security@example.com", "expires": "2027-01-31",
                                         "source": "suppressions.yaml:3"}
    assert all("suppressions" not in r for r in results if r["ruleId"] != "ART-011")


def test_fingerprint_stable_across_runs(scan: ScanResult) -> None:
    later = replace(scan.info, run_id="20260202T000000Z-999999", started_at="2026-02-02T00:00:00Z",
                    finished_at="2026-02-02T00:09:00Z", tool_version="9.9.9", complete=True)
    reordered = replace(scan, info=later, results=tuple(reversed(scan.results)))
    first, second = fingerprints(render(scan)), fingerprints(render(reordered))
    assert first == second and len(set(first.values())) == len(first) == 3


@pytest.mark.parametrize("change", [
    {"account_id": "999999999999"},
    {"resource_arn": f"arn:aws:iam::{MEMBER}:role/other"},
    {"rule_id": "ART-007"},
])
def test_fingerprint_differs_for_another_resource_account_or_rule(scan: ScanResult, change: dict[str, Any]) -> None:
    result = next(r for r in scan.results if r.status is Status.FAIL)
    other = replace(result, **change)
    assert sarif.fingerprint(result.rule_id, result.account_id, result.resource_arn) != sarif.fingerprint(
        other.rule_id, other.account_id, other.resource_arn)
    document = render(replace(scan, results=(*scan.results, other)))
    assert len(set(fingerprints(document).values())) == 4
    assert_valid(document)


# --- baseline, expired and unused suppressions, drift ---------------------------------------------


def _without_baseline(scan: ScanResult) -> ScanResult:
    return replace(scan, baseline_run_id=None, resolved=(), drift=(),
                   results=tuple(replace(r, baseline=None, first_seen=None) for r in scan.results))


def test_results_have_baseline_state_and_first_seen(scan: ScanResult) -> None:
    run = run_of(render(scan))
    states = {r["ruleId"]: (r["baselineState"], r["properties"]["artifact-scan/firstSeen"]) for r in run["results"]}
    assert states == {
        "ART-006": ("new", scan.info.started_at),
        "ART-010": ("unchanged", "2025-09-15T06:00:00Z"),
        "ART-011": ("unchanged", "2025-11-03T08:00:00Z"),
    }
    assert run["properties"]["artifact-scan/baselineRunId"] == BASELINE_RUN
    assert run["properties"]["artifact-scan/summary"]["new_findings"] == 1
    assert run["properties"]["artifact-scan/summary"]["resolved_findings"] == 2


def test_baseline_guid_is_the_baseline_runs_own_guid(scan: ScanResult) -> None:
    run = run_of(render(scan))
    baseline_run = replace(scan, info=replace(scan.info, run_id=BASELINE_RUN))
    assert run["baselineGuid"] == run_of(render(baseline_run))["automationDetails"]["guid"]
    assert run["baselineGuid"] != run["automationDetails"]["guid"]
    assert "baselineGuid" not in run_of(render(_without_baseline(scan)))


def test_no_baseline_state_without_a_baseline(scan: ScanResult) -> None:
    document = render(_without_baseline(scan))
    run = run_of(document)
    assert all("baselineState" not in r and "artifact-scan/firstSeen" not in r["properties"] for r in run["results"])
    assert run["properties"]["artifact-scan/baselineRunId"] is None
    assert run["properties"]["artifact-scan/resolved"] == [] == run["properties"]["artifact-scan/drift"]
    assert not any(n["descriptor"]["id"] == "artifact-scan/drift"
                   for n in run["invocations"][0]["toolConfigurationNotifications"])
    assert_valid(document)


def test_resolved_findings_are_run_properties_not_absent_results(scan: ScanResult) -> None:
    """GitHub ignores baselineState and closes an alert when the analysis no longer has it: an `absent`
    result would be one more open alert. Resolved findings are listed in the run's properties instead."""
    run = run_of(render(scan))
    assert all(r["baselineState"] in ("new", "unchanged") for r in run["results"])
    arns = {r["properties"]["artifact-scan/resource"]["arn"] for r in run["results"]}
    resolved = run["properties"]["artifact-scan/resolved"]
    assert [(r["ruleId"], r["account"]) for r in resolved] == [("ART-007", MEMBER), ("ART-010", MEMBER)]
    assert not {(r["ruleId"], r["resource"]["arn"]) for r in resolved} & {
        (r["ruleId"], r["properties"]["artifact-scan/resource"]["arn"]) for r in run["results"]}
    assert arns  # the fixture's findings are still there
    assert resolved[0]["firstSeen"] == "2025-10-01T00:00:00Z" and resolved[1]["firstSeen"] is None
    assert resolved[0]["severity"] == "high"


def test_resolved_finding_names_the_fingerprint_its_alert_had(scan: ScanResult) -> None:
    before = run_of(render(scan))
    art006 = next(r for r in before["results"] if r["ruleId"] == "ART-006")
    result = next(r for r in scan.results if r.rule_id == "ART-006")
    gone = ResolvedFinding(FindingKey(result.rule_id, result.account_id, result.resource_arn), result.severity,
                           result.resource_name, result.message, result.first_seen)
    after = replace(scan, results=tuple(r for r in scan.results if r is not result), resolved=(gone,))
    (listed,) = run_of(render(after))["properties"]["artifact-scan/resolved"]
    assert listed["primaryLocationLineHash"] == art006["partialFingerprints"]["primaryLocationLineHash"]


def test_resolved_list_is_capped_most_severe_first(scan: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    many = tuple(
        ResolvedFinding(FindingKey(f"ART-0{i % 5 + 1:02d}", f"{i:012d}", f"arn:aws:iam::{i:012d}:role/r"),
                        Severity(i % 5), f"r{i}", f"gone {i}", None)
        for i in range(20)
    )
    monkeypatch.setattr(sarif, "MAX_RESOLVED", 5)
    document = render(replace(scan, resolved=many))
    run = run_of(document)
    listed = run["properties"]["artifact-scan/resolved"]
    assert [r["severity"] for r in listed] == ["critical"] * 4 + ["high"]
    assert run["properties"]["artifact-scan/truncatedResolved"] == 15
    assert run["properties"]["artifact-scan/summary"]["resolved_findings"] == 20
    (note,) = [n for n in run["invocations"][0]["toolConfigurationNotifications"]
               if n["descriptor"]["id"] == "artifact-scan/truncated-resolved"]
    assert "15 of 20 resolved findings" in note["message"]["text"]
    assert_valid(document)


def test_size_limit_drops_resolved_after_results_and_notifications(
    scan: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = [hashlib.sha256(str(i).encode()).hexdigest() * 4 for i in range(400)]
    many = tuple(ResolvedFinding(FindingKey("ART-006", f"{i:012d}", f"arn:aws:iam::{i:012d}:role/{noise[i]}"),
                                 Severity.CRITICAL, noise[i], noise[i], None) for i in range(400))
    bare = replace(scan, results=(), errors=(), resolved=())
    limit = len(gzip.compress(sarif.render(bare), mtime=0)) + 6_000
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", limit)
    data = sarif.render(replace(scan, resolved=many))
    assert len(gzip.compress(data, mtime=0)) <= limit
    run = run_of(json.loads(data))
    kept = len(run["properties"]["artifact-scan/resolved"])
    assert 0 < kept < 400 and run["properties"]["artifact-scan/truncatedResolved"] == 400 - kept
    assert run["results"] == [] and "toolExecutionNotifications" not in run["invocations"][0]


def test_expired_suppression_fails_again_and_says_which_and_when(scan: ScanResult) -> None:
    run = run_of(render(scan))
    art010 = next(r for r in run["results"] if r["ruleId"] == "ART-010")
    assert "suppressions" not in art010 and art010["properties"]["artifact-scan/status"] == "fail"
    assert "suppression suppressions.yaml:9 expired on 2025-12-31" in art010["message"]["text"]
    assert art010["properties"]["artifact-scan/expiredSuppression"] == {
        "ruleId": "ART-010", "account": MANAGEMENT, "resource": None, "reason": EXPIRED.reason,
        "owner": "platform@example.com", "expires": "2025-12-31", "source": "suppressions.yaml:9"}
    assert all("artifact-scan/expiredSuppression" not in r["properties"] for r in run["results"] if r is not art010)
    (note,) = [n for n in run["invocations"][0]["toolConfigurationNotifications"]
               if n["descriptor"]["id"] == "artifact-scan/expired-suppression"]
    assert note["level"] == "warning" and note["associatedRule"]["id"] == "ART-010"
    for text in ("suppressions.yaml:9", "2025-12-31", "platform@example.com", ": 1 failure fails again"):
        assert text in note["message"]["text"]


def test_an_expired_entry_is_one_notification_whatever_it_covered(scan: ScanResult) -> None:
    art010 = next(r for r in scan.results if r.rule_id == "ART-010")
    twin = replace(art010, resource_arn=f"arn:aws:iam::{MANAGEMENT}:role/Other", resource_name="Other")
    run = run_of(render(replace(scan, results=(*scan.results, twin))))
    notes = [n for n in run["invocations"][0]["toolConfigurationNotifications"]
             if n["descriptor"]["id"] == "artifact-scan/expired-suppression"]
    assert len(notes) == 1 and ": 2 failures fail again" in notes[0]["message"]["text"]
    assert len(notes[0]["properties"]["artifact-scan/results"]) == 2


def test_unused_suppressions_and_drift_are_warnings(scan: ScanResult) -> None:
    run = run_of(render(scan))
    notes = {n["descriptor"]["id"]: n for n in run["invocations"][0]["toolConfigurationNotifications"]}
    unused = notes["artifact-scan/unused-suppression"]
    assert unused["level"] == "warning" and "suppressions.yaml:15" in unused["message"]["text"]
    assert "matched no failure" in unused["message"]["text"]
    assert run["properties"]["artifact-scan/unusedSuppressions"][0]["source"] == UNUSED.source
    drift = notes["artifact-scan/drift"]
    assert drift["level"] == "warning" and "deleted and re-created" in drift["message"]["text"]
    (listed,) = run["properties"]["artifact-scan/drift"]
    assert listed["kind"] == "service-linked-role-recreated"
    assert listed["before"]["role_id"] != listed["after"]["role_id"]
    descriptors = {d["id"] for d in run["tool"]["driver"]["notifications"]}
    assert set(notes) <= descriptors


def test_audit_lists_are_deterministic(scan: ScanResult) -> None:
    twice = replace(scan, drift=(*scan.drift, replace(scan.drift[0], kind="trusted-access-re-enabled")),
                    unused_suppressions=(*scan.unused_suppressions, replace(UNUSED, source="suppressions.yaml:1")))
    shuffled = replace(twice, resolved=tuple(reversed(twice.resolved)), drift=tuple(reversed(twice.drift)),
                       unused_suppressions=tuple(reversed(twice.unused_suppressions)))
    assert sarif.render(shuffled) == sarif.render(twice)
    assert_valid(render(twice))


# --- errors ----------------------------------------------------------------------------------------


def test_error_results_are_notifications_not_results(scan: ScanResult) -> None:
    run = run_of(render(scan))
    assert all(r["properties"]["artifact-scan/status"] != "error" for r in run["results"])
    assert not any(LOCKED in r["message"]["text"] for r in run["results"])
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["error", "error"]
    rule_note, collection_note = notes
    assert rule_note["descriptor"]["id"] == "ART-012" == rule_note["associatedRule"]["id"]
    for text in (LOCKED, "sts:AssumeRole", "AccessDenied", "User is not authorized"):
        assert text in rule_note["message"]["text"]
        assert text in collection_note["message"]["text"]
    assert collection_note["descriptor"]["id"] == "artifact-scan/collection-error"
    assert "associatedRule" not in collection_note


def _clean(scan: ScanResult) -> ScanResult:
    return replace(scan, info=replace(scan.info, complete=True), errors=(),
                   results=tuple(r for r in scan.results if r.status is not Status.ERROR))


def test_execution_successful_only_when_complete_without_errors(scan: ScanResult) -> None:
    clean = run_of(render(_clean(scan)))["invocations"][0]
    assert clean["executionSuccessful"] is True and "toolExecutionNotifications" not in clean
    incomplete = _clean(scan)
    incomplete = replace(incomplete, info=replace(incomplete.info, complete=False))
    assert run_of(render(incomplete))["invocations"][0]["executionSuccessful"] is False
    one_error = replace(_clean(scan), results=scan.results)
    assert run_of(render(one_error))["invocations"][0]["executionSuccessful"] is False


def test_organization_level_collection_error(scan: ScanResult) -> None:
    error = CollectionError("organizations:DescribeOrganization", "AccessDeniedException", "no")
    document = render(replace(scan, errors=(*scan.errors, error)))
    notes = run_of(document)["invocations"][0]["toolExecutionNotifications"]
    assert any("organization" in n["message"]["text"] and "DescribeOrganization" in n["message"]["text"]
               for n in notes)
    assert_valid(document)


# --- limits ----------------------------------------------------------------------------------------


def test_result_limit_keeps_the_most_severe_and_says_so(scan: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    findings = [r for r in scan.results if r.status in (Status.FAIL, Status.SUPPRESSED)]
    document = render(scan)
    run = run_of(document)
    assert [r["ruleId"] for r in run["results"]] == ["ART-006", "ART-010"]  # critical, then high; medium dropped
    assert run["properties"]["artifact-scan/truncated"] == len(findings) - 2 == 1
    (note,) = [n for n in run["invocations"][0]["toolConfigurationNotifications"]
               if n["descriptor"]["id"] == "artifact-scan/truncated"]
    assert "1 of 3 results" in note["message"]["text"]
    assert_valid(document)


def test_result_limit_order_is_severity_rule_account_arn(scan: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    many = failures(scan, 60)
    monkeypatch.setattr(sarif, "MAX_RESULTS", 10)
    run = run_of(render(replace(scan, results=many)))
    expected = sorted(many, key=lambda r: (-r.severity, r.rule_id, r.account_id, r.resource_arn))[:10]
    assert [(r["ruleId"], r["properties"]["artifact-scan/resource"]["arn"]) for r in run["results"]] == [
        (r.rule_id, r.resource_arn) for r in expected]
    assert run["properties"]["artifact-scan/truncated"] == 50


def test_compressed_size_limit_keeps_the_most_severe(scan: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    many = replace(scan, results=failures(scan, 400))
    full = sarif.render(many)
    limit = len(gzip.compress(full, mtime=0)) // 2
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", limit)
    monkeypatch.setattr(sarif_rules, "MAX_GZIP_BYTES", limit)
    data = sarif.render(many)
    assert len(gzip.compress(data, mtime=0)) <= limit
    document = json.loads(data)
    run = run_of(document)
    kept = len(run["results"])
    assert 0 < kept < 400 and run["properties"]["artifact-scan/truncated"] == 400 - kept
    expected = sorted(many.results, key=lambda r: (-r.severity, r.rule_id, r.account_id, r.resource_arn))[:kept]
    assert [(r["ruleId"], r["properties"]["artifact-scan/resource"]["arn"]) for r in run["results"]] == [
        (r.rule_id, r.resource_arn) for r in expected]
    assert any(n["descriptor"]["id"] == "artifact-scan/truncated"
               for n in run["invocations"][0]["toolConfigurationNotifications"])
    assert_valid(document)


def test_size_limit_too_small_even_for_no_results_drops_notifications(
    scan: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = tuple(CollectionError("iam:ListRoles", "Throttling", hashlib.sha256(str(i).encode()).hexdigest() * 4,
                                   f"{i:012d}") for i in range(300))
    noisy = replace(scan, errors=errors)
    empty = replace(noisy, results=(), errors=())
    limit = len(gzip.compress(sarif.render(empty), mtime=0)) + 4_000
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", limit)
    data = sarif.render(noisy)
    assert len(gzip.compress(data, mtime=0)) <= limit
    run = run_of(json.loads(data))
    assert run["properties"]["artifact-scan/truncatedNotifications"] > 0
    assert run["invocations"][0]["executionSuccessful"] is False


# --- hostile strings -------------------------------------------------------------------------------

NASTY = HOSTILE + "\x00\x01\x1b[31m\u2028\u2029\ud800 \"quoted\" \\ [link](https://evil.example) ```"


def test_hostile_strings_keep_it_valid(scan: ScanResult) -> None:
    hostile = tuple(
        replace(r, account_name=NASTY, resource_name=NASTY, message=NASTY,
                suppression=replace(r.suppression, reason=NASTY, owner=NASTY) if r.suppression else None,
                causes=tuple(replace(c, message=NASTY) for c in r.causes))
        for r in scan.results
    )
    hostile = tuple(
        replace(r, expired_suppression=replace(r.expired_suppression, reason=NASTY, owner=NASTY, source=NASTY))
        if r.expired_suppression else r
        for r in hostile
    )
    errors = tuple(replace(e, message=NASTY, resource=NASTY) for e in scan.errors)
    data = sarif.render(replace(
        scan, results=hostile, errors=errors, info=replace(scan.info, caller_arn=NASTY),
        resolved=tuple(replace(r, resource_name=NASTY, message=NASTY) for r in scan.resolved),
        drift=tuple(replace(d, message=NASTY, before=NASTY, after={"x": NASTY}) for d in scan.drift),
        unused_suppressions=tuple(replace(u, reason=NASTY, resource=NASTY, source=NASTY)
                                  for u in scan.unused_suppressions),
    ))
    data.decode("ascii")
    document = json.loads(data)
    assert_valid(document)
    run = run_of(document)
    texts = [r["message"]["text"] for r in run["results"]]
    assert all("\\[link\\](https://evil.example)" in t for t in texts)  # no embedded link (SARIF 3.11.6)
    assert all("[link](" not in t.replace("\\[link\\](", "") for t in texts)
    assert any(r["locations"][0]["logicalLocations"][0]["name"] == NASTY for r in run["results"])
    notes = run["invocations"][0]["toolConfigurationNotifications"]
    assert {n["descriptor"]["id"] for n in notes} == {
        "artifact-scan/expired-suppression", "artifact-scan/unused-suppression", "artifact-scan/drift"}
    assert all("[link](" not in n["message"]["text"].replace("\\[link\\](", "") for n in notes)
    assert all(r["resource"]["name"] == NASTY for r in run["properties"]["artifact-scan/resolved"])


# --- the validator catches what it claims to -------------------------------------------------------


def _first_result(d: dict[str, Any]) -> Any:
    return d["runs"][0]["results"][0]


def _first_rule(d: dict[str, Any]) -> Any:
    return d["runs"][0]["tool"]["driver"]["rules"][0]


def _set_uri(value: str) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        _first_result(d)["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = value
    return mutate


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "arn as uri": (_set_uri(f"arn:aws:iam::{MEMBER}:role/x"), "has a scheme"),
    "file uri": (_set_uri("file:///work/rules/ART-006.yaml"), "has a scheme"),
    "absolute uri": (_set_uri("/work/rules/ART-006.yaml"), "is absolute"),
    "dot-dot uri": (_set_uri("../rules/ART-006.yaml"), "'..'"),
    "no uri": (lambda d: _first_result(d)["locations"][0]["physicalLocation"]["artifactLocation"].pop("uri"),
               "artifactLocation.uri is missing"),
    "no startLine": (lambda d: _first_result(d)["locations"][0]["physicalLocation"]["region"].pop("startLine"),
                     "startLine"),
    "startLine 0": (lambda d: _first_result(d)["locations"][0]["physicalLocation"]["region"].update(startLine=0),
                    "startLine"),
    "no physical location": (lambda d: _first_result(d)["locations"][0].pop("physicalLocation"),
                             "no physicalLocation"),
    "no locations": (lambda d: _first_result(d).pop("locations"), "no locations"),
    "no logical location": (lambda d: _first_result(d)["locations"][0].pop("logicalLocations"),
                            "no logical location"),
    "no fingerprint": (lambda d: _first_result(d).pop("partialFingerprints"), "primaryLocationLineHash"),
    "shared fingerprint": (
        lambda d: d["runs"][0]["results"].append(copy.deepcopy(_first_result(d))), "share the fingerprint"),
    "no message": (lambda d: _first_result(d).pop("message"), "message.text"),
    "unknown rule": (lambda d: _first_result(d).update(ruleId="NOPE-1"), "is not a rule"),
    "wrong rule index": (lambda d: _first_result(d).update(ruleIndex=0), "ruleIndex"),
    "result level": (lambda d: _first_result(d).update(level="note"), "does not follow"),
    "duplicate rule id": (lambda d: d["runs"][0]["tool"]["driver"]["rules"].append(copy.deepcopy(_first_rule(d))),
                          "duplicate rule id"),
    "21 tags": (lambda d: _first_rule(d)["properties"].update(tags=["security", *(f"t{i}" for i in range(20))]),
                "more than GitHub's 20"),
    "no security tag": (lambda d: _first_rule(d)["properties"].update(tags=["iam"]), "lacks 'security'"),
    "duplicate tags": (lambda d: _first_rule(d)["properties"].update(tags=["security", "security"]),
                       "duplicate tags"),
    "no security-severity": (lambda d: _first_rule(d)["properties"].pop("security-severity"), "security-severity"),
    "numeric security-severity": (lambda d: _first_rule(d)["properties"].update({"security-severity": 8.0}),
                                  "not a string"),
    "security-severity out of range": (lambda d: _first_rule(d)["properties"].update({"security-severity": "11"}),
                                       "outside"),
    "bad precision": (lambda d: _first_rule(d)["properties"].update(precision="medium"), "precision"),
    "no help markdown": (lambda d: _first_rule(d)["help"].pop("markdown"), "help.markdown"),
    "no help text": (lambda d: _first_rule(d)["help"].pop("text"), "help.text"),
    "no helpUri": (lambda d: _first_rule(d).pop("helpUri"), "helpUri"),
    "no name": (lambda d: _first_rule(d).pop("name"), "no name"),
    "no short description": (lambda d: _first_rule(d).pop("shortDescription"), "shortDescription"),
    "no full description": (lambda d: _first_rule(d).pop("fullDescription"), "fullDescription"),
    "rule level": (lambda d: _first_rule(d)["defaultConfiguration"].update(level="note"), "does not follow"),
    "no category": (lambda d: d["runs"][0].pop("automationDetails"), "automationDetails"),
    "two runs in one category": (lambda d: d["runs"].append(copy.deepcopy(d["runs"][0])), "share the category"),
    "no tool name": (lambda d: d["runs"][0]["tool"]["driver"].pop("name"), "tool.driver.name"),
    "wrong version": (lambda d: d.update(version="2.0.0"), "version"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_validator_catches(scan: ScanResult, name: str) -> None:
    mutate, expected = BROKEN[name]
    document = render(scan)
    mutate(document)
    problems = github_problems(document)
    assert any(expected in problem for problem in problems), problems


def test_validator_catches_too_many_results_runs_and_bytes(scan: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    document = render(scan)
    monkeypatch.setattr(sarif_rules, "MAX_RESULTS", 2)
    assert any("more than GitHub's 2" in p for p in github_problems(document))
    monkeypatch.setattr(sarif_rules, "MAX_RUNS", 0)
    assert any("runs, more than" in p for p in github_problems(document))
    monkeypatch.setattr(sarif_rules, "MAX_GZIP_BYTES", 100)
    assert any("bytes compressed" in p for p in github_problems(document))
