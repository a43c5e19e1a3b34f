"""One scan from start to finish: collect (or load a snapshot), evaluate, write the run's files.

The CLI builds the inputs and turns the outcome into an exit code; this module holds the order of the
steps so that `scan`, `collect` and `demo` cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from scanner import snapshot as snapshots
from scanner.baseline import apply_baseline, parse_baseline
from scanner.config import Config, IntegrationPolicy, OthersPolicy, integration_policy_problems
from scanner.errors import ExitCode, RuleError, ScanInterrupted, ScannerError
from scanner.evaluate import evaluate
from scanner.evaluate.resources import ACCOUNT, build_inventory
from scanner.model import SEVERITY_LABELS, Paper, RuleSet, ScanResult, Severity, Snapshot, Status, Suppression
from scanner.output import RunFolder, new_run_id
from scanner.report import WRITERS
from scanner.rules import load_rules
from scanner.suppressions import apply_suppressions, parse_suppressions
from scanner.yamlfile import format_json_path

if TYPE_CHECKING:  # the collector imports boto3; only the runs that collect need it
    import boto3

    from scanner.shard import Shard

Progress = Callable[[int, int], None]

# What a run folder holds besides the reports: its inputs as used.
SNAPSHOT_FILE = "snapshot.json"
SETTINGS_FILE = "settings.json"  # the effective configuration, secrets removed
RULES_DIR = "rules"  # rules/<pack id>/<file>, the rule files' exact bytes
SUPPRESSIONS_FILE = "suppressions.yaml"
BASELINE_FILE = "baseline.json"  # the --baseline results.json's bytes, when one was given
PAPERS: tuple[Paper, ...] = ("A4", "Letter")
RUN_SETTINGS = "run"  # settings.json's key for the run's id and evaluation time


@dataclass(frozen=True)
class Gate:
    """What makes a run fail a CI gate: findings at or above `fail_on`, or only new ones of them."""

    fail_on: Severity = Severity.HIGH
    only_new: bool = False


def exit_code(scan: ScanResult, gate: Gate) -> ExitCode:
    """Incomplete outranks findings: a verdict on partial data must never look final."""
    if not scan.info.complete or any(r.status is Status.ERROR for r in scan.results):
        return ExitCode.INCOMPLETE
    failing = (r for r in scan.results if r.status is Status.FAIL and r.severity >= gate.fail_on)
    if any(not gate.only_new or r.baseline != "unchanged" for r in failing):
        return ExitCode.FINDINGS
    return ExitCode.OK


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class RunInterrupted(ScanInterrupted):
    """A scan stopped by SIGINT or SIGTERM whose partial snapshot was kept at `snapshot_path`, marked
    interrupted and incomplete. No report was written: none may look like a complete scan."""

    def __init__(self, snapshot: Snapshot, snapshot_path: Path) -> None:
        read = sum(1 for account in snapshot.accounts if account.scanned)
        ScannerError.__init__(
            self,
            f"interrupted: the scan was stopped before every account was read; what was read ({read} "
            f"account{'s' if read != 1 else ''}) is in {snapshot_path}, marked interrupted and incomplete; "
            "no report was written",
            hint=f"evaluate it with `artifact-scan scan --snapshot {snapshot_path}` (every report will say "
            "incomplete), or run the scan again",
        )
        self.snapshot = snapshot
        self.snapshot_path = snapshot_path


def keep_interrupted(interrupted: ScanInterrupted, write: Callable[[bytes], Path]) -> ScanInterrupted:
    """Write the partial snapshot an interrupted collection carries with `write` (bytes in, path out) and
    return the error to raise: a RunInterrupted naming the file, or `interrupted` when it carries none."""
    partial = interrupted.snapshot
    if not isinstance(partial, Snapshot):
        return interrupted
    # Whatever the collector set, a snapshot cut short is never complete.
    partial = replace(partial, metadata=replace(partial.metadata, complete=False, interrupted=True))
    return RunInterrupted(partial, write(snapshots.dumps(partial)))


@dataclass(frozen=True)
class RunOutcome:
    scan: ScanResult
    run_dir: Path
    files: tuple[Path, ...]
    exit_code: ExitCode


def collect_snapshot(
    config: Config,
    ruleset: RuleSet,
    *,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    shard: Shard | None = None,
) -> Snapshot:
    from scanner.collect import collect  # noqa: PLC0415 - keeps boto3 out of offline runs

    return collect(config, rules_sha256=ruleset.sha256, session=session, progress=progress, shard=shard,
                   integrations=ruleset.integrations, dedicated=ruleset.dedicated)


def snapshot_facts(snapshot: Snapshot) -> dict[str, Any]:
    """The facts the raw answers give for the organization and roles: what a snapshot written by an earlier
    version stored under `facts` for people, and what `evidence verify` checks such a block against."""
    inventory = build_inventory(snapshot)
    return {
        kind: [{"arn": r.arn, "account_id": r.account_id, "facts": r.facts, "unknown": r.unknown} for r in resources]
        for kind, resources in inventory.resources.items()
        if kind != ACCOUNT
    }


class DerivationError(ScannerError):
    """A run's inputs (snapshot, rules, settings, suppressions, baseline) do not make a run."""


