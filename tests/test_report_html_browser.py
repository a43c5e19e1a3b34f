"""report.html in a real headless Chromium: no errors, no network, filters work, hostile text stays text.

Needs Debian's Chromium and Playwright for Python (no browser download):
    apt-get install -y chromium && pip install playwright
Skipped, with that reason, when either is missing. Leaves a screenshot in tests/artifacts/report.png.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.report.html import render
from tests.scan_fixture import HOSTILE, MEMBER, build_scan

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
    assert f"a role described as {HOSTILE}" in body  # a message
    assert '"description": "<script>alert(\\"x\\")</script>' in body  # evidence, as JSON
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
    watched.assert_clean(big_report_url)


def test_screenshot(watched: Watched, report_url: str) -> None:
    """For people to look at: tests/artifacts/report.png (git-ignored)."""
    page = watched.open(report_url)
    page.click(f"{FINDINGS} >> nth=0 >> button.toggle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    watched.assert_clean(report_url)
