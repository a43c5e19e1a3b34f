"""Reading the files a user names: regular files only, and never more than a limit per kind.

A path can name anything: a FIFO (reading waits forever for a writer), `/dev/zero` or `/dev/urandom`
(reading never ends and eats memory until MemoryError), a directory, a terminal, a file far larger than
any real input. Each is refused before a byte is read, with the file and the limit named (exit 2):

1. `os.stat` first: only a regular file goes on, and only if its size is within the limit;
2. `open` with O_NONBLOCK (a FIFO swapped in after the stat does not make open wait for a writer) and
   O_NOCTTY, then `fstat` the descriptor: still a regular file within the limit (what was checked is
   what is read);
3. read at most limit + 1 bytes: a file that grew past the limit meanwhile is refused, not read whole.

The limits (README, "Input limits") are generous for real input and far below what would hurt.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scanner.errors import ScannerError

MiB = 1024 * 1024
GiB = 1024 * MiB

# Hand-written YAML (config, rule files, pack.yaml, suppressions): a large one holds a few hundred lines.
MAX_YAML_BYTES = 1 * MiB
# Measured with bench/scale.py (10,000 accounts, 20 roles each): snapshot.json 5.7 MB, results.json 46 MB.
# The limits leave room for organizations far past AWS's default quota of 10,000 accounts, and stay where
# json.loads still fits in a machine's memory.
MAX_SNAPSHOT_BYTES = 256 * MiB  # 45 times the 10,000-account snapshot
MAX_BASELINE_BYTES = 512 * MiB  # a results.json: 11 times the 10,000-account one
# A PEM key is a few hundred bytes.
MAX_KEY_BYTES = 64 * 1024


def describe(limit: int) -> str:
    """`1 MiB`, `2 GiB`, `64 KiB`: limits are round numbers in binary units."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit:,} bytes"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_limited(
    path: str | Path, *, what: str, limit: int, error: type[ScannerError], hint: str | None = None
) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; otherwise `error` naming file and limit.

    `what` names the kind of file in messages (`config file`, `snapshot`)."""
    from scanner.terminal import escape  # noqa: PLC0415 - a name in a message is text from outside

    shown = escape(path)

    def refuse(reason: str) -> ScannerError:
        return error(f"{shown}: {reason}") if hint is None else error(f"{shown}: {reason}", hint=hint)

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise refuse(f"{what} not found") from None
    except OSError as exc:
        raise refuse(f"cannot read the {what}: {exc.strerror or exc}") from None
    kind = _kind(info.st_mode)
    if kind is not None:
        raise refuse(f"the {what} must be a regular file, not {kind}; not read")
    too_large = f"over the {what} size limit of {describe(limit)}; not read"
    if info.st_size > limit:
        raise refuse(f"{info.st_size:,} bytes, {too_large}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise refuse(f"cannot read the {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind is not None:  # replaced between the stat and the open
            raise refuse(f"the {what} must be a regular file, not {kind}; not read")
        if info.st_size > limit:
            raise refuse(f"{info.st_size:,} bytes, {too_large}")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 16 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise refuse(f"cannot read the {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise refuse(f"grew while it was read, {too_large}")
    return data
