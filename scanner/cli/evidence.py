"""`artifact-scan evidence ...`: export, verify and keygen, and `scan --evidence`.

Messages and exit codes only; the work is in scanner.audit (keys, bundle, verify). Errors are raised as ScannerErrors and
printed by scanner.cli (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import terminal

if TYPE_CHECKING:  # imported where used: building the parser (`--help`) must not load cryptography
    from scanner.audit.bundle import Exported
    from scanner.audit.verify import Verification

EVIDENCE_HELP = """\
An evidence bundle is one uncompressed, canonical tar per run: the run folder as it was (snapshot,
rules and settings as used, suppressions, results in every format written) under
evidence-<run-id>/run/, a manifest.json with the SHA-256 of every file and the run's metadata, and
optionally an Ed25519 signature over the manifest with the signer's public key.

examples:
  artifact-scan evidence keygen signing-key.pem     # signing-key.pem (0600) and signing-key.pub.pem
  artifact-scan scan --evidence --sign-key signing-key.pem
  artifact-scan evidence export reports/RUN --sign-key signing-key.pem
  artifact-scan evidence verify reports/evidence-RUN.tar --public-key signing-key.pub.pem
"""

VERIFY_HELP = """\
Checks every byte of the bundle: the tar's headers and padding against the canonical archive of its
members (a difference is named by its offset), every file against the manifest's SHA-256 (named by
path), the manifest against the run's files, the signature when there is one, the rules against the
recorded rules hash, that every run file is an input or a report, the snapshot's stored `complete`
against the completeness its content shows, and every report (each format the writer registry knows)
against deriving it again from the bundled snapshot, rules, settings, suppressions and baseline
through the same pipeline as `scan`, byte for byte.

exit codes:
  0  the bundle verifies
  1  it does not: the report names each file or offset that changed, or the input that
     cannot be evaluated (crafted settings, rules that do not load, ...)
  2  not readable as a bundle (not a tar, truncated, no manifest, manifest not JSON), or a bad argument
"""


def add_parser(commands: Any, *, common: Callable[[argparse.ArgumentParser], None],
               out: Callable[..., None]) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = commands.add_parser(
        "evidence",
        help="export, sign and verify a run's evidence bundle",
        description=EVIDENCE_HELP,
        formatter_class=formatter,
    )
    actions = parser.add_subparsers(dest="evidence_command", metavar="ACTION")

    export = actions.add_parser(
        "export",
        help="bundle a run folder into evidence-<run-id>.tar",
        description="Bundle a run folder (reports/<run-id>/ or a scan's --out) into one tar. The folder is "
        "packed as it is; run `scan --evidence` to have every report format in it.",
        formatter_class=formatter,
    )
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder a scan wrote")
    out(export, metavar="FILE", old="--output",
        help="the bundle to write (default: evidence-<run-id>.tar beside RUN_DIR); never overwritten")
    export.add_argument(
        "--sign-key", type=Path, metavar="PEM", help="sign the manifest with this Ed25519 private key"
    )
    common(export)

    verify = actions.add_parser(
        "verify",
        help="check a bundle: every byte, the signature, and the results again",
        description=VERIFY_HELP,
        formatter_class=formatter,
    )
    verify.add_argument("bundle", type=Path, metavar="BUNDLE", help="an evidence-<run-id>.tar")
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="PEM",
        help="the signer's public key: fail unless this key signed the bundle",
    )
    common(verify)

    keygen = actions.add_parser(
        "keygen",
        help="create an Ed25519 key pair for signing bundles",
        description="Write a new Ed25519 private key (PKCS#8 PEM, unencrypted, mode 0600) and its public "
        "key. Existing files are never overwritten. Keep the private key secret; give auditors the public "
        "one.",
        formatter_class=formatter,
    )
    keygen.add_argument("private_key", type=Path, metavar="PRIVATE.pem")
    keygen.add_argument(
        "--public-out",
        type=Path,
        metavar="FILE",
        help="where to write the public key (default: PRIVATE.pub.pem)",
    )
    common(keygen)


def run(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
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


def _export(args: argparse.Namespace) -> int:
    from scanner.audit import bundle, keys  # noqa: PLC0415

    private_key = keys.load_private_key(args.sign_key) if args.sign_key is not None else None
    exported = bundle.export(args.run_dir, out=args.out, private_key=private_key)
    _print_exported(exported)
    return 0


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


def _keygen(args: argparse.Namespace) -> int:
    from scanner.audit import keys  # noqa: PLC0415

    pair = keys.keygen(args.private_key, args.public_out)
    terminal.err(f"wrote {terminal.escape(pair.private_path)} (private key, mode 0600; keep it secret)")
    terminal.err(f"wrote {terminal.escape(pair.public_path)} (public key; give it to whoever verifies)")
    terminal.out(f"fingerprint: {pair.fingerprint}")
    return 0


def _marks(encoding: str | None) -> dict[bool | None, str]:
    """✓ ✗ – where the output can show them, ASCII otherwise."""
    try:
        "✓✗–".encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return {True: "[ok]  ", False: "[FAIL]", None: "[--]  "}
    return {True: "✓", False: "✗", None: "–"}


def _verify(args: argparse.Namespace) -> int:
    from scanner.audit import keys, verify  # noqa: PLC0415

    pinned = keys.load_public_key(args.public_key) if args.public_key is not None else None
    result = verify.verify(args.bundle, public_key=pinned)
    terminal.write(sys.stdout, render(result, encoding=getattr(sys.stdout, "encoding", None), quiet=args.quiet))
    return 0 if result.ok else 1


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
