"""What every human-facing report says the same way: findings counted, unevaluated rules grouped per account
and cause, results grouped by framework control, and the printout's paper and page margins."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from scanner.model import ScanResult, Status
from scanner.report import html, markdown
from tests.scan_fixture import build_scan

ROLE_RULES = ("ART-006", "ART-007", "ART-008", "ART-009", "ART-010", "ART-011")


@pytest.fixture(scope="module")
def locked_out() -> ScanResult:
    """The fixture with the locked account's read failure keeping all seven role rules from evaluating."""
    scan = build_scan()
    locked = next(r for r in scan.results if r.status is Status.ERROR)
    return replace(scan, results=(*scan.results, *(replace(locked, rule_id=r) for r in ROLE_RULES)))


def test_markdown_groups_unevaluated_rules(locked_out: ScanResult) -> None:
    text = markdown.to_markdown(locked_out)
    assert ("- high error in 333333333333 locked: 7 rules could not be evaluated: sts:AssumeRole AccessDenied "
            "(ART-006, ART-007, ART-008, ART-009, ART-010, ART-011, ART-012)") in text.splitlines()
    assert "could not read the IAM roles" not in text
    assert "Findings: 10 (2 fail, 7 error, 1 suppressed) · 2 pass · 1 not applicable (skipped)" in text


def test_html_groups_unevaluated_rules_in_plain_html(locked_out: ScanResult) -> None:
    page = html.render(locked_out).decode()
    section = page[page.index('<div id="not-evaluated">'):page.index("</ul>", page.index('<div id="not-evaluated">'))]
    assert section.count("<li>") == 1
    assert '7 rules could not be evaluated: <span class="nb">sts:AssumeRole</span> AccessDenied' in section
    assert 'Findings: 10 (2 fail, 7 error, 1 suppressed) · 2 pass · 1 not applicable (skipped)' in page


def test_compliance_view_in_html_and_markdown() -> None:
    scan = build_scan()
    page = html.render(scan).decode()
    compliance = page[page.index('<section id="compliance"'):page.index("</section>", page.index('id="compliance"'))]
    # CC6.1 holds ART-006 (fail), so it is failing; CC9.2 holds ART-002 (pass) and ART-013 (no result): met
    cc61 = compliance[compliance.index('<td class="mono">CC6.1</td>'):]
    assert cc61[: cc61.index("</tr>")].count("<strong>failing</strong>") == 1
    cc92 = compliance[compliance.index('<td class="mono">CC9.2</td>'):]
    assert "<strong>met</strong>" in cc92[: cc92.index("</tr>")]
    text = markdown.to_markdown(scan)
    assert "#### Compliance view" in text
    assert "| SOC 2 | CC9.2 | ART-002, ART-013 | met | 1 | 0 | 0 | 0 | 0 |" in text
    assert "| ISO/IEC 27001:2022 | A.5.15 | ART-006, ART-007, ART-008, ART-009, ART-010, ART-012 | failing |" in text


@pytest.mark.parametrize(
    ("environ", "paper"),
    [
        ({"LANG": "en_US.UTF-8"}, "Letter"),
        ({"LANG": "en_GB.UTF-8"}, "A4"),
        ({"LANG": "en_US.UTF-8", "LC_PAPER": "de_DE.UTF-8"}, "A4"),
        ({"LC_ALL": "fr_CA.UTF-8", "LC_PAPER": "de_DE.UTF-8"}, "Letter"),
        ({"LANG": "es_MX"}, "Letter"),
        ({"LANG": "fil_PH@latin"}, "Letter"),
        ({"LANG": "C.UTF-8"}, "A4"),
        ({}, "A4"),
    ],
)
def test_paper_from_the_locale(environ: dict[str, str], paper: str) -> None:
    assert html.paper_from_locale(environ) == paper


def test_the_page_style_names_the_paper_the_page_numbers_and_the_run() -> None:
    scan = build_scan()
    for paper, size in (("A4", "size: A4"), ("Letter", "size: letter")):
        page = html.render(replace(scan, paper=paper)).decode()
        assert size in page
        assert 'content: "page " counter(page) " of " counter(pages)' in page
        assert 'content: "artifact-scan run 20260101T000000Z-abcdef"' in page
    hostile = replace(scan, info=replace(scan.info, run_id='x"; } body { display: none } @page { x: "'))
    assert "display: none" not in html.page_style(hostile)


def _cli(*argv: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "scanner", *argv], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_rules_list_framework() -> None:
    done = _cli("rules", "list", "--framework", "iso/iec 27001:2022")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "severity", "ISO/IEC"]
    assert any(line.startswith("ART-006  critical  A.5.15, A.8.2") for line in lines)
    assert all(len(line) <= 80 for line in lines)
    unknown = _cli("rules", "list", "--framework", "CIS AWS Foundations")
    assert unknown.returncode == 2
    assert ("no loaded rule is mapped to framework 'CIS AWS Foundations' "
            "(mapped: CIS AWS Foundations v7.0.0, ISO/IEC 27001:2022, SOC 2)") in unknown.stderr
    cis = _cli("rules", "list", "--framework", "CIS AWS Foundations v7.0.0")
    assert cis.returncode == 0, cis.stderr
    assert [line.split()[:3] for line in cis.stdout.splitlines() if line.startswith("ORG-")] == [
        ["ORG-010", "high", "2.1.6"], ["ORG-011", "high", "2.1.6"], ["ORG-013", "high", "2.1.6"],
        ["ORG-014", "low", "2.1.6"]]


def test_every_builtin_rule_is_mapped() -> None:
    from scanner.rules import load_rules

    for rule in load_rules().rules:
        if "informational" in rule.tags:  # reports a state (SSM-001: is trusted access on?), asserts no control
            assert not rule.compliance, rule.id
            continue
        assert {"SOC 2", "ISO/IEC 27001:2022"} <= set(rule.compliance), rule.id
