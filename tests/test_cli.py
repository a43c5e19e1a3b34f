"""The command line: each exit code, each bad input's message, and what a run writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner import schemas
from scanner import snapshot as snapshots
from scanner.cli.command import main
from scanner.rules import builtin_packs_dir
from tests.test_rule_cases import build_snapshot

HEALTHY: dict[str, Any] = {}
HIGH_FINDING = {"remove_slr": True}  # ART-004, high
LOW_FINDING = {"enabled": [], "agreements": []}  # ART-002 high + ART-005 low
UNREADABLE_MEMBER = {
    "member": {"roles_listed": None,
               "errors": [{"api": "sts:AssumeRole", "code": "AccessDenied", "message": "not authorized"}]}
}


def write_snapshot(tmp_path: Path, case: dict[str, Any], name: str = "snapshot.json") -> Path:
    path = tmp_path / name
    path.write_bytes(snapshots.dumps(build_snapshot(case)))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any], *extra: str):
    path = write_snapshot(tmp_path, case)
    return run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "out"), *extra)


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    out = capsys.readouterr().out
    assert caught.value.code == 0
    for line in ("0  scan complete", "1  scan complete, findings", "2  bad arguments", "3  incomplete",
                 "artifact-scan demo", "scan --snapshot"):
        assert line in out


def test_exit_0_when_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = scan(tmp_path, capsys, HEALTHY)
    assert code == 0
    assert "severity" in out and "total" in out
    assert f"wrote {tmp_path / 'out'}/" in err


def test_exit_1_on_findings_at_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = scan(tmp_path, capsys, HIGH_FINDING)
    assert code == 1
    assert "ART-004" in out and "fail" in out


def test_fail_on_raises_the_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scan(tmp_path, capsys, HIGH_FINDING, "--fail-on", "critical")[0] == 0


def test_fail_on_lowers_the_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_snapshot(tmp_path, {"slr": {"boundary": "arn:aws:iam::111111111111:policy/b"}})  # ART-009 medium
    assert run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "a"))[0] == 0
    assert run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "b"), "--fail-on", "medium")[0] == 1


def test_exit_3_outranks_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = scan(tmp_path, capsys, {**HIGH_FINDING, **UNREADABLE_MEMBER})
    assert code == 3
    assert "INCOMPLETE" in out
    assert "sts:AssumeRole: AccessDenied" in out


def test_run_folder_contents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan(tmp_path, capsys, HIGH_FINDING)
    out = tmp_path / "out"
    assert (out / "snapshot.json").read_bytes() == (tmp_path / "snapshot.json").read_bytes()
    document = json.loads((out / "results.json").read_text())
    jsonschema.Draft202012Validator(schemas.load("results")).validate(document)
    assert document["summary"]["by_status"]["fail"] >= 1
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"
    builtin = Path(__file__).parents[1] / "rules" / "artifact"
    assert (out / "rules" / "artifact" / "ART-006.yaml").read_bytes() == (builtin / "ART-006.yaml").read_bytes()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["member_accounts"]["role_name"] == "OrganizationAccountAccessRole"
    assert "external_id" not in settings["member_accounts"]


def test_offline_evaluation_repeats_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_snapshot(tmp_path, {**HIGH_FINDING, **UNREADABLE_MEMBER})
    run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "one"))
    run(capsys, "scan", "--snapshot", str(tmp_path / "one" / "snapshot.json"), "--out", str(tmp_path / "two"))
    one, two = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two"))
    assert one["results"] == two["results"] and one["run"]["run_id"] != two["run"]["run_id"]


def test_never_reuses_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan(tmp_path, capsys, HEALTHY)
    code, _, err = run(capsys, "scan", "--snapshot", str(tmp_path / "snapshot.json"), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "the output folder is not empty; a run never overwrites another run's files" in err


def test_default_folder_is_reports_run_id(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_snapshot(tmp_path, HEALTHY)
    monkeypatch.chdir(tmp_path)
    run(capsys, "scan", "--snapshot", str(path))
    [run_dir] = (tmp_path / "reports").iterdir()
    assert (run_dir / "results.json").is_file()
    assert json.loads((run_dir / "results.json").read_text())["run"]["run_id"] == run_dir.name


def test_no_colour_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err = scan(tmp_path, capsys, HIGH_FINDING)
    assert "\033[" not in out + err


def test_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = scan(tmp_path, capsys, HIGH_FINDING, "--quiet")
    assert out == ""


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"not json at all", ["snapshot.json:1:1", "not a snapshot: invalid JSON"]),
        (b'{"snapshot_version": 1, "metadata": {', ["looks truncated"]),
        (b'{"snapshot_version": 1, "metadata": {"tool_vers', ["snapshot.json:1:38", "looks truncated"]),  # mid-string
        (b'{"snapshot_version": 99}', ["snapshot version 99 is newer than this artifact-scan reads (1)",
                                       "hint: upgrade artifact-scan"]),
        (b'{"hello": 1}', ["not a snapshot: $.snapshot_version is missing"]),
        (b'{"snapshot_version": 1, "metadata": {}, "organization": {}, "accounts": [{}]}',
         ["$.metadata", "'tool_version' is required", "$.accounts[0]"]),
        (b'{"a": "\xc3\x28"}', ["not UTF-8"]),
    ],
)
def test_bad_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                      fragments: list[str]) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(content)
    code, _, err = run(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "out").exists(), "nothing may be written for bad input"


def test_missing_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scan", "--snapshot", str(tmp_path / "nope.json"))
    assert code == 2 and "snapshot not found" in err


def test_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("collection:\n  concurency: 4\n")
    path = write_snapshot(tmp_path, HEALTHY)
    code, _, err = run(capsys, "scan", "--config", str(config), "--snapshot", str(path))
    assert code == 2
    assert f"{config}:2: $.collection.concurency: unknown key 'concurency'" in err


def test_bad_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "X-001.yaml").write_text("id: X-002\n")
    code, _, err = run(capsys, "rules", "validate", str(pack))
    assert code == 2
    assert "X-001.yaml:1: $: 'title' is required but missing" in err
    assert "X-001.yaml:1: $.id: the id 'X-002' differs from the file name 'X-001.yaml'" in err  # reported at once


def test_unknown_resource_and_duplicate_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    builtin = (Path(__file__).parents[1] / "rules" / "artifact" / "ART-001.yaml").read_text()
    (pack / "ART-001.yaml").write_text(builtin)
    (pack / "X-001.yaml").write_text(builtin.replace("ART-001", "X-001").replace(
        "aws.organizations.organization", "aws.s3.bucket"))
    path = write_snapshot(tmp_path, HEALTHY)
    code, _, err = run(capsys, "scan", "--snapshot", str(path), "--rules", str(pack))
    assert code == 2
    assert "duplicate rule id 'ART-001'" in err
    assert "unknown resource type 'aws.s3.bucket'" in err


def test_rules_validate_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "validate")
    packs = sorted(p for p in builtin_packs_dir().iterdir() if p.is_dir())
    count = sum(1 for p in builtin_packs_dir().glob("*/*.yaml") if p.name != "pack.yaml")
    assert {"artifact", "organizations", "ssm"} <= {p.name for p in packs}
    assert code == 0 and f"ok: {count} rules valid in {len(packs)} pack(s): {', '.join(p.name for p in packs)}" in out


def test_rules_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "list")
    assert code == 0
    assert re.search(r"ART-006\s+critical\s+aws\.iam\.role\s+AWSServiceRoleForArtifact trusts only", out)
    assert "artifact 1.0.0 (14 rules; artifact)" in out
    assert "organizations 1.0.0 (23 rules; every integration)" in out


def test_rules_facts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "facts", "aws.iam.role")
    assert code == 0 and "trust.integrations.<integration>.pinned: boolean" in out
    assert run(capsys, "rules", "facts", "aws.nope")[0] == 2


def test_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_snapshot(tmp_path, HEALTHY)
    with pytest.raises(SystemExit) as caught:
        main(["scan", "--snapshot", str(path), "--format", "pdf"])
    assert caught.value.code == 2
    assert "unknown format" in capsys.readouterr().err


def test_collect_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = write_snapshot(tmp_path, HEALTHY)
    before = existing.read_bytes()
    code, _, err = run(capsys, "collect", "-o", str(existing))
    assert code == 2 and "is never overwritten" in err
    assert existing.read_bytes() == before


def _without_a_reader(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command with its stdout a pipe whose reader is gone before the first byte (`... | head -0`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "scanner", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


def test_a_reader_that_goes_away_is_not_an_internal_error() -> None:
    done = _without_a_reader("rules", "list")
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_a_scan_whose_reader_goes_away_keeps_its_verdict_and_its_reports(tmp_path: Path) -> None:
    """`artifact-scan scan | head`: a findings exit code must never turn into a clean one."""
    path = write_snapshot(tmp_path, HIGH_FINDING)
    done = _without_a_reader("scan", "--snapshot", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert (tmp_path / "out" / "results.json").is_file() and (tmp_path / "out" / "report.html").is_file()


def test_rules_validate_checks_extra_rules_against_the_builtin_pack_as_scan_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    builtin = (Path(__file__).parents[1] / "rules" / "artifact" / "ART-001.yaml").read_text()
    (pack / "ART-001.yaml").write_text(builtin)
    code, _, err = run(capsys, "rules", "validate", str(pack))
    assert code == 2 and "duplicate rule id 'ART-001'" in err  # what `scan --rules` would say
    code, out, _ = run(capsys, "rules", "validate", "--no-builtin-rules", str(pack))
    assert code == 0 and "ok: 1 rule valid in 1 pack(s): pack" in out


def test_the_command_says_when_results_sarif_leaves_findings_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.report import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 0)  # as 25,000 is to a larger organization
    code, _, err = scan(tmp_path, capsys, HIGH_FINDING)
    assert code == 1
    # the planted high finding, and any finding of lower severity the healthy organization has for other packs
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    findings = sum(1 for r in written["results"] if r["status"] == "fail")
    assert findings >= 1
    assert f"warning: results.sarif leaves out the {findings} least severe findings" in err
    assert "results.json has them all" in err
    monkeypatch.setattr(sarif, "MAX_RESULTS", 25_000)
    _, _, err = run(capsys, "scan", "--snapshot", str(tmp_path / "snapshot.json"), "--out", str(tmp_path / "again"))
    assert "leaves out" not in err
