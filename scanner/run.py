"""One scan from start to finish: collect (or load a snapshot), evaluate, write the run's files.

The CLI builds the inputs and turns the outcome into an exit code; this module holds the order of the
steps so that `scan`, `collect` and `demo` cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import snapshot as snapshots
from scanner.config import Config
from scanner.evaluate import evaluate
from scanner.evaluate.resources import ACCOUNT, build_inventory
from scanner.baseline import Baseline, apply_baseline
from scanner.model import RuleSet, ScanResult, Severity, Snapshot, Status, Suppression
from scanner.output import create_run_dir, new_run_id, write_atomic
from scanner.report import WRITERS
from scanner.suppressions import apply_suppressions

if TYPE_CHECKING:  # the collector imports boto3; only the runs that collect need it
    import boto3

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
) -> Snapshot:
    from scanner.collect import collect  # noqa: PLC0415 - keeps boto3 out of offline runs

    return collect(config, rules_sha256=ruleset.sha256, session=session, progress=progress)


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
) -> RunOutcome:
    """Render every report first, then write: a writer that fails leaves no half-written run behind.

    `inputs` are the run's inputs as used (snapshot, rules, settings, suppressions), kept beside the
    reports so that the run folder alone can be re-evaluated and exported as evidence."""
    rendered = {WRITERS[name].filename: WRITERS[name].render(scan) for name in formats}
    rendered.update(inputs)
    create_run_dir(run_dir)
    files = []
    for filename, data in sorted(rendered.items()):
        path = run_dir / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        files.append(path)
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
) -> RunOutcome:
    """Collect (or load `snapshot_path`), evaluate, apply suppressions and the baseline, and write
    `out_dir` (default reports/<run-id>/)."""
    started = clock()
    run_id = new_run_id(started)
    if snapshot_path is not None:
        # The run folder keeps the snapshot's exact bytes: evidence is copied, never re-serialised.
        snapshot_data = snapshots.read_bytes(snapshot_path)
        snapshot = snapshots.loads(snapshot_data, str(snapshot_path))
    else:
        snapshot = collect_snapshot(config, ruleset, session=session, progress=progress)
        snapshot_data = snapshot_bytes(snapshot)
    inputs = {
        SNAPSHOT_FILE: snapshot_data,
        SETTINGS_FILE: config.public_json(),
        **{f"{RULES_DIR}/{name}": data for name, data in ruleset.files},
    }
    if suppressions_data is not None:
        inputs[SUPPRESSIONS_FILE] = suppressions_data
    result = evaluate(ruleset, snapshot, run_id=run_id, evaluated_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Expiry is judged on the UTC date the run started, the same for every result of the run.
    result = apply_suppressions(result, suppressions, today=started.date())
    if baseline is not None:
        result = apply_baseline(result, baseline)
    run_dir = out_dir if out_dir is not None else Path(config.output.dir) / run_id
    return write_run(result, run_dir=run_dir, formats=formats, inputs=inputs, gate=gate)