@dataclass(frozen=True)
class Derived:
    """Everything a run's inputs determine: the results, and each report's bytes by its file name."""

    scan: ScanResult
    reports: Mapping[str, bytes]


@dataclass(frozen=True)
class _Settings:
    run_id: str
    evaluated_at: str
    paper: Paper
    disabled: tuple[str, ...]
    severity_overrides: Mapping[str, Severity]
    integrations: IntegrationPolicy


_EVALUATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def settings_bytes(config: Config, *, run_id: str, evaluated_at: str, paper: Paper = "A4") -> bytes:
    """settings.json: the effective configuration without secrets, and under `run` the run's id, the
    time it was evaluated and the printout's paper, so that the reports follow from the run folder alone,
    never from a clock or the locale."""
    settings = config.public_settings()
    settings[RUN_SETTINGS] = {"run_id": run_id, "evaluated_at": evaluated_at, "paper": paper}
    return (json.dumps(settings, sort_keys=True, indent=2) + "\n").encode()


def is_input(name: str) -> bool:
    """A run folder member that is one of the run's inputs (the rest are reports derived from them)."""
    return name in (SNAPSHOT_FILE, SETTINGS_FILE, SUPPRESSIONS_FILE, BASELINE_FILE) or (
        name.startswith(RULES_DIR + "/") and name.count("/") == 2
    )


def derive(inputs: Mapping[str, bytes], formats: Sequence[str], *, snapshot_source: str = SNAPSHOT_FILE) -> Derived:
    """The one pipeline from a run's inputs to its reports, used by `scan`, `scan --snapshot`, `demo` and
    `evidence verify`: parse the snapshot, the settings and the rule files as stored in the run folder,
    evaluate, apply the suppressions and the baseline, and render `formats`. Nothing here reads a clock or
    the disk outside a temporary copy of the rules, so the same inputs always give the same bytes.
    Raises ScannerError subclasses (DerivationError, SnapshotError, RuleError, ...) naming the input."""
    unknown = sorted(name for name in inputs if not is_input(name))
    if unknown:
        raise DerivationError(f"{unknown[0]}: not an input of a run")
    if SNAPSHOT_FILE not in inputs:
        raise DerivationError(f"{SNAPSHOT_FILE} is missing")
    snapshot = snapshots.loads(inputs[SNAPSHOT_FILE], snapshot_source)
    settings = _settings(inputs)
    ruleset = _ruleset(inputs, settings)
    suppressions: tuple[Suppression, ...] = ()
    if SUPPRESSIONS_FILE in inputs:
        suppressions = parse_suppressions(inputs[SUPPRESSIONS_FILE], SUPPRESSIONS_FILE)
    result = evaluate(ruleset, snapshot, run_id=settings.run_id, evaluated_at=settings.evaluated_at,
                      policy=settings.integrations)
    # Expiry is judged on the UTC date of the evaluation, the same for every result of the run.
    result = apply_suppressions(result, suppressions, today=date.fromisoformat(settings.evaluated_at[:10]))
    if BASELINE_FILE in inputs:
        result = apply_baseline(result, parse_baseline(inputs[BASELINE_FILE], BASELINE_FILE))
    result = replace(result, paper=settings.paper)
    unknown = [name for name in formats if name not in WRITERS]
    if unknown:
        raise DerivationError(f"unknown report format {unknown[0]!r}")
    reports = {WRITERS[name].filename: WRITERS[name].render(result) for name in formats}
    return Derived(result, reports)


