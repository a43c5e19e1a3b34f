"""Failing closed at the edges: what reaches the terminal, which files are read, where a run is staged,
and what an interrupt at start-up prints.

- every printed field is escaped (a property over arbitrary text, then each printing path with hostile
  values: the console table, `evidence verify`, errors, argparse, log warnings);
- a FIFO, a device, a folder or an over-size file given to any file option is refused at once, exit 2,
  naming the file (and the limit);
- `--out` on another file system (a real tmpfs mount, and a simulated EXDEV);
- SIGINT while the command starts exits 130 with one line; importing the CLI loads no heavy library.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import files, output, terminal
from scanner import snapshot as snapshots
from scanner.audit.verify import Check, Verification
from scanner.cli import command as cli
from scanner.cli import evidence as evidence_cli
from scanner.cli.command import main
from tests.test_rule_cases import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\x08\x9b31m\u202e\u2066\u200f\u061c\u2028\x7f\nverified\\x1b"


def unsafe_in(text: str, *, newlines: bool = True) -> list[str]:
    return [c for c in text if unicodedata.category(c) in UNSAFE and not (newlines and c == "\n")]


# ---------------------------------------------------------------------------------------------
# The escaper


@given(st.text())
def test_escape_leaves_no_control_format_or_bidi_character_and_no_newline(value: str) -> None:
    escaped = terminal.escape(value)
    assert unsafe_in(escaped, newlines=False) == []


@given(st.text(), st.text())
def test_distinct_values_stay_distinct(a: str, b: str) -> None:
    if a != b:
        assert terminal.escape(a) != terminal.escape(b)


def test_the_escape_marker_is_escaped_itself() -> None:
    # A value holding the text `\x1b` must not look like one holding ESC.
    assert terminal.escape("\\x1b") != terminal.escape("\x1b")
    assert terminal.escape("\x1b") == "\\x1b" and terminal.escape("\u202e") == "\\u202e"


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_an_excerpt_is_short_and_says_how_much_was_cut(value: str, limit: int) -> None:
    cut = terminal.excerpt(value, limit)
    assert unsafe_in(cut, newlines=False) == []
    if cut != terminal.escape(value):
        head, marker = cut.split(terminal.TRUNCATED, 1)
        assert len(head) <= limit and marker.endswith(" more characters]")


@given(st.text())
@settings(max_examples=200)
def test_the_sink_keeps_only_the_programs_newlines(text: str) -> None:
    class Stream:
        written = ""

        def write(self, data: str) -> None:
            self.written += data

        def flush(self) -> None:
            pass

    stream = Stream()
    terminal.write(stream, text)  # type: ignore[arg-type]
    assert unsafe_in(stream.written) == []
    assert stream.written.count("\n") == text.count("\n")


def test_colour_lets_only_the_tables_own_codes_through() -> None:
    class Stream:
        written = ""

        def write(self, data: str) -> None:
            self.written += data

        def flush(self) -> None:
            pass

    stream = Stream()
    terminal.write(stream, "\x1b[31mfail\x1b[0m \x1b[8mhidden\x1b]0;title\x07", colour=True)  # type: ignore[arg-type]
    assert stream.written == "\x1b[31mfail\x1b[0m \\x1b[8mhidden\\x1b]0;title\\x07"


# ---------------------------------------------------------------------------------------------
# Every printing path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_hostile_results_fields_in_the_console_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = {"member": {"roles_listed": None,
                       "errors": [{"api": "sts:AssumeRole" + HOSTILE, "code": "AccessDenied" + HOSTILE,
                                   "message": "not authorized" + HOSTILE}]}}
    path = tmp_path / "snapshot.json"
    path.write_bytes(snapshots.dumps(build_snapshot(case)))
    code, out, err = run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "out"))
    assert code == 3
    assert "AccessDenied\\x1b[2J" in out  # shown, escaped
    assert unsafe_in(out) == [] and unsafe_in(err) == []
    assert not any(line.startswith("verified") for line in out.splitlines())


def test_a_hostile_baseline_in_the_console_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_bytes(snapshots.dumps(build_snapshot({"remove_slr": True})))
    assert run(capsys, "scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "one"))[0] == 1
    document = json.loads((tmp_path / "one" / "results.json").read_text())
    for item in document["results"]:
        if item["status"] == "fail":
            item["rule_id"] += HOSTILE  # gone from this run's findings: listed as resolved
    for marker in (document.get("markers") or {}).get("trusted_access", {}) or {}:
        document["markers"]["trusted_access"][marker] = "2020-01-01" + HOSTILE  # DateEnabled: drift line
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(document))
    _, out, err = run(capsys, "scan", "--snapshot", str(snapshot), "--out", str(tmp_path / "two"),
                         "--baseline", str(baseline))
    assert "resolved:" in out and "\\x1b" in out
    assert unsafe_in(out) == [] and unsafe_in(err) == []


def test_evidence_verify_output_cannot_hide_the_verdict_or_forge_a_signer() -> None:
    forged = "\x1b[1A\x1b[2K\rverified\nsigner: sha256:trusted"
    result = Verification(
        source="bundle.tar" + forged, run_id="run" + forged, organization_id="o-1" + forged,
        signer=None,
        checks=(Check("files" + forged, False, "member " + forged + " changed", ("detail" + forged,) * 3),),
    )
    for quiet in (False, True):
        text = evidence_cli.render(result, quiet=quiet)
        assert unsafe_in(text) == []
        lines = text.splitlines()
        assert lines[-1].startswith("NOT VERIFIED: 1 check(s) failed")
        assert not any(line.startswith(("verified", "signer: sha256")) for line in lines)
        assert len(lines) == (0 if quiet else 3) + 1 + 3 + 1  # one per field, check, detail and verdict


def test_error_messages_quote_data_escaped_and_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"scope" + HOSTILE * 8: 1}), encoding="utf-8")
    code, _, err = run(capsys, "scan", "--config", str(config))
    assert code == 2 and "scope\\x1b[2J" in err and "more characters]" in err
    assert unsafe_in(err) == []
    assert max(len(line) for line in err.splitlines()) < 400  # the key, 8 x 30 characters, is quoted short
    # argparse quotes arguments too
    code = None
    with pytest.raises(SystemExit) as exit_:
        main(["scan", "--format", "html" + HOSTILE])
    assert exit_.value.code == 2
    assert unsafe_in(capsys.readouterr().err) == []


def test_log_warnings_go_through_the_sink(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    cli._configure_logging(debug=False)
    logging.getLogger("scanner.test").warning("odd answer: %s", HOSTILE)
    err = capsys.readouterr().err
    assert "odd answer: \\x1b[2J" in err and unsafe_in(err) == [] and err.count("\n") == 1


def test_nothing_writes_to_stdout_or_stderr_but_the_terminal_module() -> None:
    offenders = []
    for path in sorted((ROOT / "scanner").rglob("*.py")):
        if path.name == "terminal.py":
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = text.split("#", 1)[0]
            if re.search(r"\bprint\(|sys\.std(out|err)\.write|print_exc\(|os\.write\([12],", code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {text.strip()}")
    assert offenders == []


# ---------------------------------------------------------------------------------------------
# Bounded reads: FIFOs, devices, folders and over-size files for every file option


@pytest.fixture
def alarm() -> Iterator[None]:
    """A read that blocks (a FIFO without a writer) fails the test instead of hanging it."""

    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("blocked reading a file option")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


FILE_OPTIONS = {
    "--config": lambda p: ["scan", "--config", p],
    "--rules": lambda p: ["rules", "validate", p],
    "--suppressions": lambda p: ["scan", "--snapshot", "missing.json", "--suppressions", p],
    "--snapshot": lambda p: ["scan", "--snapshot", p],
    "--baseline": lambda p: ["scan", "--snapshot", "missing.json", "--baseline", p],
    "snapshot merge": lambda p: ["snapshot", "merge", p, "-o", "merged.json"],
    "evidence verify": lambda p: ["evidence", "verify", p],
    "--public-key": lambda p: ["evidence", "verify", "bundle.tar", "--public-key", p],
    "--sign-key": lambda p: ["scan", "--sign-key", p],
}


@pytest.mark.parametrize("option", sorted(FILE_OPTIONS))
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/null", "folder"])
def test_a_file_option_refuses_what_is_not_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, alarm: None,
    option: str, kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if (option, kind) == ("--rules", "folder"):
        pytest.skip("a folder is a rule pack")
    target = {"fifo": lambda: str(_fifo(tmp_path)), "folder": lambda: str(tmp_path)}.get(kind, lambda: kind)()
    code, _, err = run(capsys, *FILE_OPTIONS[option](target))
    assert code == 2, err
    assert target in err, err
    if kind != "folder":  # a folder may get a message of its own (evidence verify: "export it first")
        assert "must be a regular file" in err, err


@pytest.mark.parametrize(
    ("option", "limit"),
    [("--config", files.MAX_YAML_BYTES), ("--rules", files.MAX_YAML_BYTES),
     ("--suppressions", files.MAX_YAML_BYTES), ("--snapshot", files.MAX_SNAPSHOT_BYTES),
     ("--baseline", files.MAX_BASELINE_BYTES), ("--public-key", files.MAX_KEY_BYTES)],
)
def test_a_file_over_its_limit_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, option: str, limit: int
) -> None:
    monkeypatch.chdir(tmp_path)
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:  # sparse: the size is real, the disk is not used
        handle.truncate(limit + 1)
    code, _, err = run(capsys, *FILE_OPTIONS[option](str(big)))
    assert code == 2
    assert f"{limit + 1:,} bytes" in err and f"size limit of {files.describe(limit)}" in err, err


def test_read_limited_refuses_a_file_that_grows_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.errors import ConfigError

    path = tmp_path / "grows.yaml"
    path.write_bytes(b"a" * 10)
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:  # the size when opened; the file then holds more than that
        result = real_fstat(fd)
        path.write_bytes(b"a" * 100)
        return result

    monkeypatch.setattr(files.os, "fstat", fstat)
    with pytest.raises(ConfigError, match="grew while it was read"):
        files.read_limited(path, what="config file", limit=50, error=ConfigError)


# ---------------------------------------------------------------------------------------------
# --out on another file system


def _snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_bytes(snapshots.dumps(build_snapshot({})))
    return path


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.parametrize("where", ["the mount point itself", "a new folder on it"])
def test_out_on_another_file_system(tmp_path: Path, tmpfs: Path, capsys: pytest.CaptureFixture[str],
                                    where: str) -> None:
    out = tmpfs if where == "the mount point itself" else tmpfs / "reports" / "run"
    code, _, err = run(capsys, "scan", "--snapshot", str(_snapshot(tmp_path)), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json", "results.sarif",
                                                     "rules", "settings.json", "snapshot.json"]
    hidden = [p for p in [*tmp_path.iterdir(), *tmpfs.rglob(".*")] if p.name.startswith(".")]
    assert hidden == []  # no staging folder left anywhere


def test_a_rename_across_file_systems_is_completed_by_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mount point no check recognises (a bind mount of the same file system): the rename of the staging
    folder onto it fails with EXDEV, and the run is copied into the destination instead of being lost."""
    out = tmp_path / "bind-mounted"
    out.mkdir()
    monkeypatch.setattr(output, "_is_mount_point", lambda folder: False)
    real_rename = os.rename

    def rename(source: Any, target: Any) -> None:
        if Path(target) == out:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        if Path(source).parent.parent == tmp_path and Path(target).parent == out:
            raise OSError(errno.EXDEV, "Invalid cross-device link")  # entries of a staging folder beside it
        real_rename(source, target)

    monkeypatch.setattr(output.os, "rename", rename)
    folder = output.RunFolder(out).open()
    assert folder.staging is not None and folder.staging.parent == tmp_path
    folder.write("a.json", b"{}")
    folder.write("rules/pack/r.yaml", b"id: r\n")
    assert folder.commit() == out
    assert (out / "a.json").read_bytes() == b"{}" and (out / "rules/pack/r.yaml").read_bytes() == b"id: r\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_an_existing_mount_point_is_staged_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "volume"
    out.mkdir()
    monkeypatch.setattr(output, "_is_mount_point", lambda folder: folder == out)
    folder = output.RunFolder(out).open()
    assert folder.staging is not None and folder.staging.parent == out and folder.staging.name.startswith(".")
    folder.write("results.json", b"{}")
    folder.commit()
    assert [p.name for p in out.iterdir()] == ["results.json"]


