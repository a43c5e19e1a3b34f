"""Writing a run's files: one folder per run, never reused, every file written atomically.

A run is written into a hidden staging folder beside its own (`.<name>.<random>.partial`) and renamed
into place only once every file is there, so a run folder that exists is a whole run: a full disk, a
permission error, a crash or an interrupt leaves no half-written file and no half-populated folder (the
staging folder is removed, or after a hard kill stays hidden and named `.partial`).

A rename cannot cross file systems, so the staging folder is always made on the destination's: beside
it when it does not exist yet (it will be made in its parent, on the parent's file system), and inside it
when it is an existing empty folder that is a mount point (`--out /mnt/volume`, a container's volume): then
the run's files are renamed out of the staging folder into the destination when every one is there. A
mount point no check recognises (a bind mount of the same file system) fails the rename with EXDEV at the
end; the staged files are then copied into a staging folder inside the destination and moved from there,
so a long scan is never lost to where its folder is mounted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from types import TracebackType

from scanner.errors import OutputError

_NOT_WRITTEN_HINT = "nothing of this run was written; free some space, or choose a folder you can write with --out"


def new_run_id(started: datetime) -> str:
    """Sortable by time; the random suffix keeps two runs in the same second apart."""
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: a crash never leaves half a file."""
    try:
        _write_atomic(path, data)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {_strerror(exc)}") from None



def write_new(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write atomically (write_atomic) to a staging name, then hard-link it into place: the link fails
    when `path` exists, so an existing file (evidence, a key) is never replaced, even by a racing writer."""
    if path.exists() or path.is_symlink():
        raise OutputError(f"{path}: exists; evidence is never overwritten", hint="choose another file with -o")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create the folder: {exc.strerror or exc}") from None
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    write_atomic(staging, data)
    try:
        if mode is not None:
            os.chmod(staging, mode)
        try:
            os.link(staging, path)
        except FileExistsError:
            raise OutputError(f"{path}: exists; evidence is never overwritten") from None
        except OSError:  # a file system without hard links: check, then rename (a tiny race remains)
            if path.exists():
                raise OutputError(f"{path}: exists; evidence is never overwritten") from None
            os.rename(staging, path)
    finally:
        staging.unlink(missing_ok=True)

def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:  # a full disk, or an interrupt: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


class RunFolder:
    """A run's folder, written in a hidden staging folder beside it and renamed into place at `commit()`.

    `open()` checks the destination (new, or an empty folder: never another run's) and that its parent
    can be written before any work is done. Used as a context manager, anything that escapes (an error,
    KeyboardInterrupt) discards the staging folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.staging: Path | None = None
        self._inside = False  # staging inside the destination (a mount point) rather than beside it
        self._created: list[Path] = []  # parent folders open() made, removed again by discard() if empty

    def __enter__(self) -> RunFolder:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()

    def open(self) -> RunFolder:
        if self.staging is not None:
            return self
        self._check_destination()
        missing = [folder for folder in (self.path.parent, *self.path.parent.parents) if not folder.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._created = missing
            self._inside = self.path.is_dir() and _is_mount_point(self.path)
            staging = tempfile.mkdtemp(
                dir=self.path if self._inside else self.path.parent, prefix=f".{self.path.name}.", suffix=".partial"
            )
        except OSError as exc:
            raise OutputError(
                f"{self.path}: cannot create the output folder: {_strerror(exc)}", hint=_NOT_WRITTEN_HINT
            ) from None
        self.staging = Path(staging)
        return self

    def _check_destination(self) -> None:
        path = self.path
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise OutputError(f"{path}: exists and is not a folder")
        try:
            occupied = path.is_dir() and any(entry != self.staging for entry in path.iterdir())
        except OSError as exc:
            raise OutputError(f"{path}: cannot read the output folder: {_strerror(exc)}") from None
        if occupied:
            raise OutputError(
                f"{path}: the output folder is not empty; a run never overwrites another run's files",
                hint="choose a new folder with --out, or leave --out unset for reports/<run-id>/",
            )

    def write(self, relative: str, data: bytes) -> Path:
        """Write one file (a path relative to the run folder) into the staging folder; returns its final path."""
        staging = self.open().staging
        assert staging is not None
        target = staging / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, data)
        except OSError as exc:
            raise OutputError(
                f"{self.path / relative}: cannot write: {_strerror(exc)}", hint=_NOT_WRITTEN_HINT
            ) from None
        return self.path / relative

    def commit(self) -> Path:
        """Rename the staging folder into place; the destination must still be missing or empty."""
        staging = self.open().staging
        assert staging is not None
        try:
            self._check_destination()
            if self._inside:
                self._move_into_existing(staging)
            else:
                try:
                    os.rename(staging, self.path)  # atomic; replaces an empty folder on POSIX, never a full one
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise OutputError(
                            f"{self.path}: another run wrote into this folder meanwhile; a run never overwrites "
                            "another run's files"
                        ) from None
                    if not self.path.is_dir():
                        raise
                    # An empty folder that cannot be replaced: a mount point. EXDEV: on another file system.
                    if exc.errno == errno.EXDEV:
                        staging = self._copy_inside(staging)
                    self._move_into_existing(staging)
        except OSError as exc:
            self.discard()
            raise OutputError(
                f"{self.path}: cannot move the run into place: {_strerror(exc)}", hint=_NOT_WRITTEN_HINT
            ) from None
        except OutputError:
            self.discard()
            raise
        self.staging = None
        self._created = []
        _sync_folder(self.path)
        _sync_folder(self.path.parent)
        return self.path

    def _copy_inside(self, staging: Path) -> Path:
        """Copy the staged run into a new staging folder inside the destination (on its file system), durably;
        the old staging folder is removed. Returns the new one."""
        inside = Path(tempfile.mkdtemp(dir=self.path, prefix=f".{self.path.name}.", suffix=".partial"))
        self.staging = inside  # discard() removes this one on failure; the old one is removed here
        try:
            for source in sorted(staging.rglob("*")):
                target = inside / source.relative_to(staging)
                if source.is_dir():
                    target.mkdir(exist_ok=True)
                else:
                    _write_atomic(target, source.read_bytes())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._inside = True
        return inside

    def _move_into_existing(self, staging: Path) -> None:
        """Entry by entry into an empty folder that cannot be replaced; undone if any move fails."""
        moved: list[Path] = []
        try:
            for entry in sorted(staging.iterdir()):
                os.rename(entry, self.path / entry.name)
                moved.append(self.path / entry.name)
        except OSError:
            for path in moved:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
        staging.rmdir()

    def discard(self) -> None:
        """Remove the staging folder and everything in it, and the parent folders open() created if they are
        empty again (a `reports/` made for a run that wrote nothing): nothing of the run is kept."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        for folder in self._created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (another run's files), or not ours to remove
        self._created = []


def _is_mount_point(folder: Path) -> bool:
    """A folder on another file system than its parent (os.path.ismount compares the devices)."""
    try:
        return os.path.ismount(folder)
    except OSError:
        return False


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
