"""The console table: counts, the findings list with its baseline marker, and the audit lines;
colour only when asked (a terminal without NO_COLOR), and no control character from the data."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest

from scanner.model import (
    Drift,
    FindingKey,
    Markers,
    ResolvedFinding,
    ScanResult,
    Severity,
    Status,
    Suppression,
)
from scanner.report import table
from tests.scan_fixture import BASELINE_RUN, HOSTILE, build_scan

ANSI = re.compile("\x1b")


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def finding_rows(text: str) -> dict[str, str]:
    """Rule id -> its row in the findings list, continuation lines joined (the fixture has one listed result
    per rule). A rule's block starts with a line "<id> <severity>: <title>"."""
    rows: dict[str, str] = {}
    rule = None
    for line in text.splitlines():
        words = line.split()
        if re.match(r"ART-\d{3} \w+: ", line):
            rule = words[0]
        elif rule and words[:1] and words[0] in ("fail", "error", "suppressed") and line.startswith("  "):
            rows[rule] = " ".join(words)
        elif rule and rule in rows and line.startswith("      "):
            rows[rule] += " " + " ".join(words)
        elif not line.strip():
            rule = None if rows else rule
    return rows


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_ansi_when_colour_is_off(scan: ScanResult) -> None:
    text = table.render(scan)
    assert not ANSI.search(text)
    assert table.render(scan, colour=False) == text


def test_colour_when_asked(scan: ScanResult) -> None:
    text = table.render(scan, colour=True)
    assert "\x1b[31mfail\x1b[0m" in text
    assert "\x1b[1mNEW\x1b[0m" in text


