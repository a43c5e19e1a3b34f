"""Golden files: compare a writer's bytes with `tests/golden/<name>`; `pytest --update-golden` rewrites them."""

from __future__ import annotations

import difflib
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(path: str | Path, data: bytes, update: bool) -> None:
    """Byte-for-byte equality with the golden file at `path` (relative paths are under tests/golden)."""
    path = Path(path)
    if not path.is_absolute():
        path = GOLDEN / path
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.is_file(), f"{path} is missing: run pytest --update-golden to create it"
    expected = path.read_bytes()
    if data != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            data.decode("utf-8", "replace").splitlines(),
            fromfile=f"{path} (golden)",
            tofile="rendered",
            lineterm="",
            n=2,
        )
        raise AssertionError(
            f"{path.name} differs from its golden file (run pytest --update-golden if the change is intended):\n"
            + "\n".join(list(diff)[:80])
        )
