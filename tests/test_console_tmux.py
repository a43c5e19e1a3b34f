"""The everyday commands in a real terminal (tmux) at 80 and 200 columns: no line is wrapped by the terminal
(so nothing wraps mid-identifier), every identifier of the results is shown whole or cut with a visible
"…", and the findings read as sentences. Skipped when tmux is missing (apt-get install tmux)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="no tmux: apt-get install tmux")
ROOT = Path(__file__).resolve().parents[1]
DONE = "__artifact_scan_done__"


def run_in_tmux(command: list[str], columns: int, timeout: float = 240) -> tuple[str, str]:
    """(what the terminal shows, the same with the terminal's own line wraps joined)."""
    socket = f"artifact-scan-test-{uuid.uuid4().hex[:8]}"
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environment["PYTHONPATH"] = str(ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    shell = f"cd {shlex.quote(str(ROOT))} && {shlex.join(command)} 2>&1; echo {DONE}; sleep 600"
    base = [str(TMUX), "-L", socket, "-f", "/dev/null"]
    subprocess.run([*base, "new-session", "-d", "-x", str(columns), "-y", "50", shell], check=True, env=environment,
                   timeout=30)
    try:
        subprocess.run([*base, "set-option", "-g", "history-limit", "10000"], check=True, timeout=30)
        deadline = time.monotonic() + timeout
        while True:
            shown = subprocess.run([*base, "capture-pane", "-p", "-S", "-", "-E", "-"], capture_output=True,
                                   text=True, check=True, timeout=30).stdout
            if DONE in shown:
                break
            assert time.monotonic() < deadline, shown[-2000:]
            time.sleep(0.5)
        joined = subprocess.run([*base, "capture-pane", "-p", "-J", "-S", "-", "-E", "-"], capture_output=True,
                                text=True, check=True, timeout=30).stdout
        return shown, joined
    finally:
        subprocess.run([*base, "kill-server"], check=False, timeout=30)


IDENTIFIER = re.compile(r"arn:aws:[\w:/.+=,@-]*[\w/]|\b\d{12}\b|\b[a-z0-9-]+:[A-Z][A-Za-z]+\b|\bART-\d{3}\b")


@pytest.fixture(scope="module", params=[80, 200])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, dict]:
    columns = request.param
    out = tmp_path_factory.mktemp("tmux") / "run"
    shown, joined = run_in_tmux([sys.executable, "-m", "scanner", "demo", "--out", str(out)], columns)
    return columns, shown, joined, json.loads((out / "results.json").read_text())


def test_nothing_is_wrapped_by_the_terminal(demo: tuple[int, str, str, dict]) -> None:
    columns, shown, joined, _ = demo
    assert shown == joined  # tmux joins only lines it wrapped itself: none
    assert all(len(line) <= columns for line in shown.splitlines())


def test_identifiers_are_whole_or_visibly_cut(demo: tuple[int, str, str, dict]) -> None:
    _, shown, _, results = demo
    known = set()
    for result in results["results"]:
        known |= set(IDENTIFIER.findall(json.dumps(result)))
    on_screen = {m for m in IDENTIFIER.findall(shown) if not re.search(re.escape(m) + r"[:/.-]*…", shown)}
    # Everything that looks like an identifier on screen is one the results hold, in full
    assert on_screen <= known | {"sts:AssumeRole"}, on_screen - known


def test_the_findings_read_as_sentences(demo: tuple[int, str, str, dict]) -> None:
    _, shown, _, _ = demo
    text = " ".join(shown.split())
    assert ("trusts aws:999999999999, service:artifact.amazonaws.com for sts:AssumeRole; only "
            "service:artifact.amazonaws.com for sts:AssumeRole is expected") in text
    assert "21 rules could not be evaluated: sts:AssumeRole AccessDenied (ART-006, ART-007, ART-008, ART-009, " \
           "ART-010, ART-011, ART-012, ORG-030, ORG-031, ORG-032, ORG-033, ORG-034, ORG-035, ORG-130, ORG-131, " \
           "SSM-004, SSM-005, SSM-006, SSM-007, SSM-008, SSM-009)" in text
    assert "ART-006 critical: AWSServiceRoleForArtifact trusts only artifact.amazonaws.com for sts:AssumeRole" in text
    assert re.search(r"Findings: 37 \(16 fail, 21 error, 0 suppressed\) · \d+ pass · \d+ not applicable \(skipped\)",
                     text)
    assert "expected exactly" not in text  # the JSON-path evidence stays in the reports


def test_rules_list_fits_the_terminal() -> None:
    for columns in (80, 200):
        shown, joined = run_in_tmux([sys.executable, "-m", "scanner", "rules", "list", "--framework", "SOC 2"],
                                    columns, timeout=60)
        assert shown == joined
        assert "ART-012  high      CC6.1, CC6.6" in shown
