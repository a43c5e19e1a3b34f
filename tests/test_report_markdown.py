"""summary.md: bounded in size whatever the scan, and user data cannot break the table or inject HTML."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from scanner.model import (
    Drift,
    FindingKey,
    Markers,
    ResolvedFinding,
    Result,
    ScanResult,
    Severity,
    Status,
    Suppression,
)
from scanner.report import WRITERS, markdown
from tests.golden_support import assert_golden
from tests.scan_fixture import BASELINE_RUN, HOSTILE, ORG, build_scan

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


def text_of(scan: ScanResult) -> str:
    return markdown.render(scan).decode("utf-8")


def table_pipes(line: str) -> int:
    """Pipes that delimit cells: those not escaped by an odd run of backslashes."""
    return sum(1 for m in re.finditer(r"(\\*)\|", line) if len(m.group(1)) % 2 == 0)


def listed_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("| severity | status | rule | account | resource | reason |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def synthetic(scan: ScanResult, count: int, **fields: Any) -> tuple[Result, ...]:
    template = next(r for r in scan.results if r.status is Status.FAIL)
    return tuple(
        replace(template, account_id=f"{100000000000 + i:012d}", resource_arn=f"arn:aws:iam::x:role/r{i}",
                resource_name=f"r{i}", **fields)
        for i in range(count)
    )


def test_golden(scan: ScanResult, update_golden: bool) -> None:
    assert_golden("summary.md", markdown.render(scan), update_golden)


def test_registered_as_markdown() -> None:
    assert WRITERS["markdown"].filename == "summary.md"
    assert WRITERS["markdown"].render is markdown.render


def test_header_line(scan: ScanResult) -> None:
    header = text_of(scan).splitlines()[0]
    assert ORG in header and "incomplete" in header
    for count_and_status in ("2 pass", "2 fail", "1 error", "1 suppressed", "1 skipped"):
        assert count_and_status in header
    complete = replace(scan, info=replace(scan.info, complete=True))
    assert ", complete:" in text_of(complete).splitlines()[0]
    assert "Incomplete scan" not in text_of(complete)


def test_severity_by_status_table(scan: ScanResult) -> None:
    lines = text_of(scan).splitlines()
    assert "| severity | pass | fail | error | suppressed | skipped |" in lines
    assert "| critical | 0 | 1 | 0 | 0 | 0 |" in lines
    assert "| high | 2 | 1 | 1 | 0 | 1 |" in lines
    assert "| **total** | **2** | **2** | **1** | **1** | **1** |" in lines


def test_fail_and_error_listed_most_severe_first(scan: ScanResult) -> None:
    rows = listed_rows(text_of(scan))
    assert [row.split(" | ")[2] for row in rows] == ["ART-006", "ART-010", "ART-012"]
    assert rows[0].startswith("| critical | fail (new) |") and rows[2].startswith("| high | error |")
    assert rows[1].startswith("| high | fail (suppression expired) | ART-010 |")
    assert "more" not in text_of(scan)


def test_no_findings(scan: ScanResult) -> None:
    clean = replace(scan, results=tuple(r for r in scan.results if r.status is Status.PASS))
    assert "No fail or error results." in text_of(clean)


def test_size_bound_with_10000_failures(scan: ScanResult) -> None:
    huge = replace(scan, results=synthetic(scan, 10_000))
    text = text_of(huge)
    assert len(text.encode()) < LIMIT
    assert len(listed_rows(text)) == markdown.MAX_LISTED
    assert "…and 9950 more" in text


def _many_audit_entries(count: int, text: str) -> dict[str, Any]:
    return {
        "resolved": tuple(ResolvedFinding(FindingKey(text, f"{i:012d}", text + str(i)), Severity.HIGH, text, text, text)
                          for i in range(count)),
        "drift": tuple(Drift(text + str(i), text, text, text, text, text) for i in range(count)),
        "unused_suppressions": tuple(Suppression(text, text, text, text, text, text, str(i)) for i in range(count)),
        "baseline_run_id": text,
    }


def test_size_bound_with_huge_hostile_fields(scan: ScanResult) -> None:
    blob = ("<&|`" * 5_000) + "\U0001f600" * 5_000
    expired = Suppression("ART-006", blob, blob, blob, blob, blob, blob)
    huge = replace(scan, results=synthetic(scan, 10_000, account_name=blob, message=blob,
                                           expired_suppression=expired),
                   info=replace(scan.info, organization_id=blob, run_id=blob, tool_version=blob),
                   **_many_audit_entries(10_000, blob))
    data = markdown.render(huge)
    assert len(data) < LIMIT
    for row in listed_rows(data.decode()):
        assert table_pipes(row) == 7


# --- baseline, expired and unused suppressions, drift ---------------------------------------------


def test_baseline_counts_under_the_header(scan: ScanResult) -> None:
    lines = text_of(scan).splitlines()
    assert lines[4] == "AWS Artifact trusted access: not read"  # the fixture's markers hold none
    assert lines[6] == f"Since baseline {BASELINE_RUN}: **1 new** · 2 unchanged · 2 resolved · 1 drift"


def test_since_the_baseline_block(scan: ScanResult) -> None:
    text = text_of(scan)
    block = text.split(f"#### Since baseline {BASELINE_RUN}\n", 1)[1].split("####", 1)[0]
    lines = [line for line in block.splitlines() if line]
    assert lines[0] == "2 resolved findings · 1 drift"
    assert lines[1] == ("- resolved: high ART-007 in 222222222222 on AWSServiceRoleForArtifact "
                        "(first seen 2025-10-01T00:00:00Z)")
    assert lines[2].startswith("- resolved: high ART-010 in 222222222222 on look-alike &lt;script&gt;")
    assert lines[2].endswith("(first seen unknown)")
    assert lines[3].startswith("- drift: service-linked-role-recreated in account 111111111111: "
                               "AWSServiceRoleForArtifact was deleted and re-created")


def test_no_baseline_no_baseline_lines(scan: ScanResult) -> None:
    plain = replace(scan, baseline_run_id=None, resolved=(), drift=(),
                    results=tuple(replace(r, baseline=None, first_seen=None) for r in scan.results))
    text = text_of(plain)
    assert "baseline" not in text.lower() and "(new)" not in text


def test_suppressions_block(scan: ScanResult) -> None:
    block = text_of(scan).split("#### Suppressions\n", 1)[1]
    assert [line for line in block.splitlines() if line] == [
        ("1 suppressed (accepted risks, not failing the gate) · 1 expired (their failures fail again) · 1 unused "
         "(matched no failure)"),
        ("- suppressed: medium ART-011 in 222222222222 member &lt;script&gt;alert(\"x\")&lt;/script&gt;&lt;img src=x "
         "oner… on AWSArtifactAccountSync: suppressed until 2027-01-31 by cloud-security@example.com: "
         "Decommissioning in ticket SEC-42"),
        ("- expired: suppression suppressions.yaml:9 expired on 2025-12-31: 1 failure fails again (rule ART-010, "
         "account 111111111111, owner platform@example.com, expires 2025-12-31, reason: Look-alike role kept until "
         "the migration in SEC-7)"),
        ("- unused: suppression suppressions.yaml:15 matched no failure of this run (rule ART-007, every account, "
         "resources matching arn:aws:iam::\\*:role/Sandbox\\*, owner alice@example.com, expires 2026-06-30, "
         "reason: Sandbox roles keep an extra policy)"),
    ]
    quiet = replace(scan, unused_suppressions=(),
                    results=tuple(replace(r, expired_suppression=None) for r in scan.results
                                  if r.status is not Status.SUPPRESSED))
    assert "#### Suppressions" not in text_of(quiet)


def test_audit_lists_are_capped(scan: ScanResult) -> None:
    many = replace(scan, **_many_audit_entries(25, "x"))
    text = text_of(many)
    assert text.count("\n- resolved: ") == text.count("\n- drift: ") == markdown.MAX_AUDIT_LISTED
    assert text.count("\n- unused: ") == markdown.MAX_AUDIT_LISTED
    for noun in ("resolved findings", "drift entries", "unused suppressions"):
        assert f"- …and 15 more {noun}" in text


@pytest.mark.parametrize("name", [
    "evil | name | with | pipes",
    "<script>alert(1)</script>",
    HOSTILE,
    "line one\nline two\r\n| injected | row |",
    "`code` **bold** [link](https://evil.example) ![img](https://evil.example/x.png)",
    "trailing backslash \\",
    "\\| escaped pipe already",
    "\x00\x1b[31mred\u2028sep",
])
def test_account_name_cannot_break_the_table_or_inject_html(scan: ScanResult, name: str) -> None:
    hostile = replace(scan, results=tuple(replace(r, account_name=name, resource_name=name, message=name)
                                          for r in scan.results),
                      **_many_audit_entries(2, name))
    text = text_of(hostile)
    assert "<" not in text and ">" not in text
    audit = [line for line in text.splitlines() if line.startswith(("- resolved:", "- drift:", "- unused:"))]
    assert len(audit) == 6  # one line each: no newline in the data started a block
    rows = listed_rows(text)
    assert len(rows) == 3
    for row in rows:
        assert table_pipes(row) == 7, row
    assert "](" not in text.replace("\\](", "")  # every bracket escaped: no link or image
    assert "\x00" not in text and "\x1b" not in text


def test_cell_is_bounded_and_never_cuts_an_escape() -> None:
    for size in range(1, 60):
        value = markdown.cell("a|<b>&`c`\\" * 20, size)
        assert len(value.encode()) <= max(size, len("…".encode()))
        body = value.removesuffix("…")
        assert not re.search(r"(?<!\\)(\\\\)*\\$", body), value  # no dangling backslash
        assert not re.search(r"&[a-z]*$", body), value  # no half entity
    assert markdown.cell("short", 100) == "short"
    assert markdown.cell("", 10) == " "


@pytest.mark.parametrize(("markers", "shown"), [
    (Markers(), "not read"),
    (Markers(trusted_access={}), "not enabled for any AWS Artifact principal"),
    (Markers(trusted_access={"aws-artifact-account-sync.amazonaws.com": "2024-05-01T10:00:00Z",
                             "config.amazonaws.com": "2023-01-01T00:00:00Z"}),
     "aws-artifact-account-sync.amazonaws.com, enabled 2024-05-01T10:00:00Z"),
    (Markers(trusted_access={"AWSArtifactAccountSync": None, "artifact.amazonaws.com": "2025-02-03T04:05:06Z"}),
     "artifact.amazonaws.com, enabled 2025-02-03T04:05:06Z; AWSArtifactAccountSync (legacy or misspelt)"),
])
def test_the_header_says_which_artifact_principal_has_trusted_access(
    scan: ScanResult, markers: Markers, shown: str
) -> None:
    assert f"\nAWS Artifact trusted access: {shown}\n" in text_of(replace(scan, markers=markers))
