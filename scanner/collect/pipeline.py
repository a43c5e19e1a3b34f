"""The collect stage as `scan` and `collect` call it: read what a rule set needs into a snapshot, and when
the collection is interrupted, keep what was read.

Its own module so that collecting and saving a snapshot import no evaluation: `artifact-scan collect`
loads neither scanner.run, scanner.evaluate nor scanner.report (tests/test_architecture.py checks it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner import snapshot as snapshots
from scanner.collect import collect
from scanner.errors import ScanInterrupted, ScannerError
from scanner.model import Snapshot

if TYPE_CHECKING:
    import boto3

    from scanner.config import Config
    from scanner.model import RuleSet
    from scanner.snapshot.shard import Shard

Progress = Callable[[int, int], None]


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


def collect_snapshot(
    config: Config,
    ruleset: RuleSet,
    *,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    shard: Shard | None = None,
) -> Snapshot:
    """Read what the loaded rules need (their integrations), recording their hash in the snapshot."""
    return collect(config, rules_sha256=ruleset.sha256, session=session, progress=progress, shard=shard,
                   integrations=ruleset.integrations, dedicated=ruleset.dedicated)
