"""The console table: counts, the findings list with its baseline marker, and the audit lines;
colour only when asked (a terminal without NO_COLOR), and no control character from the data."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest

from scanner.model import Drift, FindingKey, ResolvedFinding, ScanResult, Severity, Status, Suppression
from scanner.report import table
from tests.scan_fixture import BASELINE_RUN, HOSTILE, build_scan

ANSI = re.compile("\x1b")


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def finding_rows(text: str) -> dict[str, str]:
    """Rule id -> its line in the findings table (the fixture has one listed result per rule)."""
    return {line.split()[1]: line for line in text.splitlines()
            if line.split()[:1] and line.split()[0] in ("fail", "error", "suppressed")}


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


def test_findings_have_a_baseline_column(scan: ScanResult) -> None:
    text = table.render(scan)
    header = next(line for line in text.splitlines() if line.startswith("status "))
    assert header.split() == ["status", "rule", "severity", "baseline", "account", "resource", "reason"]
    rows = finding_rows(text)
    assert rows["ART-006"].split()[:4] == ["fail", "ART-006", "critical", "NEW"]
    assert rows["ART-010"].split()[:4] == ["fail", "ART-010", "high", "unchanged"]
    assert rows["ART-011"].split()[:4] == ["suppressed", "ART-011", "medium", "unchanged"]
    assert rows["ART-012"].split()[:4] == ["error", "ART-012", "high", "333333333333"]  # no marker on an error


def test_no_baseline_no_column_and_no_line(scan: ScanResult) -> None:
    plain = replace(scan, baseline_run_id=None, resolved=(), drift=(),
                    results=tuple(replace(r, baseline=None, first_seen=None) for r in scan.results))
    text = table.render(plain)
    header = next(line for line in text.splitlines() if line.startswith("status "))
    assert "baseline" not in header and "since" not in text and "NEW" not in text


def test_new_and_resolved_since_the_baseline_and_drift(scan: ScanResult) -> None:
    lines = table.render(scan).splitlines()
    at = lines.index(f"1 new, 2 resolved since {BASELINE_RUN}; 1 drift")
    assert lines[at + 1] == "  resolved: ART-007 high 222222222222 AWSServiceRoleForArtifact"
    assert lines[at + 2].startswith("  resolved: ART-010 high 222222222222 look-alike <script>")
    assert lines[at + 3].startswith("  drift: service-linked-role-recreated in account 111111111111: "
                                    "AWSServiceRoleForArtifact was deleted and re-created")
    assert "AROAOLDOLDOLDOLDOLD01 -> AROANEWNEWNEWNEWNEW2" in lines[at + 3]


def test_expired_and_unused_suppressions(scan: ScanResult) -> None:
    text = table.render(scan)
    assert ("Expired suppression: suppressions.yaml:9 (ART-010, account 111111111111, owner platform@example.com) "
            "expired on 2025-12-31; 1 failure fails again") in text.splitlines()
    assert ("Unused suppression: suppressions.yaml:15 (ART-007, every account, resources "
            "arn:aws:iam::*:role/Sandbox*, owner alice@example.com) matched no failure (expires 2026-06-30)"
            ) in text.splitlines()
    assert "suppression suppressions.yaml:9 expired 2025-12-31: $: expected" in finding_rows(text)["ART-010"]
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
    assert text.count("\nUnused suppression: ") == table.MAX_AUDIT_LISTED
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

    enabled = replace(scan, markers={"trusted_access": {"artifact.amazonaws.com": "2025-02-03T04:05:06Z"}})
    line = "AWS Artifact trusted access: artifact.amazonaws.com, enabled 2025-02-03T04:05:06Z"
    assert line in table.render(enabled).splitlines()
    assert "AWS Artifact trusted access: not read" in table.render(scan).splitlines()
    page = html.render(enabled).decode()
    assert ("<dt>AWS Artifact trusted access</dt><dd class=\"mono\">artifact.amazonaws.com, enabled "
            "2025-02-03T04:05:06Z</dd>") in page
