"""`artifact-scan evidence ...`: export, verify and keygen, and `scan --evidence` (the parser is in
scanner.cli.command).

Messages and exit codes only; the work is in scanner.audit (keys, bundle, verify). Errors are raised as
ScannerErrors and printed by scanner.cli.command (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scanner import terminal
from scanner.errors import ExitCode

if TYPE_CHECKING:  # imported where used: building the parser (`--help`) must not load cryptography
    from scanner.audit.bundle import Exported
    from scanner.audit.verify import Verification


def run(args: argparse.Namespace) -> ExitCode:
    handlers: dict[str, Callable[[argparse.Namespace], ExitCode]] = {
        "export": _export,
        "verify": _verify,
        "keygen": _keygen,
    }
    return handlers[args.evidence_command](args)


def prepare_scan(args: argparse.Namespace) -> None:
    """Before `scan` reads anything: a bad signing key exits 2 before any AWS call, --sign-key implies
    --evidence, and an evidence run writes every report format so the bundle holds them all."""
    from scanner.audit import keys  # noqa: PLC0415
    from scanner.report import WRITERS  # noqa: PLC0415

    if args.sign_key is not None:
        keys.load_private_key(args.sign_key)
        args.evidence = True
    if args.evidence:
        args.format = list(WRITERS)


def export_after_scan(run_dir: Path, *, sign_key: Path | None = None) -> Path:
    from scanner.audit import bundle, keys  # noqa: PLC0415

    private_key = keys.load_private_key(sign_key) if sign_key is not None else None
    exported = bundle.export(run_dir, private_key=private_key)
    _print_exported(exported)
    return exported.path


def _export(args: argparse.Namespace) -> ExitCode:
    from scanner.audit import bundle, keys  # noqa: PLC0415

    private_key = keys.load_private_key(args.sign_key) if args.sign_key is not None else None
    exported = bundle.export(args.run_dir, out=args.out, private_key=private_key)
    _print_exported(exported)
    return ExitCode.OK


def _print_exported(exported: Exported) -> None:
    bundle = exported.bundle
    files = len(bundle.manifest["files"])
    signed = f"signed by {terminal.excerpt(bundle.signer)}" if bundle.signer else "not signed"
    terminal.err(f"wrote {terminal.escape(exported.path)} ({files} files, {len(bundle.data)} bytes, {signed})")
    formats = ", ".join(terminal.excerpt(name) for name in exported.formats) or "none"
    missing = (
        f" (not in the run folder: {', '.join(terminal.excerpt(name) for name in exported.missing_formats)})"
        if exported.missing_formats
        else ""
    )
    terminal.err(f"formats: {formats}{missing}")


def _keygen(args: argparse.Namespace) -> ExitCode:
    from scanner.audit import keys  # noqa: PLC0415

    pair = keys.keygen(args.private_key, args.public_out)
    terminal.err(f"wrote {terminal.escape(pair.private_path)} (private key, mode 0600; keep it secret)")
    terminal.err(f"wrote {terminal.escape(pair.public_path)} (public key; give it to whoever verifies)")
    terminal.out(f"fingerprint: {pair.fingerprint}")
    return ExitCode.OK


def _marks(encoding: str | None) -> dict[bool | None, str]:
    """✓ ✗ – where the output can show them, ASCII otherwise."""
    try:
        "✓✗–".encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return {True: "[ok]  ", False: "[FAIL]", None: "[--]  "}
    return {True: "✓", False: "✗", None: "–"}


def _verify(args: argparse.Namespace) -> ExitCode:
    from scanner.audit import keys, verify  # noqa: PLC0415

    pinned = keys.load_public_key(args.public_key) if args.public_key is not None else None
    result = verify.verify(args.bundle, public_key=pinned)
    terminal.write(sys.stdout, render(result, encoding=getattr(sys.stdout, "encoding", None), quiet=args.quiet))
    return ExitCode.OK if result.ok else ExitCode.FINDINGS


MAX_DETAILS = 20


def render(result: Verification, *, encoding: str | None = "utf-8", quiet: bool = False) -> str:
    """One line per check (only the failed ones when `quiet`), each failure's details, and the verdict.

    Everything from the bundle (names, ids, the signer, summaries and details that quote member names or
    manifest keys) is escaped where it goes in (scanner.terminal), so no value can add a line, move the
    cursor or reorder a line: the verdict is always the last line, as written here."""
    marks = _marks(encoding)
    value, message = terminal.excerpt, terminal.line
    lines = (
        []
        if quiet
        else [
            f"bundle: {value(result.source, 200)}",
            f"run: {value(result.run_id)}, organization {value(result.organization_id) if result.organization_id else 'unknown'}",
            f"signer: {value(result.signer) if result.signer else 'none (not signed)'}",
        ]
    )
    for check in result.checks:
        if quiet and check.ok is not False:
            continue
        lines.append(f"{marks[check.ok]} {value(check.name)}: {message(check.summary)}")
        for detail in check.details[:MAX_DETAILS]:
            lines.append(f"    {message(detail)}")
        if len(check.details) > MAX_DETAILS:
            lines.append(f"    ... and {len(check.details) - MAX_DETAILS} more")
    failed = result.failed
    if failed:
        lines.append(f"NOT VERIFIED: {len(failed)} check(s) failed: {', '.join(value(c.name) for c in failed)}")
    else:
        lines.append(
            "verified"
            + ("" if result.signer else " (unsigned: the content is intact, but nothing shows who built it)")
        )
    return "\n".join(lines) + "\n"