def _settings(inputs: Mapping[str, bytes]) -> _Settings:
    def bad(where: str, expected: str, found: Any) -> DerivationError:
        shown = type(found).__name__ if not isinstance(found, (str, int, float, bool)) else repr(found)[:40]
        return DerivationError(f"{SETTINGS_FILE}: {where}: expected {expected}, found {shown}")

    if SETTINGS_FILE not in inputs:
        raise DerivationError(f"{SETTINGS_FILE} is missing")
    try:
        document = json.loads(inputs[SETTINGS_FILE])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DerivationError(f"{SETTINGS_FILE}: not JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise bad("$", "an object", document)
    run = document.get(RUN_SETTINGS)
    if not isinstance(run, dict):
        raise bad(f"$.{RUN_SETTINGS}", "an object with run_id and evaluated_at", run)
    run_id, evaluated_at = run.get("run_id"), run.get("evaluated_at")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise bad(f"$.{RUN_SETTINGS}.run_id", "a run id", run_id)
    if not isinstance(evaluated_at, str) or not _EVALUATED_AT.match(evaluated_at):
        raise bad(f"$.{RUN_SETTINGS}.evaluated_at", "a UTC time like 2026-01-31T12:00:00Z", evaluated_at)
    try:
        datetime.strptime(evaluated_at, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise bad(f"$.{RUN_SETTINGS}.evaluated_at", "a valid UTC time", evaluated_at) from None
    rules = document.get("rules", {})
    if not isinstance(rules, dict):
        raise bad("$.rules", "an object", rules)
    disabled = rules.get("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(item, str) for item in disabled):
        raise bad("$.rules.disabled", "a list of rule ids", disabled)
    overrides = rules.get("severity_overrides", {})
    if not isinstance(overrides, dict) or not all(label in SEVERITY_LABELS for label in overrides.values()):
        raise bad("$.rules.severity_overrides", f"rule ids mapped to one of {', '.join(SEVERITY_LABELS)}", overrides)
    paper = run.get("paper", "A4")
    if paper not in PAPERS:
        raise bad(f"$.{RUN_SETTINGS}.paper", f"one of {', '.join(PAPERS)}", paper)
    return _Settings(
        run_id,
        evaluated_at,
        paper,
        tuple(disabled),
        {rule: Severity.parse(label) for rule, label in overrides.items()},
        _integration_settings(document.get("integrations", {}), bad),
    )


_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


def _integration_settings(section: Any, bad: Callable[[str, str, Any], DerivationError]) -> IntegrationPolicy:
    """`$.integrations` as the config recorded it (absent in runs made before the section existed)."""
    if not isinstance(section, dict):
        raise bad("$.integrations", "an object", section)
    lists = {}
    for key in ("require", "forbid"):
        value = section.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise bad(f"$.integrations.{key}", "a list of integration ids", value)
        lists[key] = tuple(value)
    others = section.get("others", "allow")
    if others not in get_args(OthersPolicy):
        raise bad("$.integrations.others", f"one of {', '.join(get_args(OthersPolicy))}", others)
    admins = section.get("delegated_administrators", {})
    if not isinstance(admins, dict) or not all(
        isinstance(account, str) and _ACCOUNT_ID.match(account) for account in admins.values()
    ):
        raise bad("$.integrations.delegated_administrators", "integration ids mapped to 12-digit account ids", admins)
    policy = IntegrationPolicy(lists["require"], lists["forbid"], others, dict(admins))
    problems = integration_policy_problems(policy)
    if problems:
        at, text = problems[0]
        raise DerivationError(f"{SETTINGS_FILE}: {format_json_path(at)}: {text}")
    return policy


def _ruleset(inputs: Mapping[str, bytes], settings: _Settings) -> RuleSet:
    """The rules as the run folder holds them (rules/<pack id>/<file>), loaded by the one rule loader from a
    temporary copy; each rule's source is its path in the run folder, wherever it was loaded from first."""
    files = sorted((name, data) for name, data in inputs.items() if name.startswith(RULES_DIR + "/"))
    if not files:
        raise DerivationError(f"{RULES_DIR}/ holds no rule file")
    with tempfile.TemporaryDirectory(prefix="artifact-scan-rules-") as tmp:
        root = Path(tmp)
        packs: set[Path] = set()
        for name, data in files:
            parts = name.split("/")
            if len(parts) != 3 or any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
                raise DerivationError(f"{name}: not a {RULES_DIR}/<pack>/<file> path")
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            packs.add(target.parent)
        try:
            loaded = load_rules(
                sorted(packs),
                builtin=False,
                disabled=settings.disabled,
                severity_overrides=settings.severity_overrides,
                config_source=SETTINGS_FILE,
            )
        except RuleError as exc:  # named by their path in the run folder, not the temporary copy
            raise RuleError([problem.replace(str(root) + os.sep, "") for problem in exc.problems]) from None

        unread = sorted({name for name, _ in files} - {f"{RULES_DIR}/{name}" for name, _ in loaded.files})
        if unread:  # every byte of the rules must count: a file the loader skips is not an input
            raise DerivationError(f"{unread[0]}: not a file the rule loader reads (rules/<pack>/*.yaml)")

        def relative(source: str) -> str:
            path = Path(source)
            return path.relative_to(root).as_posix() if path.is_relative_to(root) else source

        return replace(
            loaded,
            packs=tuple(
                replace(pack, rules=tuple(replace(rule, source=relative(rule.source)) for rule in pack.rules))
                for pack in loaded.packs
            ),
        )


def write_run(
    derived: Derived,
    *,
    run_dir: Path,
    inputs: Mapping[str, bytes],
    gate: Gate,
    folder: RunFolder | None = None,
) -> RunOutcome:
    """Write the reports and the inputs they were derived from into a staging folder renamed into place at
    the end (scanner.output.RunFolder): a writer, a full disk or an interrupt leaves no half-written run.

    The inputs are kept beside the reports so that the run folder alone gives the reports again
    (derive()), which is what `evidence verify` checks."""
    rendered = {**derived.reports, **inputs}
    with folder or RunFolder(run_dir) as staged:
        files = [staged.write(filename, data) for filename, data in sorted(rendered.items())]
        staged.commit()
    return RunOutcome(derived.scan, run_dir, tuple(files), exit_code(derived.scan, gate))


def scan(
    config: Config,
    ruleset: RuleSet,
    *,
    out_dir: Path | None,
    formats: Sequence[str],
    gate: Gate,
    snapshot_path: Path | None = None,
    suppressions_data: bytes | None = None,
    baseline_data: bytes | None = None,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utc_now,
    shard: Shard | None = None,
    paper: Paper = "A4",
) -> RunOutcome:
    """Collect (or load `snapshot_path`; only `shard` of the accounts when given), then derive() the reports
    from the run's inputs (snapshot, rules, settings, the suppressions file's and the baseline's bytes)
    and write them with the inputs to `out_dir` (default reports/<run-id>/).

    The output folder is checked (new or empty, its parent writable) before anything is read. An
    interrupted collection (ScanInterrupted) keeps only the partial snapshot in the run folder and raises
    RunInterrupted: no report is written, so none can claim a complete scan."""
    started = clock()
    run_id = new_run_id(started)
    run_dir = out_dir if out_dir is not None else Path(config.output.dir) / run_id
    with RunFolder(run_dir) as folder:
        if snapshot_path is not None:
            # The run folder keeps the snapshot's exact bytes: evidence is copied, never re-serialised.
            snapshot_data = snapshots.read_bytes(snapshot_path)
        else:
            try:
                snapshot = collect_snapshot(config, ruleset, session=session, progress=progress, shard=shard)
            except ScanInterrupted as interrupted:

                def keep(data: bytes) -> Path:
                    path = folder.write(SNAPSHOT_FILE, data)
                    folder.commit()
                    return path

                raise keep_interrupted(interrupted, keep) from None
            snapshot_data = snapshots.dumps(snapshot)
        inputs = {
            SNAPSHOT_FILE: snapshot_data,
            SETTINGS_FILE: settings_bytes(
                config, run_id=run_id, evaluated_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"), paper=paper
            ),
            **{f"{RULES_DIR}/{name}": data for name, data in ruleset.files},
        }
        if suppressions_data is not None:
            inputs[SUPPRESSIONS_FILE] = suppressions_data
        if baseline_data is not None:
            inputs[BASELINE_FILE] = baseline_data
        derived = derive(inputs, formats, snapshot_source=str(snapshot_path or SNAPSHOT_FILE))
        return write_run(derived, run_dir=run_dir, inputs=inputs, gate=gate, folder=folder)
