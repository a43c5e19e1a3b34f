"""report.html without a browser: escaping of AWS strings, the CSP, no network, size, determinism.

The page's behaviour in a real browser is in test_report_html_browser.py.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html as html_lib
import importlib.util
import json
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from scanner.model import Evidence, Result, Severity, Status
from scanner.report import WRITERS
from scanner.report import html as html_report
from tests.scan_fixture import BASELINE_RUN, HOSTILE, MANAGEMENT, MEMBER, ORG, WIDENED_TRUST, build_scan

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "scanner" / "report" / "templates"


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._open: str | None = None
        self._attrs: dict[str, str | None] = {}
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open, self._attrs, self._text = tag, dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._attrs, text))
            else:
                self.styles.append(text)
            self._open = None


@pytest.fixture(scope="module")
def text() -> str:
    return WRITERS["html"].render(build_scan()).decode("utf-8")


@pytest.fixture(scope="module")
def page(text: str) -> Page:
    parsed = Page()
    parsed.feed(text)
    return parsed


def _data_block(text: str) -> str:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.DOTALL)
    assert match, "no data block"
    return match.group(1)


def _csp(page: Page) -> dict[str, list[str]]:
    metas = [
        attrs
        for tag, attrs in page.tags
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(metas) == 1
    policy = str(metas[0]["content"])
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def test_registered_as_html_writer() -> None:
    assert WRITERS["html"].filename == "report.html"
    assert WRITERS["html"].render is html_report.render


def test_autoescaping_is_on_and_the_template_never_bypasses_it() -> None:
    assert html_report._ENV.autoescape is True
    template = re.sub(
        r"\{#.*?#\}", "", (TEMPLATES / "report.html.j2").read_text(encoding="utf-8"), flags=re.DOTALL
    )
    assert "|safe" not in template.replace(" ", "") and "autoescape false" not in template


def test_hostile_strings_never_become_markup(page: Page, text: str) -> None:
    # The only elements are ours: two scripts (data + code), no image, no event handler attribute.
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/json", None]
    assert not [
        tag for tag, _ in page.tags if tag in ("img", "iframe", "object", "embed", "svg", "link", "base")
    ]
    handlers = [(tag, name) for tag, attrs in page.tags for name in attrs if name.lower().startswith("on")]
    assert handlers == []
    assert HOSTILE not in text
    assert "<script>alert" not in text and "<img" not in text


def test_hostile_strings_are_escaped_text_in_html() -> None:
    scan = build_scan()
    # Put hostile text where the server renders HTML: a skipped account and a collection error.
    accounts = (*scan.accounts[:3], dataclasses.replace(scan.accounts[3], name=HOSTILE, skip_reason=HOSTILE))
    errors = (dataclasses.replace(scan.errors[0], message=HOSTILE, resource=HOSTILE),)
    info = dataclasses.replace(scan.info, caller_arn=HOSTILE, organization_id=HOSTILE)
    text = html_report.render(dataclasses.replace(scan, accounts=accounts, errors=errors, info=info)).decode()
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
    assert text.count(escaped) >= 6  # title, header x3, skipped account x2, error x2
    assert HOSTILE not in text
    parsed = Page()
    parsed.feed(text)
    assert not [tag for tag, _ in parsed.tags if tag == "img"]
    assert len(parsed.scripts) == 2


def test_data_block_escapes_markup_and_line_separators(text: str) -> None:
    block = _data_block(text)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in block
    assert "\\u003cscript\\u003e" in block
    data = json.loads(block)  # \u003c is plain JSON: the page's JSON.parse gets the original text back
    names = {row[0]: row[1] for row in data["accounts"]}
    assert names[MEMBER] == f"member {HOSTILE}"


def test_script_json_round_trips_dangerous_text() -> None:
    value = {"a": "</script><!-- <script>&amp;\u2028\u2029 \"'", "b": [1, None, True]}
    escaped = str(html_report.script_json(value))
    assert not set("<>&\u2028\u2029") & set(escaped)
    assert json.loads(escaped) == value


def test_csp_forbids_network_and_allows_only_our_script_and_style_by_hash(page: Page) -> None:
    csp = _csp(page)
    assert csp["default-src"] == ["'none'"]
    for directive in (
        "connect-src",
        "font-src",
        "object-src",
        "frame-src",
        "worker-src",
        "form-action",
        "base-uri",
    ):
        assert csp[directive] == ["'none'"], directive
    assert csp["img-src"] == ["data:"]
    code = [body for attrs, body in page.scripts if attrs.get("type") is None]
    assert csp["script-src"] == [_sha256(code[0])]
    assert csp["style-src"] == [_sha256(page.styles[0])]
    assert "'unsafe-inline'" not in str(csp) and "'unsafe-eval'" not in str(csp)


def test_csp_meta_comes_before_any_script_or_style(page: Page) -> None:
    names = [
        tag if tag != "meta" else f"meta:{attrs.get('http-equiv') or attrs.get('charset') or ''}"
        for tag, attrs in page.tags
    ]
    csp_at = names.index("meta:Content-Security-Policy")
    assert csp_at < names.index("style") < names.index("script")


def test_no_external_resources(page: Page, text: str) -> None:
    for tag, attrs in page.tags:
        for name in ("src", "srcset", "action", "formaction", "poster", "data", "background"):
            assert name not in attrs, (tag, name)
        if tag != "a":
            assert "href" not in attrs, tag
        else:  # in-page links only; rule references are drawn by the script, https only
            assert str(attrs["href"]).startswith("#"), attrs
    style = re.sub(r"/\*.*?\*/", "", page.styles[0], flags=re.DOTALL)
    assert "url(" not in style and "@import" not in style
    code = next(body for attrs, body in page.scripts if attrs.get("type") is None)
    code = re.sub(
        r"(^|\s)//[^\n]*", r"\1", re.sub(r"/\*.*?\*/", "", code, flags=re.DOTALL)
    )  # comments may name them
    for api in (
        "fetch(",
        "XMLHttpRequest",
        "WebSocket",
        "EventSource",
        "sendBeacon",
        "import(",
        "new Image",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ):
        assert api not in code, api
    outside_data = text.replace(_data_block(text), "")
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", outside_data, re.IGNORECASE)


def test_shipped_assets_cannot_close_their_inline_element() -> None:
    for name in ("report.js", "report.css"):
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        assert "</" not in source and "<!--" not in source, name


def test_header_shows_run_metadata(text: str) -> None:
    scan = build_scan()
    for value in (
        ORG,
        MANAGEMENT,
        f"arn:aws:sts::{MANAGEMENT}:assumed-role/Auditor/alice",
        "2026-01-01 00:00:00 UTC",
        "2026-01-01 00:00:05 UTC",
        "0.0.0-test",
        scan.info.rules_sha256,
        scan.info.run_id,
    ):
        assert value in text, value
    for pack, version in scan.info.rule_packs:
        assert f"{pack} {version}" in text


def test_incomplete_scan_is_unmistakable(text: str) -> None:
    assert "<title>[INCOMPLETE]" in text
    assert 'role="alert"' in text and "INCOMPLETE SCAN" in text
    assert "NO – incomplete" in text


def test_complete_scan_has_no_incomplete_banner() -> None:
    scan = build_scan()
    text = html_report.render(
        dataclasses.replace(scan, info=dataclasses.replace(scan.info, complete=True))
    ).decode()
    assert "INCOMPLETE" not in text and "Complete scan" in text


def test_summary_skipped_accounts_and_collection_errors_are_plain_html(text: str) -> None:
    body = text.replace(_data_block(text), "")
    assert "444444444444" in body and "account state is SUSPENDED" in body
    assert "sts:AssumeRole" in body and "AccessDenied" in body
    assert "Skipped accounts (1)" in body and "Collection errors (1)" in body


def _section(text: str, section_id: str) -> str:
    body = text.replace(_data_block(text), "")
    match = re.search(rf'<section id="{section_id}".*?</section>', body, re.DOTALL)
    assert match, section_id
    return match.group(0)


def _cells(table: str) -> list[list[str]]:
    """The text of every cell of every body row of `table`, tags stripped, entities decoded, spaces collapsed."""
    body = table.split("<tbody>", 1)[1]
    return [
        [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
         for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    ]


def test_summary_says_new_resolved_and_suppression_counts(text: str) -> None:
    summary = _section(text, "summary")
    assert (f'Since baseline <span class="mono">{BASELINE_RUN}</span>: <strong>1 new</strong> finding, '
            "2 unchanged, 2 resolved, 1 drift") in summary
    assert "1 failure suppressed, 1 failing again because a suppression expired, 1 unused suppression" in summary


def test_since_the_baseline_lists_resolved_findings_and_drift(text: str) -> None:
    section = _section(text, "baseline")
    assert "Resolved findings (2)" in section and "Drift (1)" in section
    resolved = _cells(section.split('id="resolved"', 1)[1].split("</table>", 1)[0])
    assert [row[1] for row in resolved] == ["ART-007", "ART-010"]
    assert resolved[0][-1] == "2025-10-01 00:00:00 UTC" and resolved[1][-1] == "unknown"
    assert resolved[1][3].startswith(f"look-alike {HOSTILE} arn:aws:iam::{MEMBER}:role/")
    assert HOSTILE not in section  # escaped: present only as text
    drift = _cells(section.split('id="drift"', 1)[1].split("</table>", 1)[0])
    assert drift[0][0] == "service-linked-role-recreated"
    assert drift[0][1] == f"{MANAGEMENT} (management)"
    assert '"role_id": "AROAOLDOLDOLDOLDOLD01"' in drift[0][4] and '"role_id": "AROANEWNEWNEWNEWNEW2"' in drift[0][5]


def test_suppressions_section_lists_expired_and_unused(text: str) -> None:
    section = _section(text, "suppressions")
    expired = _cells(section.split('id="expired"', 1)[1].split("</table>", 1)[0])
    assert expired == [["suppressions.yaml:9", "ART-010", f"account {MANAGEMENT}", "platform@example.com",
                        "Look-alike role kept until the migration in SEC-7", "2025-12-31", "1"]]
    unused = _cells(section.split('id="unused"', 1)[1].split("</table>", 1)[0])
    assert unused == [["suppressions.yaml:15", "ART-007",
                       "every account, resources matching arn:aws:iam::*:role/Sandbox*",
                       "alice@example.com", "Sandbox roles keep an extra policy", "2026-06-30"]]


def test_without_a_baseline_the_section_says_so() -> None:
    scan = build_scan()
    plain = dataclasses.replace(scan, baseline_run_id=None, resolved=(), drift=(), unused_suppressions=(),
                                results=tuple(dataclasses.replace(r, baseline=None, first_seen=None,
                                                                  expired_suppression=None) for r in scan.results))
    text = html_report.render(plain).decode()
    assert "No baseline was given" in _section(text, "baseline")
    assert 'id="f-baseline"' not in text and "Resolved findings" not in text
    assert "None: every suppression matched a failure." in _section(text, "suppressions")
    assert json.loads(_data_block(text))["baseline"] is None


def test_findings_carry_baseline_first_seen_and_expired_suppression() -> None:
    data = html_report.page_data(build_scan())
    assert data["baseline"] == BASELINE_RUN
    docs = {f["doc"]["rule_id"]: f["doc"] for f in data["findings"]}
    assert (docs["ART-006"]["baseline"], docs["ART-006"]["first_seen"]) == ("new", "2026-01-01T00:00:00Z")
    assert docs["ART-010"]["baseline"] == "unchanged"
    assert docs["ART-010"]["expired_suppression"]["source"] == "suppressions.yaml:9"
    assert docs["ART-012"]["baseline"] is None


def test_hostile_audit_text_is_escaped_in_html() -> None:
    scan = build_scan()
    hostile = dataclasses.replace(
        scan,
        resolved=tuple(dataclasses.replace(r, message=HOSTILE, resource_name=HOSTILE) for r in scan.resolved),
        drift=tuple(dataclasses.replace(d, message=HOSTILE, kind=HOSTILE, before=HOSTILE, after={"x": HOSTILE})
                    for d in scan.drift),
        unused_suppressions=tuple(dataclasses.replace(u, reason=HOSTILE, owner=HOSTILE, source=HOSTILE)
                                  for u in scan.unused_suppressions),
        baseline_run_id=HOSTILE,
    )
    text = html_report.render(hostile).decode()
    assert HOSTILE not in text and "<img" not in text
    parsed = Page()
    parsed.feed(text)
    assert not [tag for tag, _ in parsed.tags if tag == "img"] and len(parsed.scripts) == 2


def test_page_data_shapes_matrix_and_findings() -> None:
    scan = build_scan()
    data = html_report.page_data(scan)
    rule_ids = [rule["id"] for rule in data["rules"]]
    cells = {row[0]: row[2] for row in data["accounts"]}
    assert all(len(row) == len(rule_ids) for row in cells.values())
    assert cells[MEMBER][rule_ids.index("ART-006")] == "F"
    assert cells[MEMBER][rule_ids.index("ART-011")] == "S"
    assert cells[MEMBER][rule_ids.index("ART-012")] == "P"
    assert cells["333333333333"][rule_ids.index("ART-012")] == "E"
    assert cells["444444444444"][rule_ids.index("ART-014")] == "K"
    # fail, error and suppressed are full documents, worst first; pass is never embedded.
    assert [f["doc"]["status"] for f in data["findings"]] == ["fail", "fail", "error", "suppressed"]
    assert [f["doc"]["rule_id"] for f in data["findings"][:2]] == ["ART-006", "ART-010"]
    assert data["skipped"] == [
        [[row[0] for row in data["accounts"]].index("444444444444"), rule_ids.index("ART-014"), "high", 0]
    ]
    assert data["messages"] == ["account state is SUSPENDED"]
    assert data["baseline"] == BASELINE_RUN


def test_worst_status_wins_a_cell() -> None:
    scan = build_scan()
    extra = dataclasses.replace(scan.results[5], status=Status.FAIL)  # ART-012 on MEMBER: pass + fail
    data = html_report.page_data(dataclasses.replace(scan, results=(*scan.results, extra)))
    rule_ids = [rule["id"] for rule in data["rules"]]
    member = next(row for row in data["accounts"] if row[0] == MEMBER)
    assert member[2][rule_ids.index("ART-012")] == "F"


def test_results_for_unlisted_accounts_and_rules_are_still_shown() -> None:
    scan = build_scan()
    stray = dataclasses.replace(scan.results[1], account_id="555555555555", rule_id="X-001")
    data = html_report.page_data(dataclasses.replace(scan, results=(*scan.results, stray)))
    assert data["accounts"][-1][0] == "555555555555"
    assert data["rules"][-1]["id"] == "X-001"
    assert data["accounts"][-1][2].endswith("F")


def _trust_result(
    document: Mapping[str, Any], found: object, expected: str = 'exactly ["service:artifact.amazonaws.com"]'
) -> Result:
    return Result(
        "ART-006",
        Status.FAIL,
        Severity.CRITICAL,
        MEMBER,
        "m",
        "aws.iam.role",
        "arn",
        "role",
        "msg",
        evidence=(Evidence("$.trust.allowed_principals", expected, found),),
        document=document,
    )


def test_offending_statement_is_the_one_granting_the_unexpected_principal() -> None:
    result = _trust_result(WIDENED_TRUST, ["aws:999999999999", "service:artifact.amazonaws.com"])
    assert html_report.offending_statements(result) == {1}
    parts = html_report.document_parts(WIDENED_TRUST, {1})
    assert [highlighted for _, highlighted in parts] == [False, True, False]
    assert "999999999999" in parts[1][0] and "artifact.amazonaws.com" not in parts[1][0]
    assert json.loads("".join(t for t, _ in parts)) == WIDENED_TRUST


def test_offending_statements_fall_back_to_all() -> None:
    # Evidence that names no principal: every statement is highlighted rather than none.
    result = _trust_result(WIDENED_TRUST, True, "false")
    assert html_report.offending_statements(result) == {0, 1}
    # A principal spelt differently from anything in the document: the same.
    result = _trust_result(WIDENED_TRUST, ["federated:cognito-identity.amazonaws.com"])
    assert html_report.offending_statements(result) == {0, 1}


def test_offending_statement_shapes() -> None:
    wildcard = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}},
            {"Effect": "Allow", "Principal": "*"},
            {"Effect": "Deny", "Principal": "*"},
        ]
    }
    assert html_report.offending_statements(_trust_result(wildcard, ["*"])) == {1}
    not_principal = {
        "Statement": [
            {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}},
            {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}},
        ]
    }
    assert html_report.offending_statements(_trust_result(not_principal, ["*"])) == {0}
    listed = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:role/x", "arn:aws:iam::999999999999:root"]},
            }
        ]
    }
    assert html_report.offending_statements(_trust_result(listed, ["aws:999999999999"])) == {0}
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": "999999999999"}}}
    assert html_report.offending_statements(_trust_result(single, ["aws:999999999999"])) == {0}
    parts = html_report.document_parts(single, {0})
    assert [h for _, h in parts] == [False, True, False]
    assert json.loads("".join(t for t, _ in parts)) == single


def test_deterministic(text: str) -> None:
    assert WRITERS["html"].render(build_scan()).decode("utf-8") == text


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_html_report", ROOT / "bench" / "html_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ten_thousand_accounts_stay_small() -> None:
    scan = _bench().synthetic_scan(10_000)  # type: ignore[attr-defined]
    size = len(html_report.render(scan))
    assert size < 10_000_000, size
    # Passing results are not embedded one by one: the bulk is one status character per cell (account x rule),
    # so the budget grows with the rule packs (12 bytes a cell; 46 rules at 10,000 accounts measured 9).
    cells = len(scan.accounts) * len({r.rule_id for r in scan.results})
    assert size < 12 * cells, (size, cells)


@pytest.mark.parametrize(("stamp", "shown"), [
    ("2026-11-28T20:04:08.812636Z", "2026-11-28 20:04:08 UTC"),  # a live run's times carry microseconds
    ("2026-01-01T00:00:05Z", "2026-01-01 00:00:05 UTC"),
    ("not a time", "not a time"),
])
def test_times_are_shown_to_the_second_in_utc(stamp: str, shown: str) -> None:
    assert html_report._utc(stamp) == shown
