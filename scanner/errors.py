"""The scanner's error hierarchy.

Only `scanner.cli` turns these into messages and exit codes. `str(error)` is what the user
reads, so every message names the place (file, line, JSON path) and, where known, the fix.
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base class of every error a user can cause or fix; never shown with a traceback."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(ScannerError):
    """The configuration file is unreadable or breaks its schema."""


class RuleError(ScannerError):
    """One or more rule files are invalid; `problems` lists every one of them."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the rules:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


class SnapshotError(ScannerError):
    """A snapshot file is not a snapshot this version can read."""


class SuppressionError(ScannerError):
    """The suppressions file is unreadable or breaks its schema."""


class CredentialsError(ScannerError):
    """The credentials cannot be used for a scan (missing, wrong profile, not the management account)."""


class OutputError(ScannerError):
    """The output folder or a report file cannot be written."""


class ScanInterrupted(ScannerError):
    """The scan was stopped (SIGINT or SIGTERM); `snapshot` holds what was read, marked incomplete."""

    def __init__(self, snapshot: object) -> None:
        super().__init__("interrupted: the scan was stopped before every account was read")
        self.snapshot = snapshot


class EndpointUnreachable(ScannerError):
    """The first call of a scan could not connect to its AWS endpoint (refused, unknown host, timeout):
    nothing was scanned, and a report of "organization unknown" would only hide that."""
