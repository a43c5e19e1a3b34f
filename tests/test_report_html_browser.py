"""report.html in a real headless Chromium: no errors, no network, filters work, hostile text stays text.

Needs Debian's Chromium and Playwright for Python (no browser download):
    apt-get install -y chromium && pip install playwright
Skipped, with that reason, when either is missing. Leaves a screenshot in tests/artifacts/report.png.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.report.html import render
from tests.scan_fixture import BASELINE_RUN, HOSTILE, MEMBER, build_scan

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox because CI runs as root; the networking flags keep Chromium's own background requests
# (which this machine's closed network refuses) out of the request log.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"

# On a developer's machine a missing browser skips with the install command; in CI (CI=true) it fails,
# because .ci/run installs Chromium and a silent skip there would hide a broken install step.
def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if not CHROMIUM.exists():
    _missing("no /usr/bin/chromium: apt-get install -y chromium")
try:
    from playwright import sync_api
except ImportError as error:  # not installed, or installed without its compiled parts
    _missing(f"playwright unusable ({error}): pip install playwright")

# Any script the report would run from its data calls alert() (the fixture's payloads); count the calls.
TRAP = """
window.__xss = 0;
window.alert = window.confirm = window.prompt = function () { window.__xss += 1; };
"""
FINDINGS = "#findings-list article.finding"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_bytes(render(build_scan()))
    return path.as_uri()


@pytest.fixture(scope="module")
def hostile_audit_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Hostile text wherever the audit workflow puts text: drift, resolved findings, suppression entries."""
    scan = build_scan()
    results = tuple(
        dataclasses.replace(r, expired_suppression=dataclasses.replace(r.expired_suppression, reason=HOSTILE,
                                                                       owner=HOSTILE, source=HOSTILE))
        if r.expired_suppression else r
        for r in scan.results
    )
    hostile = dataclasses.replace(
        scan, results=results,
        resolved=tuple(dataclasses.replace(r, message=HOSTILE) for r in scan.resolved),
        drift=tuple(dataclasses.replace(d, message=f"drift {HOSTILE}", after={"x": HOSTILE}) for d in scan.drift),
        unused_suppressions=tuple(dataclasses.replace(u, reason=HOSTILE) for u in scan.unused_suppressions),
    )
    path = tmp_path_factory.mktemp("html") / "hostile-audit.html"
    path.write_bytes(render(hostile))
    return path.as_uri()


@pytest.fixture(scope="module")
def big_report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1,000 accounts from the benchmark's generator: enough for several pages of matrix and findings."""
    spec = importlib.util.spec_from_file_location("bench_html_report", ROOT / "bench" / "html_report.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path_factory.mktemp("html") / "big.html"
    path.write_bytes(render(bench.synthetic_scan(1_000)))
    return path.as_uri()


def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll `expression` from Python: Playwright's wait_for_function evaluates its predicate with
    eval() inside the page, which the report's CSP (rightly) forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.02)


class Watched:
    """A page plus everything it reported: console errors, uncaught exceptions, requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[str] = []
        self.failed: dict[str, str] = {}  # url -> why; "csp" when the page's policy refused it
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.__setitem__(r.url, r.failure or ""))

    def open(self, url: str) -> Any:
        self.page.goto(url)
        wait_until(self.page, "window.__reportReady === true")
        return self.page

    def assert_clean(self, url: str) -> None:
        assert self.page_errors == []
        assert self.console_errors == []
        assert [u for u in self.requests if u != url and not u.startswith("data:")] == []
        assert self.failed == {}
        assert self.page.evaluate("window.__xss") == 0


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(TRAP)
    page = context.new_page()
    yield Watched(page)
    context.close()


@pytest.fixture
def watched_without_csp(browser: Any) -> Iterator[Watched]:
    """The page with its CSP ignored: escaping alone must keep hostile text inert (defence in depth)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, bypass_csp=True)
    context.add_init_script(TRAP)
    page = context.new_page()
    yield Watched(page)
    context.close()


