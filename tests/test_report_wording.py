"""Every writer says a suppression's state in the one module's words (scanner.report.wording).

The fixture's scan has a suppressed result (ACTIVE), a failure whose suppression expired (EXPIRED) and an
entry that matched nothing (UNUSED). Each writer's output must carry the sentence of each state it shows,
as the wording module words it: a writer that builds its own sentence again fails here. results.json is
the one writer without prose: it records the suppressions as data, which the sentences are made from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from scanner.model import ScanResult, Suppression
from scanner.report import WRITERS, markdown, table, wording
from tests.scan_fixture import ACTIVE, EXPIRED, UNUSED, build_scan

PROSE_WRITERS = sorted(set(WRITERS) - {"json"})


def _unescaped(name: str, data: bytes) -> str:
    """The writer's text with its format's own escaping undone, whitespace runs folded to one space."""
    text = data.decode("utf-8")
    if name == "html":
        # The sentences reach the page's script as data (the script shows them as given).
        found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
        assert found, "the page has no data"
        text += json.dumps(json.loads(found.group(1)), ensure_ascii=False)
    elif name == "junit":
        text = text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    elif name in ("sarif", "asff", "oscal", "ocsf", "ocsf-all"):
        lines = text.splitlines() if name.startswith("ocsf") else [text]
        text = "\n".join(json.dumps(json.loads(line), ensure_ascii=False) for line in lines if line)
    return " ".join(text.split())


def _in_markdown(sentence: str) -> str:
    return markdown.cell(sentence, len(sentence) * 4)


@pytest.fixture(scope="module")
def scan() -> ScanResult:
    return build_scan()


@pytest.fixture(scope="module")
def outputs(scan: ScanResult) -> dict[str, str]:
    rendered = {name: _unescaped(name, WRITERS[name].render(scan)) for name in PROSE_WRITERS}
    rendered["table"] = " ".join(table.render(scan, width=400).split())
    return rendered


def _says(outputs: dict[str, str], name: str, sentence: str) -> bool:
    sentence = _in_markdown(sentence) if name == "markdown" else sentence
    return " ".join(sentence.split()) in outputs[name]


STATES: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
    # (state, its sentence, writers that need not show it)
    ("accepted", lambda: wording.accepted(ACTIVE), ()),
    ("expired", lambda: wording.expiry(EXPIRED), ()),
    # Markdown marks the finding "(suppression expired)" in its table and words it once per entry, in its
    # Suppressions block (the line above); every other writer words it on the finding.
    ("expired on the finding", lambda: wording.expired(EXPIRED), ("markdown",)),
    # Entries that matched nothing are not results: the result-per-record formats (ASFF, OCSF, OSCAL) have
    # no place for them; the HTML page lists them as a table of their fields (scope below).
    ("unused", lambda: wording.unused(UNUSED), ("asff", "ocsf", "ocsf-all", "oscal", "html")),
    ("scope", lambda: wording.scope(UNUSED), ("asff", "ocsf", "ocsf-all", "oscal")),
]


CASES = [pytest.param(name, sentence, id=f"{name}-{state}")
         for state, sentence, exempt in STATES for name in [*PROSE_WRITERS, "table"] if name not in exempt]


@pytest.mark.parametrize(("name", "sentence"), CASES)
def test_every_writer_says_it_in_the_one_modules_words(
    outputs: dict[str, str], name: str, sentence: Callable[[], str]
) -> None:
    assert _says(outputs, name, sentence()), f"{name} does not say: {sentence()}"


def test_no_writer_words_a_suppression_of_its_own() -> None:
    """The drifted phrasings of before the module are gone from every writer."""
    scan = build_scan()
    gone = ["Suppression expired on", "failure accepted until", "Suppressed until", "resources arn:",
            "so this fails again", "failure it covered fails"]
    for name in PROSE_WRITERS:
        text = WRITERS[name].render(scan).decode("utf-8")
        assert not [g for g in gone if g in text], name
    assert not [g for g in gone if g in table.render(scan, width=400)]


@pytest.mark.parametrize("suppression", [EXPIRED, UNUSED, Suppression("X-1", "why", "me", "2030-01-01")])
def test_an_entry_is_its_source_else_its_rule_and_scope(suppression: Suppression) -> None:
    expected = suppression.source or f"{suppression.rule_id} ({wording.scope(suppression)})"
    assert wording.entry(suppression) == expected
    assert wording.expiry(suppression) == f"suppression {expected} expired on {suppression.expires}"
