"""`snapshot merge`: the snapshots of a split scan's shards in, one snapshot out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scanner import terminal
from scanner.cli.common import expecting
from scanner.errors import ExitCode, SnapshotError


def merge(args: argparse.Namespace) -> ExitCode:
    """`snapshot merge`: shards in, one snapshot out (written only when every check passes)."""
    from scanner import snapshot as snapshots  # noqa: PLC0415
    from scanner.errors import OutputError  # noqa: PLC0415
    from scanner.output import write_atomic  # noqa: PLC0415
    from scanner.snapshot.merge import merge  # noqa: PLC0415

    if args.out.exists():
        raise OutputError(f"{args.out}: exists; a snapshot is evidence and is never overwritten",
                          hint="choose another file with -o")
    def load(path: Path) -> Any:
        with expecting("snapshot merge", path, "SNAPSHOT", SnapshotError):
            return snapshots.load(path)

    merged = merge([(str(path), load(path)) for path in args.snapshots])
    write_atomic(args.out, snapshots.dumps(merged))
    terminal.err(f"wrote {terminal.escape(args.out)} ({len(merged.accounts)} accounts from "
                 f"{len(args.snapshots)} shards)")
    return ExitCode.OK if snapshots.is_complete(merged) else ExitCode.INCOMPLETE
