"""The scanner's error hierarchy and its exit codes.

Only `scanner.cli` turns these into messages and exit codes. `str(error)` is what the user
reads, so every message names the place (file, line, JSON path) and, where known, the fix.
This module imports nothing heavy: the CLI reads its exit codes before it imports boto3's world.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    OK = 0  # scan complete, nothing at or above --fail-on
    FINDINGS = 1  # scan complete, failing findings at or above --fail-on
    USAGE = 2  # bad arguments, config, rules or credentials; nothing was scanned
    INCOMPLETE = 3  # some account or API could not be read; reports are still written
    INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped with Ctrl-C


class ScannerError(Exception):
    """Base class of every error a user can cause or fix; never shown with a traceback."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(ScannerError):
    """The configuration file is unreadable or breaks its schema."""


class ProblemsError(ScannerError):
    """Every problem found in a set of files at once; `problems` lists them, `subject` says in what."""

    subject = "the input"

    def __init__(self, problems: Iterable[str] | str) -> None:
        # yamlfile raises with one message, the loaders with every problem they found
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in {self.subject}:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


class RuleError(ProblemsError):
    """One or more rule files are invalid."""

    subject = "the rules"


class CatalogError(ProblemsError):
    """One or more files of the integrations catalog are invalid."""

    subject = "the integrations catalog"


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



class EvidenceError(ScannerError):
    """A run folder cannot be exported, a key cannot be used, or a bundle cannot be laid out."""


class BundleUnreadable(EvidenceError):
    """The file is not an evidence bundle this version can read: nothing could be verified."""

# Each error's exit code. An error defined elsewhere (BaselineError, MergeError, ...) takes the code of the
# nearest class it derives from that is listed here; a test checks that every one resolves.
EXIT_CODES: dict[type[ScannerError], ExitCode] = {
    ScannerError: ExitCode.USAGE,
    ConfigError: ExitCode.USAGE,
    ProblemsError: ExitCode.USAGE,
    RuleError: ExitCode.USAGE,
    CatalogError: ExitCode.USAGE,
    SnapshotError: ExitCode.USAGE,
    SuppressionError: ExitCode.USAGE,
    CredentialsError: ExitCode.USAGE,
    OutputError: ExitCode.USAGE,
    # Stopped, never "bad input" nor a verdict: what was read is kept (a partial snapshot).
    ScanInterrupted: ExitCode.INTERRUPTED,
    # Nothing was scanned, and the fix (endpoint, network, region) is the user's.
    EndpointUnreachable: ExitCode.USAGE,
    EvidenceError: ExitCode.USAGE,
    BundleUnreadable: ExitCode.USAGE,
}


def exit_code_for(error: ScannerError) -> ExitCode:
    """The exit code of `error`: its own class's entry in EXIT_CODES, else its nearest listed base's."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    raise AssertionError(f"{type(error).__name__} derives from no class in EXIT_CODES")  # pragma: no cover
