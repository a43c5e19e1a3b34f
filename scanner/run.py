"""One scan from start to finish: collect (or load a snapshot), evaluate, write the run's files.

The CLI builds the inputs and turns the outcome into an exit code; this module holds the order of the
steps so that `scan`, `collect` and `demo` cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scanner import snapshot as snapshots
from scanner.config import Config
from scanner.evaluate import evaluate
from scanner.evaluate.resources import ACCOUNT, build_inventory
from scanner.baseline import Baseline, apply_baseline
from scanner.errors import ScanInterrupted, ScannerError
from scanner.model import RuleSet, ScanResult, Severity, Snapshot, Status, Suppression
from scanner.output import RunFolder, new_run_id
from scanner.report import WRITERS
from scanner.suppressions import apply_suppressions

if TYPE_CHECKING:  # the collector imports boto3; only the runs that collect need it
    import boto3

    from scanner.merge import Shard

Progress = Callable[[int, int], None]

# What a run folder holds besides the reports: its inputs as used.
SNAPSHOT_FILE = "snapshot.json"
SETTINGS_FILE = "settings.json"  # the effective configuration, secrets removed
RULES_DIR = "rules"  # rules/<pack id>/<file>, the rule files' exact bytes
SUPPRESSIONS_FILE = "suppressions.yaml"


class ExitCode(enum.IntEnum):
    OK = 0  # scan complete, nothing at or above --fail-on
    FINDINGS = 1  # scan complete, failing findings at or above --fail-on
    USAGE = 2  # bad arguments, config, rules or credentials; nothing was scanned
    INCOMPLETE = 3  # some account or API could not be read; reports are still written


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
    return RunInterrupted(partial, write(snapshot_bytes(partial)))


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

    return collect(config, rules_sha256=ruleset.sha256, session=session, progress=progress, shard=shard)


def snapshot_bytes(snapshot: Snapshot) -> bytes:
    """The snapshot with the derived facts of the organization and roles, for people reading it."""
    inventory = build_inventory(snapshot)
    facts: dict[str, Any] = {
        kind: [{"arn": r.arn, "account_id": r.account_id, "facts": r.facts, "unknown": r.unknown} for r in resources]
        for kind, resources in inventory.resources.items()
        if kind != ACCOUNT
    }
    return snapshots.dumps(snapshot, facts=facts)


def write_run(
    scan: ScanResult,
    *,
    run_dir: Path,
    formats: Sequence[str],
    inputs: Mapping[str, bytes],
    gate: Gate,
    folder: RunFolder | None = None,
) -> RunOutcome:
    """Render every report first, then write them all into a staging folder renamed into place at the
    end (scanner.output.RunFolder): a writer, a full disk or an interrupt leaves no half-written run.

    `inputs` are the run's inputs as used (snapshot, rules, settings, suppressions), kept beside the
    reports so that the run folder alone can be re-evaluated and exported as evidence."""
    rendered = {WRITERS[name].filename: WRITERS[name].render(scan) for name in formats}
    rendered.update(inputs)
    with folder or RunFolder(run_dir) as staged:
        files = [staged.write(filename, data) for filename, data in sorted(rendered.items())]
        staged.commit()
    return RunOutcome(scan, run_dir, tuple(files), exit_code(scan, gate))


def scan(
    config: Config,
    ruleset: RuleSet,
    *,
    out_dir: Path | None,
    formats: Sequence[str],
    gate: Gate,
    snapshot_path: Path | None = None,
    suppressions: Sequence[Suppression] = (),
    suppressions_data: bytes | None = None,
    baseline: Baseline | None = None,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utc_now,
    shard: Shard | None = None,
    paper: Literal["A4", "Letter"] = "A4",
) -> RunOutcome:
    """Collect (or load `snapshot_path`; only `shard` of the accounts when given), evaluate, apply
    suppressions and the baseline, and write `out_dir` (default reports/<run-id>/).

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
            snapshot = snapshots.loads(snapshot_data, str(snapshot_path))
        else:
            try:
                snapshot = collect_snapshot(config, ruleset, session=session, progress=progress, shard=shard)
            except ScanInterrupted as interrupted:

                def keep(data: bytes) -> Path:
                    path = folder.write(SNAPSHOT_FILE, data)
                    folder.commit()
                    return path

                raise keep_interrupted(interrupted, keep) from None
            snapshot_data = snapshot_bytes(snapshot)
        inputs = {
            SNAPSHOT_FILE: snapshot_data,
            SETTINGS_FILE: config.public_json(),
            **{f"{RULES_DIR}/{name}": data for name, data in ruleset.files},
        }
        if suppressions_data is not None:
            inputs[SUPPRESSIONS_FILE] = suppressions_data
        evaluated_at = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        result = evaluate(ruleset, snapshot, run_id=run_id, evaluated_at=evaluated_at)
        # Expiry is judged on the UTC date the run started, the same for every result of the run.
        result = apply_suppressions(result, suppressions, today=started.date())
        if baseline is not None:
            result = apply_baseline(result, baseline)
        result = replace(result, paper=paper)
        return write_run(result, run_dir=run_dir, formats=formats, inputs=inputs, gate=gate, folder=folder)
