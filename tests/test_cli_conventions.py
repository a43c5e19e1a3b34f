"""Command-line conventions a new user meets in the first hour, each through the real command
(`python -m scanner` in a child process): the version, the bare command, no abbreviations, close-match
suggestions, one spelling of the output option (the old one warns), `--out -` for pipelines, `--profile`,
a baseline of another organization, the wrong kind of file given to an option, and `rules validate`
reporting every problem of a file in one pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner import __version__
from scanner import snapshot as snapshots
from tests.test_rule_cases import ORG_ID, build_snapshot

ROOT = Path(__file__).resolve().parents[1]
HIGH_FINDING = {"remove_slr": True}
OTHER_ORG_ID = "o-otherorg222"


def command(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "scanner", *argv], capture_output=True, text=True, timeout=180, cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One of each of the tool's files: a snapshot, a run folder (results.json), a config, a suppressions
    file, a rule; and a snapshot of another organization."""
    root = tmp_path_factory.mktemp("files")
    snapshot = root / "snapshot.json"
    snapshot.write_bytes(snapshots.dumps(build_snapshot(HIGH_FINDING)))
    other = root / "other-org-snapshot.json"
    other.write_bytes(snapshot.read_bytes().replace(ORG_ID.encode(), OTHER_ORG_ID.encode()))
    assert snapshots.load(other).organization.description["Id"] == OTHER_ORG_ID
    done = command("scan", "--snapshot", str(snapshot), "--out", str(root / "run"), "-q")
    assert done.returncode == 1, done.stderr
    config = root / "config.yaml"
    config.write_bytes((ROOT / "config.example.yaml").read_bytes())
    suppressions = root / "suppressions.yaml"
    suppressions.write_bytes((ROOT / "suppressions.example.yaml").read_bytes())
    return {"snapshot": snapshot, "other": other, "results": root / "run" / "results.json", "run": root / "run",
            "config": config, "suppressions": suppressions, "rule": ROOT / "rules" / "artifact" / "ART-001.yaml",
            "root": root}


# ---------------------------------------------------------------------------------------------
# Parsing: version, bare command, no abbreviations, suggestions, short excerpts

LONG = "x" * 5000


@pytest.mark.parametrize(
    ("argv", "code", "stream", "fragments"),
    [
        (["-V"], 0, "stdout", [f"artifact-scan {__version__}"]),
        (["--version"], 0, "stdout", [f"artifact-scan {__version__}"]),
        ([], 2, "stdout", ["usage: artifact-scan [-h] [-V] COMMAND", "exit codes:", "artifact-scan demo"]),
        (["rules"], 2, "stdout", ["usage: artifact-scan rules", "validate", "facts"]),
        (["evidence"], 2, "stdout", ["usage: artifact-scan evidence", "verify"]),
        (["scna"], 2, "stderr", ["invalid choice 'scna'", "did you mean 'scan'?"]),
        (["rules", "valdate"], 2, "stderr", ["invalid choice 'valdate'", "did you mean 'validate'?"]),
        (["demo", "--scenario", "drifed"], 2, "stderr", ["did you mean 'drifted'?"]),
        (["scan", "--base", "x.json"], 2, "stderr", ["unrecognized arguments: --base x.json; did you mean '--baseline'?"]),
        (["scan", "--snap", "s.json"], 2, "stderr", ["unrecognized arguments: --snap", "did you mean '--snapshot'?"]),
        (["scan", "--fial-on=high"], 2, "stderr", ["did you mean '--fail-on'?"]),
        (["collect", "--format", "json"], 2, "stderr", ["--format is an option of: scan, demo"]),
        (["scan", "--format", "pdf"], 2, "stderr", ["unknown format pdf"]),
        (["scna" + LONG], 2, "stderr", ["invalid choice 'scna", "more characters]"]),
        (["scan", "--fail-on", LONG], 2, "stderr", ["unknown severity 'xxx", "more characters]"]),
        (["scan", "--nope" + LONG], 2, "stderr", ["unrecognized arguments: --nope", "more characters]"]),
    ],
    ids=lambda value: " ".join(value)[:30] if isinstance(value, list) else None,
)
def test_parsing_conventions(argv: list[str], code: int, stream: str, fragments: list[str]) -> None:
    done = command(*argv)
    text = getattr(done, stream)
    assert done.returncode == code, done.stderr
    for fragment in fragments:
        assert fragment in text, text
    assert all(len(line) < 400 for line in (done.stdout + done.stderr).splitlines()), "a value was quoted whole"


def test_format_is_case_insensitive(files: dict[str, Path], tmp_path: Path) -> None:
    done = command("scan", "--snapshot", str(files["snapshot"]), "--format", "JSON,Sarif", "-o", str(tmp_path / "r"), "-q")
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if p.suffix in (".json", ".sarif")) == [
        "results.json", "results.sarif", "settings.json", "snapshot.json"]


