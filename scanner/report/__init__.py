"""Report writers: a ScanResult in, bytes out. One writer per format, in one registry.

The CLI's `--format` choices and the config's `output.formats` check derive from `WRITERS`.
Writers never see the engine, a session or the config, and never touch the disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scanner.model import ScanResult

Render = Callable[[ScanResult], bytes]


@dataclass(frozen=True, slots=True)
class Writer:
    name: str
    filename: str
    render: Render


WRITERS: dict[str, Writer] = {}


def writer(name: str, filename: str) -> Callable[[Render], Render]:
    """Register `render` as the writer for format `name`, written to `filename` in the run folder."""

    def register(render: Render) -> Render:
        if name in WRITERS:
            raise ValueError(f"duplicate writer {name!r}")
        WRITERS[name] = Writer(name, filename, render)
        return render

    return register


# Imported for their registration; explicit so that the registry's content is visible here.
# One line per writer module (keep them sorted).
from scanner.report import (  # noqa: E402 - after the registry they register into
    asff,  # noqa: F401
    html,  # noqa: F401
    json_report,  # noqa: F401
    junit,  # noqa: F401
    markdown,  # noqa: F401
    ocsf,  # noqa: F401
    oscal,  # noqa: F401
    sarif,  # noqa: F401
)

__all__ = ["WRITERS", "Writer", "writer"]