def visible_findings(page: Any) -> int:
    return int(page.locator(FINDINGS).count())


def test_loads_without_errors_or_network(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    assert visible_findings(page) == 4  # fail x2, error, suppressed; skipped only on request
    page.click("#f-expand")
    page.click("#m-problems")  # every account, not only those with problems
    watched.assert_clean(report_url)
    assert watched.requests == [report_url]


def test_csp_blocks_network_even_for_injected_markup(watched: Watched, report_url: str) -> None:
    """Defence in depth: were markup ever to get in, the page's CSP still stops it loading or running."""
    page = watched.open(report_url)
    page.evaluate(
        """() => {
        const box = document.createElement('div');
        box.innerHTML = '<img src="https://example.com/x.png"><img src="x" onerror="alert(1)">';
        document.body.appendChild(box);
        const script = document.createElement('script');
        script.textContent = 'alert(2)';
        document.body.appendChild(script);
    }"""
    )
    wait_until(page, "document.readyState === 'complete'")
    time.sleep(0.3)  # let any load attempt happen
    # Chromium reports the attempt, refused by the policy before it reaches the network.
    attempted = [u for u in watched.requests if u.startswith("http")]
    assert attempted == ["https://example.com/x.png"]
    assert watched.failed["https://example.com/x.png"] == "csp"
    assert set(watched.failed.values()) == {"csp"}  # the relative src="x" too: img-src allows data: only
    assert page.evaluate("window.__xss") == 0
    assert any("Content Security Policy" in message for message in watched.console_errors)


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_hostile_strings_are_visible_text_and_never_run(
    request: pytest.FixtureRequest, report_url: str, csp: str
) -> None:
    watched: Watched = request.getfixturevalue("watched" if csp == "enforced" else "watched_without_csp")
    page = watched.open(report_url)
    page.click("#f-expand")
    page.select_option("#f-status", "")  # every non-pass result, skipped too
    page.click("#m-problems")
    body = page.inner_text("body")
    assert f"member {HOSTILE}" in body  # the account name, in the matrix and the findings
    assert f"(description: {HOSTILE})" in body  # a message
    assert '"description": "<script>alert(\\"x\\")</script>' in body  # evidence, as JSON
    assert '"owner": "<script>alert(\\"x\\")</script><img src=x onerror=\\"alert(1)\\">"' in body  # a tag value
    assert f"look-alike {HOSTILE}" in body  # a resolved finding's resource name
    # Print mode re-renders every finding: check it as well.
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate("document.querySelectorAll('img, [onerror], iframe, object, embed').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert page.evaluate("window.__xss") == 0
    watched.assert_clean(report_url)


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("#f-severity", "critical", 1),
        ("#f-status", "fail", 2),
        ("#f-status", "skipped", 1),
        ("#f-rule", "ART-010", 1),
    ],
)
def test_select_filters_change_what_is_shown(
    watched: Watched, report_url: str, control: str, value: str, expected: int
) -> None:
    page = watched.open(report_url)
    before = visible_findings(page)
    page.select_option(control, value)
    assert visible_findings(page) == expected != before
    page.click("#f-reset")
    assert visible_findings(page) == before
    watched.assert_clean(report_url)


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [("#f-account", MEMBER, 2), ("#f-query", "sec-42", 1), ("#f-query", "no such text", 0)],
)
def test_text_filters_change_what_is_shown(
    watched: Watched, report_url: str, control: str, value: str, expected: int
) -> None:
    page = watched.open(report_url)
    assert visible_findings(page) == 4
    page.fill(control, value)
    assert visible_findings(page) == expected
    if expected == 0:
        assert "No finding matches" in page.inner_text("#findings-list")
    watched.assert_clean(report_url)


def finding(page: Any, rule_id: str) -> Any:
    return page.locator(FINDINGS).filter(has=page.locator("h3", has_text=rule_id))