def test_use_colour_needs_a_terminal_and_no_NO_COLOR(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert table.use_colour(Terminal()) is True
    assert table.use_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert table.use_colour(Terminal()) is False


def test_counts_table(scan: ScanResult) -> None:
    lines = table.render(scan).splitlines()
    assert lines[0].split() == ["severity", "pass", "fail", "error", "suppressed", "skipped"]
    assert lines[7].split() == ["total", "2", "2", "1", "1", "1"]


def test_findings_are_grouped_by_rule_with_its_title_in_summary_mds_order(scan: ScanResult) -> None:
    text = table.render(scan, width=200)
    heads = [line for line in text.splitlines() if re.match(r"ART-\d{3} \w+: ", line)]
    assert heads == [
        "ART-006 critical: AWSServiceRoleForArtifact trusts only artifact.amazonaws.com for sts:AssumeRole",
        "ART-010 high: No look-alike AWSServiceRoleForArtifact outside the service-linked path",
        "ART-012 high: Roles trusting an Artifact principal pin the source to this organization",
        "ART-011 medium: No legacy AWSArtifactAccountSync role",
    ]
    rows = finding_rows(text)
    assert rows["ART-006"] == ("fail NEW 222222222222 AWSServiceRoleForArtifact in 222222222222 trusts "
                               "aws:999999999999, service:artifact.amazonaws.com for sts:AssumeRole; only "
                               "service:artifact.amazonaws.com for sts:AssumeRole is expected")
    assert rows["ART-010"].split()[:2] == ["fail", "111111111111"]  # unchanged: no marker
    assert rows["ART-011"].split()[:2] == ["suppressed", "222222222222"]
    assert rows["ART-012"].startswith("error 333333333333 could not read the IAM roles of account 333333333333")
    assert "Findings: 4 (2 fail, 1 error, 1 suppressed) · 2 pass · 1 not applicable (skipped)" in text.splitlines()


def test_no_baseline_no_marker_and_no_line(scan: ScanResult) -> None:
    plain = replace(scan, baseline_run_id=None, resolved=(), drift=(),
                    results=tuple(replace(r, baseline=None, first_seen=None) for r in scan.results))
    text = table.render(plain)
    assert "since" not in text and "NEW" not in text


IDENTIFIERS = re.compile(r"arn:aws:[\w:/.-]*[\w/]|\b\d{12}\b|sts:AssumeRole|ART-\d{3}|AWSServiceRoleForArtifact")


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_every_line_fits_the_width_and_identifiers_stay_whole(scan: ScanResult, width: int) -> None:
    text = table.render(scan, width=width)
    assert all(len(line) <= width for line in text.splitlines()), text
    whole = table.render(scan, width=100_000)  # nothing wraps: every identifier as it is
    wanted = set(IDENTIFIERS.findall(whole))
    found = {m for m in IDENTIFIERS.findall(text) if m + "…" not in text}  # a cut one is marked
    # Every identifier is on one line; one cut for want of room ends in a visible "…" and is no identifier
    assert found <= wanted, found - wanted
    missing = wanted - found
    assert all(any(m[: i] + "…" in text for i in range(8, len(m))) for m in missing), missing


def test_errors_that_share_an_account_and_a_cause_are_one_line(scan: ScanResult) -> None:
    locked = next(r for r in scan.results if r.status is Status.ERROR)
    extra = tuple(replace(locked, rule_id=rule_id) for rule_id in
                  ("ART-006", "ART-007", "ART-008", "ART-009", "ART-010", "ART-011"))
    many = replace(scan, results=(*scan.results, *extra))
    text = table.render(many, width=80)
    lines = [line for line in text.splitlines() if "could not be evaluated" in line]
    assert lines == ["  error       333333333333  7 rules could not be evaluated: sts:AssumeRole"]
    assert ("7 rules could not be evaluated: sts:AssumeRole AccessDenied (ART-006, ART-007, ART-008, ART-009, "
            "ART-010, ART-011, ART-012)") in " ".join(text.split())
    assert "could not read the IAM roles" not in text  # not seven times, not once


def test_new_and_resolved_since_the_baseline_and_drift(scan: ScanResult) -> None:
    lines = table.render(scan, width=400).splitlines()
    at = lines.index(f"1 new, 2 resolved since {BASELINE_RUN}; 1 drift")
    assert lines[at + 1] == "  resolved: ART-007 high 222222222222 AWSServiceRoleForArtifact"
    assert lines[at + 2].startswith("  resolved: ART-010 high 222222222222 look-alike <script>")
    assert lines[at + 3].startswith("  drift: service-linked-role-recreated in account 111111111111: "
                                    "AWSServiceRoleForArtifact was deleted and re-created")
    assert "AROAOLDOLDOLDOLDOLD01 -> AROANEWNEWNEWNEWNEW2" in lines[at + 3]


def test_expired_and_unused_suppressions(scan: ScanResult) -> None:
    text = table.render(scan, width=400)
    assert ("Expired: suppression suppressions.yaml:9 expired on 2025-12-31: 1 failure fails again (rule ART-010, "
            "account 111111111111, owner platform@example.com, expires 2025-12-31, reason: Look-alike role kept "
            "until the migration in SEC-7)") in text.splitlines()
    assert ("Unused: suppression suppressions.yaml:15 matched no failure of this run (rule ART-007, every account, "
            "resources matching arn:aws:iam::*:role/Sandbox*, owner alice@example.com, expires 2026-06-30, reason: "
            ) in text
    assert ("suppression suppressions.yaml:9 expired on 2025-12-31, so this failure is no longer accepted: "
            "AWSServiceRoleForArtifact in 111111111111") in finding_rows(text)["ART-010"]
    quiet = replace(scan, unused_suppressions=(),
                    results=tuple(replace(r, expired_suppression=None) for r in scan.results))
    assert "suppression" not in table.render(quiet).lower()


def test_audit_lines_are_capped(scan: ScanResult) -> None:
    many = replace(
        scan,
        resolved=tuple(ResolvedFinding(FindingKey("ART-007", f"{i:012d}", f"arn:{i}"), Severity.HIGH, f"r{i}", "m",
                                       None) for i in range(25)),
        drift=tuple(Drift(f"kind-{i:02d}", "111111111111", "arn", "m", 1, 2) for i in range(25)),
        unused_suppressions=tuple(Suppression("ART-007", "r", "o", "2026-01-31", source=f"s.yaml:{i}")
                                  for i in range(25)),
    )
    text = table.render(many)
    assert text.count("\n  resolved: ") == text.count("\n  drift: ") == table.MAX_AUDIT_LISTED
    assert text.count("\nUnused: suppression ") == table.MAX_AUDIT_LISTED
    for noun in ("resolved findings", "drift entries", "unused suppressions"):
        assert f"  …and 15 more {noun} (all are in results.json)" in text


def test_control_characters_in_the_data_never_reach_the_terminal(scan: ScanResult) -> None:
    nasty = HOSTILE + "\x1b[2J\x1b]0;pwned\x07\r\x08\u2028next"
    hostile = replace(
        scan,
        results=tuple(replace(r, account_name=nasty, resource_name=nasty, message=nasty, rule_id=r.rule_id + nasty)
                      if r.status in (Status.FAIL, Status.ERROR, Status.SUPPRESSED) else r for r in scan.results),
        resolved=tuple(replace(r, resource_name=nasty) for r in scan.resolved),
        drift=tuple(replace(d, message=nasty, kind=nasty) for d in scan.drift),
        unused_suppressions=tuple(replace(u, reason=nasty, owner=nasty, source=nasty)
                                  for u in scan.unused_suppressions),
        accounts=tuple(replace(a, skip_reason=nasty) if not a.scanned else a for a in scan.accounts),
        baseline_run_id=nasty,
    )
    for colour in (False, True):
        text = table.render(hostile, colour=colour)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u2028]", ANSI.sub("", text) if colour else text)
        assert "\x1b]" not in text and "\x1b[2J" not in text
    assert not ANSI.search(table.render(hostile))


def test_the_console_and_the_html_header_say_which_artifact_principal_has_trusted_access(scan: ScanResult) -> None:
    from scanner.report import html

    enabled = replace(scan, markers=Markers(trusted_access={"artifact.amazonaws.com": "2025-02-03T04:05:06Z"}))
    line = "AWS Artifact trusted access: artifact.amazonaws.com, enabled 2025-02-03T04:05:06Z"
    assert line in table.render(enabled).splitlines()
    assert "AWS Artifact trusted access: not read" in table.render(scan).splitlines()
    page = html.render(enabled).decode()
    assert ("<dt>AWS Artifact trusted access</dt><dd class=\"mono\">artifact.amazonaws.com, enabled "
            "2025-02-03T04:05:06Z</dd>") in page
