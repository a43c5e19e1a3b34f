"""Writing a run's files: one folder per run, never reused, every file written atomically."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

from scanner.errors import OutputError


def new_run_id(started: datetime) -> str:
    """Sortable by time; the random suffix keeps two runs in the same second apart."""
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def create_run_dir(path: Path) -> Path:
    """Create the run's folder; an existing non-empty folder is another run's and is never reused."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the output folder: {exc.strerror}") from None
    if any(path.iterdir()):
        raise OutputError(
            f"{path}: the output folder is not empty; a run never overwrites another run's files",
            hint="choose a new folder with --out, or leave --out unset for reports/<run-id>/",
        )
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: a crash never leaves half a file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