# ---------------------------------------------------------------------------------------------
# Start-up: interrupts and imports


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1, 0.3, 0.8])
def test_sigint_while_starting_exits_130_with_one_line(delay: float) -> None:
    # -X importtime reports each import on stderr as it finishes: the signal is sent once the entry point
    # has started (scanner.terminal is its first import; before it, Python's start-up and runpy own
    # SIGINT), then after `delay`: during the CLI's imports, argument parsing, loading the rules.
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "scanner", "rules", "validate"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.rstrip().endswith("| scanner.terminal"):
            break
    time.sleep(delay)
    finished_before = process.poll() is not None
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    if finished_before:
        pytest.skip(f"the command finished within {delay} s, before the signal")
    assert "Traceback" not in err
    assert (process.returncode, lines) == (130, [terminal.INTERRUPTED])


def test_importing_the_cli_and_its_help_load_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import scanner.cli.command\n"
        "after_import = sorted(m for m in ('boto3', 'botocore', 'jsonschema', 'jinja2', 'cryptography') "
        "if m in sys.modules)\n"
        "try:\n"
        "    scanner.cli.command.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "after_help = sorted(m for m in ('boto3', 'botocore', 'jsonschema', 'jinja2', 'cryptography', "
        "'scanner.model', 'yaml') if m in sys.modules)\n"
        "sys.stderr.write(repr((after_import, after_help)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                               cwd=ROOT, timeout=120, check=True)
    assert completed.stderr == repr(([], []))