def test_new_and_unchanged_badges_and_first_seen(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    new = finding(page, "ART-006").locator(".badge.bl-new")
    assert new.is_visible() and new.inner_text().lower() == "new"
    assert new.get_attribute("title") == f"New since the baseline run {BASELINE_RUN}; first seen 2026-01-01 00:00:00 UTC"
    assert finding(page, "ART-010").locator(".badge.bl-unchanged").is_visible()
    assert finding(page, "ART-012").locator(".bl-new, .bl-unchanged").count() == 0  # an error is not a finding
    page.click("#f-expand")
    body = finding(page, "ART-011").inner_text()
    assert f"unchanged since the baseline run {BASELINE_RUN}" in body and "2025-11-03 08:00:00 UTC" in body
    watched.assert_clean(report_url)


@pytest.mark.parametrize(("value", "rules"), [("new", ["ART-006"]), ("unchanged", ["ART-010", "ART-011"])])
def test_baseline_filter(watched: Watched, report_url: str, value: str, rules: list[str]) -> None:
    page = watched.open(report_url)
    page.select_option("#f-baseline", value)
    titles = page.locator(f"{FINDINGS} h3").all_inner_texts()
    assert [t.split(" ")[0] for t in titles] == rules
    assert f"{value} since the baseline" in page.inner_text("#f-status-line")
    page.click("#f-reset")
    assert visible_findings(page) == 4 and page.input_value("#f-baseline") == ""
    watched.assert_clean(report_url)


def test_expired_suppression_is_shown_on_the_finding(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    art010 = finding(page, "ART-010")
    note = art010.locator(".expired-note")
    assert note.is_visible()  # without expanding
    assert note.inner_text() == ("Suppression suppressions.yaml:9 expired on 2025-12-31, so this failure is no "
                                 "longer accepted.")
    art010.locator("button.toggle").click()
    box = art010.locator(".box-expired").inner_text()
    for text in ("suppressions.yaml:9", "Look-alike role kept until the migration in SEC-7", "platform@example.com",
                 "account 111111111111"):
        assert text in box, text
    assert finding(page, "ART-006").locator(".expired-note").count() == 0
    page.fill("#f-query", "suppression expired")
    assert visible_findings(page) == 1
    watched.assert_clean(report_url)


def test_since_the_baseline_and_suppressions_sections(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    section = page.inner_text("#baseline")
    assert "Resolved findings (2)" in section and "Drift (1)" in section
    assert f"look-alike {HOSTILE}" in section  # hostile resource name, as text
    assert "AROAOLDOLDOLDOLDOLD01" in page.inner_text("#drift td:nth-child(5)")
    assert "AROANEWNEWNEWNEWNEW2" in page.inner_text("#drift td:nth-child(6)")
    suppressions = page.inner_text("#suppressions")
    assert "suppressions.yaml:9" in suppressions and "suppressions.yaml:15" in suppressions
    page.click("a[href='#baseline']")
    assert page.locator("#resolved").is_visible()
    watched.assert_clean(report_url)


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_hostile_audit_text_is_visible_text_and_never_runs(
    request: pytest.FixtureRequest, hostile_audit_url: str, csp: str
) -> None:
    watched: Watched = request.getfixturevalue("watched" if csp == "enforced" else "watched_without_csp")
    page = watched.open(hostile_audit_url)
    page.click("#f-expand")
    assert f"drift {HOSTILE}" in page.inner_text("#drift")
    assert HOSTILE in page.inner_text("#resolved") and HOSTILE in page.inner_text("#unused")
    assert HOSTILE in page.inner_text("#expired")
    art010 = finding(page, "ART-010")
    assert f"Suppression {HOSTILE} expired on 2025-12-31" in art010.locator(".expired-note").inner_text()
    assert f"Reason: {HOSTILE}" in art010.locator(".box-expired").inner_text()
    assert page.evaluate("document.querySelectorAll('img, [onerror], iframe, object, embed').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    watched.assert_clean(hostile_audit_url)


def test_matrix_cell_lists_its_findings(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    page.click("#matrix-table button[data-code='S']")
    assert visible_findings(page) == 1
    assert page.input_value("#f-account") == MEMBER and page.input_value("#f-rule") == "ART-011"
    assert "SUPPRESSED" in page.inner_text(FINDINGS).upper()


def test_evidence_document_and_suppression_are_shown(watched: Watched, report_url: str) -> None:
    page = watched.open(report_url)
    page.click("#f-expand")
    marks = page.locator("pre.doc mark.offending")
    assert marks.count() == 1 and "999999999999" in marks.inner_text()
    assert "artifact.amazonaws.com" not in marks.inner_text()
    text = page.inner_text("#findings-list").lower()  # some titles are upper-cased by CSS
    for expected in (
        "Decommissioning in ticket SEC-42",
        "cloud-security@example.com",
        "2027-01-31",
        "Could not be evaluated",
        "AccessDenied",
        "aws iam delete-service-linked-role",
    ):
        assert expected.lower() in text, expected


@pytest.mark.parametrize("clipboard", ["granted", "denied", "absent"])
def test_copy_button_never_throws(browser: Any, report_url: str, clipboard: str) -> None:
    context = browser.new_context()
    if clipboard == "granted":
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    if clipboard == "absent":
        context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    context.add_init_script(TRAP)
    watched = Watched(context.new_page())
    try:
        page = watched.open(report_url)
        page.click("#f-expand")
        page.locator("button.copy").first.click()
        wait_until(page, "document.querySelector('.copy-status').textContent.length > 0")
        status = page.inner_text(".copy-status")
        assert "Copied" in status or "press Ctrl+C" in status
        if clipboard == "granted":
            assert (
                page.evaluate("navigator.clipboard.readText()")
                == "aws iam delete-service-linked-role --role-name AWSServiceRoleForArtifact"
            )
        watched.assert_clean(report_url)
    finally:
        context.close()


def test_matrix_pages_and_filters_at_scale(watched: Watched, big_report_url: str) -> None:
    page = watched.open(big_report_url)
    rows = "#matrix-table tbody tr"
    problems = page.locator(rows).count()
    assert 0 < problems <= 100
    page.click("#m-problems")  # every account: 1,000 in pages of 100
    assert page.locator(rows).count() == 100
    assert "of 1,000" in page.inner_text("#m-status")
    first = page.inner_text(f"{rows} >> nth=0")
    page.click("#m-pager button:has-text('Next')")
    assert page.inner_text(f"{rows} >> nth=0") != first
    page.fill("#m-query", "100000000000")
    assert page.locator(rows).count() == 1
    assert visible_findings(page) == 50  # findings page size
    watched.assert_clean(big_report_url)


def test_print_shows_every_finding_expanded_without_controls(watched: Watched, big_report_url: str) -> None:
    page = watched.open(big_report_url)
    on_screen = visible_findings(page)
    page.emulate_media(media="print")
    wait_until(page, f"document.querySelectorAll('{FINDINGS}').length > {on_screen}")
    total = visible_findings(page)
    assert page.locator(".finding-body").evaluate_all("bodies => bodies.every(b => b.offsetHeight > 0)")
    for hidden in ("#f-severity", "#m-query", "#f-pager", "button.toggle >> nth=0"):
        assert not page.locator(hidden).is_visible(), hidden
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    wait_until(page, f"document.querySelectorAll('{FINDINGS}').length === {on_screen}")
    assert total > on_screen
    # The matrix prints every account of the selection, not only the page on screen.
    rows = "#matrix-table tbody tr"
    page.click("#m-problems")  # every account: 1,000 in pages of 100
    assert page.locator(rows).count() == 100
    page.emulate_media(media="print")
    wait_until(page, f"document.querySelectorAll('{rows}').length === 1000")
    assert "Showing accounts 1–1,000 of 1,000" in page.inner_text("#m-status")
    page.emulate_media(media="screen")
    wait_until(page, f"document.querySelectorAll('{rows}').length === 100")
    watched.assert_clean(big_report_url)


def test_screenshot(watched: Watched, report_url: str) -> None:
    """For people to look at: tests/artifacts/report.png (git-ignored)."""
    page = watched.open(report_url)
    page.click(f"{FINDINGS} >> nth=0 >> button.toggle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    watched.assert_clean(report_url)


# Identifier-like tokens: ARNs, 12-digit account ids, 64-hex hashes, API names (service:Operation), rule ids,
# run ids. The page must never put a line break inside one of them.
BROKEN_TOKENS = r"""
() => {
  const identifier = /^[("]*(arn:[^\s),"]+|\d{12}|[0-9a-f]{64}|[a-z0-9-]+:[A-Z][A-Za-z]+|ART-\d{3}|\d{8}T\d{6}Z-[0-9a-f]+)/;
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("pre, script, .visually-hidden, .offscreen") || !parent.offsetParent) continue;
    const re = /\S+/g;
    let m;
    while ((m = re.exec(node.data))) {
      const found = identifier.exec(m[0]);
      if (!found) continue;
      const start = m.index + m[0].indexOf(found[1]);
      const range = document.createRange();
      range.setStart(node, start);
      range.setEnd(node, start + found[1].length);
      // A line is a row of text, or a column in vertical writing (the printout's matrix headers)
      const vertical = getComputedStyle(parent).writingMode.startsWith("vertical");
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0 && r.height > 0)
                           .map(r => Math.round(vertical ? r.left : r.top)));
      if (tops.size > 1) broken.push(found[1]);
    }
  }
  return broken;
}
"""


@pytest.mark.parametrize("width", [1300, 800, 480])
def test_no_identifier_breaks_across_lines(browser: Any, report_url: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(report_url)
        wait_until(page, "window.__reportReady === true")
        page.click("#f-expand")
        assert page.evaluate(BROKEN_TOKENS) == []
        # The header grid adapts: no value of the run's header is squeezed to a few letters per line.
        narrowest = page.evaluate(
            "() => Math.min(...[...document.querySelectorAll('.meta dd')].map(d => d.getBoundingClientRect().width))")
        assert narrowest > 60
        page.emulate_media(media="print")
        assert page.evaluate(BROKEN_TOKENS) == []
    finally:
        context.close()


PDFTOTEXT = Path("/usr/bin/pdftotext")


@pytest.mark.parametrize(("paper", "points"), [("A4", (595, 842)), ("Letter", (612, 792))])
def test_printout_has_the_paper_page_numbers_and_the_run_id(
    browser: Any, tmp_path: Path, paper: str, points: tuple[int, int]
) -> None:
    import re
    import subprocess

    scan = dataclasses.replace(build_scan(), paper=paper)
    path = tmp_path / "report.html"
    path.write_bytes(render(scan))
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        wait_until(page, "window.__reportReady === true")
        page.emulate_media(media="print")
        pdf = page.pdf(prefer_css_page_size=True, display_header_footer=False)
    finally:
        context.close()
    (tmp_path / "report.pdf").write_bytes(pdf)
    boxes = {tuple(round(float(v)) for v in box.split()[2:4])
             for box in re.findall(rb"/MediaBox\s*\[([\d.\s]+)\]", pdf) for box in [box.decode()]}
    assert boxes == {points}
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 2
    if not PDFTOTEXT.exists():
        pytest.skip("no pdftotext (apt-get install poppler-utils): the page size and count were checked")
    text = subprocess.run([str(PDFTOTEXT), "-layout", str(tmp_path / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    sheets = [sheet for sheet in text.split("\f") if sheet.strip()]
    assert len(sheets) == pages
    for number, sheet in enumerate(sheets, start=1):
        assert f"page {number} of {pages}" in sheet, sheet[-300:]
        assert "artifact-scan run 20260101T000000Z-abcdef" in sheet
    # Identifiers print whole: each is on one line of the printout's text
    flat = text.replace("\f", "\n")
    for identifier in (scan.info.rules_sha256, "arn:aws:sts::111111111111:assumed-role/Auditor/alice",
                       "arn:aws:iam::222222222222:role/service-role/AWSArtifactAccountSync"):
        assert identifier in flat