# ---------------------------------------------------------------------------------------------
# One spelling of the output option: -o/--out; the old --output still works and warns

DEPRECATED = "warning: --output is deprecated and will be removed; use -o/--out"


def test_the_old_output_spelling_of_evidence_export_works_and_warns(files: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar"
    done = command("evidence", "export", str(files["run"]), "--output", str(bundle))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == DEPRECATED and bundle.is_file()
    again = command("evidence", "export", str(files["run"]), "-o", str(tmp_path / "b2.tar"))
    assert again.returncode == 0 and "deprecated" not in again.stderr


@pytest.mark.parametrize("argv", [["collect"], ["snapshot", "merge", "SNAPSHOT"]], ids=["collect", "merge"])
def test_the_old_output_spelling_of_snapshot_commands_warns(files: dict[str, Path], argv: list[str]) -> None:
    existing = files["snapshot"]
    argv = [str(existing) if word == "SNAPSHOT" else word for word in argv]
    done = command(*argv, "--output", str(existing))
    assert done.returncode == 2 and DEPRECATED in done.stderr and "is never overwritten" in done.stderr
    assert "--output" not in command(*argv[:2], "--help").stdout.replace("-o FILE, --out FILE", "")


# ---------------------------------------------------------------------------------------------
# --out -: one format on stdout, the table and progress on stderr, the run folder at its default place


def test_out_dash_sends_one_format_to_stdout(files: dict[str, Path], tmp_path: Path) -> None:
    done = command("scan", "--snapshot", str(files["snapshot"]), "--format", "json", "--out", "-", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [run_dir] = (tmp_path / "reports").iterdir()
    assert done.stdout == (run_dir / "results.json").read_text()  # byte for byte the run folder's report
    assert json.loads(done.stdout)["run"]["run_id"] == run_dir.name
    assert "ART-004" in done.stderr and "total" in done.stderr  # the table
    assert f"wrote reports/{run_dir.name}/" in done.stderr


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["scan", "--snapshot", "SNAPSHOT", "--out", "-"],
         ["--out - sends exactly one report format to standard output; 3 were asked for", "hint: choose one"]),
        (["scan", "--snapshot", "SNAPSHOT", "--format", "json,sarif", "--out", "-"], ["2 were asked for"]),
        (["demo", "-o", "-"], ["--out - sends exactly one report format"]),
        (["scan", "--snapshot", "SNAPSHOT", "--evidence", "--format", "json", "--out", "-"],
         ["--evidence bundles the run folder and cannot go to standard output"]),
        (["collect", "-o", "-"], ["-o -: a snapshot is written to a file, not to standard output"]),
        (["evidence", "export", "RUN", "-o", "-"], ["-o -: an evidence bundle is written to a file"]),
    ],
    ids=["default-formats", "two-formats", "demo", "evidence", "collect", "evidence-export"],
)
def test_out_dash_is_refused_where_it_cannot_work(files: dict[str, Path], tmp_path: Path, argv: list[str],
                                                  fragments: list[str]) -> None:
    argv = [str(files["snapshot"]) if w == "SNAPSHOT" else str(files["run"]) if w == "RUN" else w for w in argv]
    done = command(*argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# --profile overrides management.profile and AWS_PROFILE


def test_profile_overrides_the_config_and_aws_profile(tmp_path: Path) -> None:
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile audit]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"
                          "region = us-east-1\n")
    config = tmp_path / "config.yaml"
    config.write_text("management:\n  profile: missing-from-config\n")
    env = {"AWS_CONFIG_FILE": str(aws_config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PROFILE": "ghost", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "",
           "AWS_SECRET_ACCESS_KEY": ""}
    # Without --profile, the config's profile is the one used (and it does not exist).
    without = command("collect", "--config", str(config), "-o", str(tmp_path / "s.json"), env=env)
    assert without.returncode == 2 and "'missing-from-config' does not exist" in without.stderr
    # With it, neither the config's nor AWS_PROFILE's: the run gets as far as the (closed) endpoint.
    done = command("collect", "--config", str(config), "--profile", "audit", "-o", str(tmp_path / "s.json"), env=env)
    assert done.returncode == 2
    assert "cannot connect to http://127.0.0.1:9/" in done.stderr, done.stderr
    assert "ghost" not in done.stderr and "missing-from-config" not in done.stderr
    typo = command("scan", "--profile", "audti", "-o", str(tmp_path / "r"), env=env)
    assert typo.returncode == 2
    assert "error: --profile: the AWS profile 'audti' does not exist" in typo.stderr
    assert "did you mean 'audit'?" in typo.stderr and not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------
# A baseline of another organization


def test_a_baseline_of_another_organization_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r"
    done = command("scan", "--snapshot", str(files["other"]), "--baseline", str(files["results"]), "-o", str(out))
    assert done.returncode == 2
    assert f"is a run of organization {ORG_ID}, and this run read organization {OTHER_ORG_ID}" in done.stderr
    assert not out.exists(), "nothing may be written for a refused baseline"


def test_a_baseline_of_the_same_organization_is_kept_and_its_evidence_verifies(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r"
    done = command("scan", "--snapshot", str(files["snapshot"]), "--baseline", str(files["results"]), "-o", str(out),
                   "--evidence", "-q")
    assert done.returncode == 1, done.stderr
    assert (out / "baseline.json").read_bytes() == files["results"].read_bytes()
    [bundle] = tmp_path.glob("evidence-*.tar")
    verified = command("evidence", "verify", str(bundle), "-q")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# ---------------------------------------------------------------------------------------------
# The wrong kind of file: the message says which option takes it

WRONG_FILES: list[tuple[str, Callable[[dict[str, Path]], list[str]], str]] = [
    ("results as --config", lambda f: ["scan", "--config", str(f["results"])],
     "this is an artifact-scan results.json, not a configuration file; it goes to --baseline"),
    ("suppressions as --config", lambda f: ["scan", "--config", str(f["suppressions"])],
     "this is a suppressions file, not a configuration file; it goes to --suppressions"),
    ("snapshot as --config", lambda f: ["collect", "--config", str(f["snapshot"])],
     "this is a snapshot, not a configuration file; it goes to `scan --snapshot`"),
    ("rule as --config", lambda f: ["rules", "list", "--config", str(f["rule"])],
     "this is a rule file, not a configuration file; it goes to --rules or `rules validate`"),
    ("results as --snapshot", lambda f: ["scan", "--snapshot", str(f["results"])],
     "this is an artifact-scan results.json, not a snapshot; it goes to --baseline"),
    ("snapshot as --baseline", lambda f: ["scan", "--snapshot", str(f["snapshot"]), "--baseline", str(f["snapshot"])],
     "this is a snapshot, not an artifact-scan results.json; it goes to `scan --snapshot`"),
    ("config as --suppressions", lambda f: ["scan", "--snapshot", str(f["snapshot"]), "--suppressions", str(f["config"])],
     "this is a configuration file, not a suppressions file; it goes to --config"),
    ("results to snapshot merge", lambda f: ["snapshot", "merge", str(f["results"]), "-o", str(f["root"] / "m.json")],
     "this is an artifact-scan results.json, not a snapshot; it goes to --baseline"),
    ("config to rules validate", lambda f: ["rules", "validate", str(f["config"])],
     "this is a configuration file, not a rule file; it goes to --config"),
]


@pytest.mark.parametrize(("name", "argv", "message"), WRONG_FILES, ids=[case[0] for case in WRONG_FILES])
def test_the_wrong_kind_of_file_names_the_option_that_takes_it(
    files: dict[str, Path], tmp_path: Path, name: str, argv: Callable[[dict[str, Path]], list[str]], message: str
) -> None:
    done = command(*argv(files), cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert "unknown key" not in done.stderr and "is required" not in done.stderr  # not the loader's complaint
    assert list(tmp_path.iterdir()) == [], "nothing may be written"


# ---------------------------------------------------------------------------------------------
# rules validate: every problem of a file in one pass


def test_rules_validate_reports_schema_fact_and_id_problems_in_one_pass(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "ART-001.yaml").write_text(  # no title (schema), an unknown fact, and a duplicate id
        "id: ART-001\nseverity: high\nresource: aws.iam.role\n"
        "expect:\n  properties:\n    trust:\n      properties:\n        no_such_fact: {const: true}\n"
    )
    (pack / "X-002.yaml").write_text("id: X-003\nresource: aws.nope\nexpect: {}\n")  # id vs name, unknown type
    done = command("rules", "validate", str(pack), cwd=tmp_path)
    assert done.returncode == 2
    for fragment in [
        "ART-001.yaml:1: $: 'title' is required but missing",
        "ART-001.yaml:4: $.expect: aws.iam.role has no fact 'trust.no_such_fact'",
        "ART-001.yaml: $.id: duplicate rule id 'ART-001' (also defined in rules/artifact/ART-001.yaml)",
        "X-002.yaml:1: $.id: the id 'X-003' differs from the file name 'X-002.yaml'",
        "X-002.yaml:2: $.resource: unknown resource type 'aws.nope'",
        "X-002.yaml:1: $: 'severity' is required but missing",
    ]:
        assert fragment in done.stderr, done.stderr
