"""The `artifact-scan` command: arguments in, exit code out.

The only module that prints messages for errors and chooses exit codes. Tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from scanner import __version__, terminal
from scanner.cli.common import did_you_mean, refuse_stdout, writers
from scanner.errors import ExitCode, ScanInterrupted, ScannerError, exit_code_for

EXIT_USAGE = ExitCode.USAGE
EXIT_INCOMPLETE = ExitCode.INCOMPLETE
EXIT_INTERRUPTED = ExitCode.INTERRUPTED
INTERRUPTED_MESSAGE = "error: interrupted"

EXIT_CODES_HELP = """\
exit codes:
  0  scan complete, nothing failed at or above --fail-on
  1  scan complete, findings at or above --fail-on (default: high)
  2  bad arguments, config, rules, snapshot or credentials: nothing was scanned
  3  incomplete: some account or API could not be read (reports are still written;
     3 outranks 1, so a verdict on partial data never looks final)
130  interrupted (Ctrl-C, or SIGTERM during a scan): one line says what was kept (a partial
     snapshot, marked interrupted); no report claims a complete scan
"""

COLLECT_EXIT_CODES_HELP = """\
exit codes:
  0  every account and API in scope was read: the snapshot is complete
  2  bad arguments, config or credentials, or the AWS endpoint cannot be reached: nothing was collected
  3  incomplete: some account or API could not be read (the snapshot is still written, marked
     incomplete, and says why; the reasons are printed)
130  interrupted: the partial snapshot is kept at -o, marked interrupted; one line says so
"""

EXAMPLES = """\
examples:
  artifact-scan demo                                # simulated organization, no AWS account needed
  artifact-scan scan                                # default credentials, built-in rules
  artifact-scan scan --config config.yaml --out reports/weekly
  artifact-scan scan --snapshot reports/RUN/snapshot.json   # re-evaluate offline
  artifact-scan collect -o snapshot.json
  artifact-scan rules validate my-pack/
  artifact-scan rules list
"""

log = logging.getLogger("scanner")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text and "{formats}" in text:
            # The registry is read only when the help is shown: importing the writers costs jinja2.
            text = text.replace("{formats}", ", ".join(sorted(writers())))
        if text and "{severities}" in text:
            text = text.replace("{severities}", ", ".join(_severity_labels()))
        return text


class _Parser(argparse.ArgumentParser):
    """argparse prints usage, errors, --help and --version itself: through the one sink too (an argument
    value quoted in an error message is text from outside the program).

    No parser accepts abbreviations (`--base` is not `--baseline`: a later option starting the same way
    would silently change what an old command line means); a mistyped choice or option gets the closest
    spelling (difflib) in its error, and values are quoted only as short excerpts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            terminal.say(file or sys.stderr, message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        raise argparse.ArgumentError(
            action, f"invalid choice '{terminal.excerpt(value)}' (choose from: {', '.join(choices)})"
            + did_you_mean(str(value), choices)
        )

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> Any:
        parsed, extras = self.parse_known_args(args, namespace)
        selected, missing = _selected_parser(self, parsed)
        if extras:
            selected.error(_unrecognized(selected, extras, self))
        if missing:
            # A bare `artifact-scan` (or `artifact-scan rules`): the help, on stdout; exit 2, nothing ran.
            selected.print_help(sys.stdout)
            raise SystemExit(EXIT_USAGE)
        return parsed


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _selected_parser(parser: argparse.ArgumentParser, args: Any) -> tuple[argparse.ArgumentParser, bool]:
    """The (sub)parser that parsed the last words of the command line, and whether it still lacks the
    subcommand it needs (`artifact-scan rules`)."""
    while (commands := _subcommands(parser)) is not None:
        name = getattr(args, commands.dest, None)
        if name is None:
            return parser, True
        parser = commands.choices[name]
    return parser, False


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """The option spellings a parser shows (hidden deprecated aliases are not suggested)."""
    return [o for a in parser._actions if a.help is not argparse.SUPPRESS for o in a.option_strings]


def _all_parsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    commands = _subcommands(parser)
    if commands is not None:
        for name, sub in commands.choices.items():
            yield from _all_parsers(sub, f"{path} {name}".strip())


def _unrecognized(
    selected: argparse.ArgumentParser, extras: Sequence[str], top: argparse.ArgumentParser
) -> str:
    """`unrecognized arguments: ...` with, for the first option, its closest spelling in this command or the
    commands that do take it."""
    message = "unrecognized arguments: " + " ".join(terminal.excerpt(word, 40) for word in extras[:5])
    if len(extras) > 5:
        message += f" ... ({len(extras) - 5} more)"
    flag = next((word.split("=", 1)[0] for word in extras if word.startswith("-") and word != "-"), None)
    if flag is None:
        return message
    elsewhere = [name for name, parser in _all_parsers(top) if name and flag in _options(parser)]
    if elsewhere:  # a real option, given to the wrong command: say which commands take it
        return message + f"; {terminal.excerpt(flag, 40)} is an option of: {', '.join(elsewhere)}"
    return message + did_you_mean(flag, _options(selected))


class _DeprecatedAlias(argparse.Action):
    """An old spelling of an option, hidden from the help: it still works, and says on stderr what replaces
    it."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, replacement: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.replacement = replacement

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        terminal.err(f"warning: {option_string} is deprecated and will be removed; use {self.replacement}")
        setattr(namespace, self.dest, values)


def _out_option(parser: argparse.ArgumentParser, *, metavar: str, help: str, old: str | None = None,
                **kwargs: Any) -> None:
    """`-o/--out`, the one spelling of "where the output goes" in every command; `old`, the spelling a
    command used before, keeps working as a hidden alias that warns."""
    # A required option's old spelling must count as giving it: both in a required group of one of them.
    target: Any = parser.add_mutually_exclusive_group(required=True) if kwargs.pop("required", False) else parser
    target.add_argument("-o", "--out", type=Path, metavar=metavar, help=help, **kwargs)
    if old is not None:
        target.add_argument(old, dest="out", type=Path, metavar=metavar, action=_DeprecatedAlias,
                            replacement="-o/--out")


def _profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="NAME",
                        help="the AWS profile for the management account's credentials; overrides "
                        "management.profile in the config and AWS_PROFILE")


class _LogFormatter(logging.Formatter):
    """Log records as `LEVEL name: message`, the message escaped to one line (a traceback keeps its lines)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = terminal.line(record.message)
        return super().formatMessage(record)


class _LogHandler(logging.Handler):
    """Sends log records (and Python warnings, through logging.captureWarnings) to stderr via `err`."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.setFormatter(_LogFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            terminal.err(self.format(record))
        except Exception:
            self.handleError(record)


def _severity_labels() -> tuple[str, ...]:
    from scanner.model import SEVERITY_LABELS  # noqa: PLC0415 - the model's dataclasses cost 0.1 s to build

    return SEVERITY_LABELS


def _severity(text: str) -> str:
    if text not in _severity_labels():
        raise argparse.ArgumentTypeError(
            f"unknown severity '{terminal.excerpt(text)}' (choose from: {', '.join(_severity_labels())})"
        )
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary table")


def _formats(text: str) -> list[str]:
    known = writers()
    names = [name.strip().lower() for name in text.split(",") if name.strip()]  # JSON is json
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(terminal.excerpt(n) for n in unknown) or terminal.excerpt(text)} "
            f"(choose from: {', '.join(sorted(known))})"
        )
    return names


def _shard(text: str) -> Any:
    from scanner.snapshot.shard import Shard  # noqa: PLC0415

    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shard_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shard", type=_shard, metavar="I/N",
        help="scan only shard I of N (1 <= I <= N): the member accounts whose id hashes to it (sha256 mod N), "
        "with the organization-level data and the management account; merge the shards' snapshots with "
        "`artifact-scan snapshot merge`",
    )


def _report_options(parser: argparse.ArgumentParser) -> None:
    _out_option(parser, metavar="DIR",
                help="the run's folder (default: reports/<run-id>/); `-` sends the one --format to standard "
                "output (table and progress on stderr; the run folder goes to the default place)")
    parser.add_argument(
        "--format",
        type=_formats,
        metavar="F[,F]",
        help="report formats to write (default from config: json,sarif,html; choose from {formats})",
    )
    parser.add_argument("--fail-on", type=_severity, metavar="SEVERITY",
                        help="lowest severity that makes exit code 1 (one of: {severities})")
    parser.add_argument("--paper", choices=("A4", "Letter"), type=lambda v: {"a4": "A4", "letter": "Letter"}.get(
        v.lower(), v), help="page size of the printed HTML report (default from the locale: LC_ALL, LC_PAPER, "
        "LANG; Letter in the US, Canada, Mexico, the Philippines and a few more, else A4)")
    parser.add_argument("--fail-on-new", action="store_true",
                        help="exit 1 only for findings not in the --baseline run (exit 3 still outranks)")
    parser.add_argument("--suppressions", type=Path, metavar="FILE",
                        help="accepted risks with reason, owner and expiry (see suppressions.example.yaml)")
    parser.add_argument("--baseline", type=Path, metavar="RESULTS_JSON",
                        help="an earlier run's results.json: mark findings new or unchanged, list resolved ones")
    parser.add_argument("--security-hub", action="store_true",
                        help="also import the findings into the management account's Security Hub (ASFF, "
                        "BatchImportFindings; findings this run resolved are archived); a refusal exits 3")


def _rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", action="append", default=[], metavar="PATH", help="an extra rule pack folder or rule file"
    )
    parser.add_argument("--no-builtin-rules", action="store_true", help="do not load the built-in rule packs")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="artifact-scan",
        description="Checks AWS Artifact's integration with AWS Organizations across every account.",
        epilog=EXIT_CODES_HELP + "\n" + EXAMPLES,
        formatter_class=_Formatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"artifact-scan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = commands.add_parser(
        "scan",
        help="collect, evaluate and report (or evaluate a saved snapshot)",
        description="Scan every ACTIVE account of the organization whose management account the credentials "
        "belong to, evaluate the rules, print a summary and write the reports.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    scan.add_argument("--config", type=Path, metavar="FILE", help="configuration file (see config.example.yaml)")
    scan.add_argument("--snapshot", type=Path, metavar="FILE", help="evaluate this snapshot offline; no AWS call")
    scan.add_argument("--evidence", action="store_true",
                      help="also write the run's evidence bundle (see `artifact-scan evidence --help`)")
    scan.add_argument("--sign-key", type=Path, metavar="PEM",
                      help="sign the evidence bundle with this Ed25519 private key")
    _profile_option(scan)
    _shard_option(scan)
    _rule_options(scan)
    _report_options(scan)
    _common(scan)

    collect = commands.add_parser(
        "collect",
        help="write a snapshot only",
        description="Read the organization and write the snapshot; evaluate it later with scan --snapshot.",
        epilog=COLLECT_EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    collect.add_argument("--config", type=Path, metavar="FILE")
    _out_option(collect, metavar="FILE", old="--output", default=Path("snapshot.json"),
                help="where to write the snapshot (default: snapshot.json); an existing file is kept")
    _profile_option(collect)
    _shard_option(collect)
    _common(collect)

    snapshot = commands.add_parser("snapshot", help="work with snapshots: merge shards", formatter_class=_Formatter)
    snapshot_commands = snapshot.add_subparsers(dest="snapshot_command", metavar="ACTION")
    merge = snapshot_commands.add_parser(
        "merge",
        help="merge the snapshots of every shard (collect --shard I/N) into one",
        description="Merges the snapshots of shards 1/N to N/N into the snapshot one full run would have "
        "written: the organization data once (the shards must agree on it), every account from the shard "
        "it belongs to. Every problem is reported at once: a missing or repeated shard, shards of different "
        "N, shards that disagree on the organization, the account list, the configuration or the version.",
        epilog="example:\n  artifact-scan snapshot merge shard-*.json -o snapshot.json\n"
        "  artifact-scan scan --snapshot snapshot.json\n\n" + EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    merge.add_argument("snapshots", nargs="+", type=Path, metavar="SHARD_SNAPSHOT")
    _out_option(merge, metavar="FILE", old="--output", required=True,
                help="where to write the merged snapshot; an existing file is kept")
    _common(merge)

    demo = commands.add_parser(
        "demo",
        help="scan a simulated organization (moto); no AWS account needed",
        description="Builds a simulated organization in process with planted problems, scans it exactly as a "
        "real organization is scanned, and checks that the scan found every planted problem and nothing "
        "else. Exits 0 when it did; the exit code a real scan would give is printed.",
        formatter_class=_Formatter,
    )
    demo.add_argument("--scenario", default="drifted", choices=("drifted", "disabled", "healthy"),
                      help="drifted (default): planted problems in many accounts; disabled: trusted access off "
                      "with a stale role and an active agreement; healthy: nothing wrong")
    _report_options(demo)
    _common(demo)

    _evidence_parser(commands)

    permissions = commands.add_parser(
        "permissions",
        help="print the least-privilege IAM policies the scanner needs",
        description="Prints the IAM policy for the identity that runs the scan in the management account and "
        "the policy for the read-only role in each member account, derived from what the collector calls for "
        "the rules that would be loaded (the same --config, --rules and --no-builtin-rules as `scan`): a call "
        "only some integration's rules need is allowed only when such rules are loaded. "
        "Every action is read-only (List, Get, Describe) apart from sts:AssumeRole into the member role. "
        "A third policy, `security_hub_publishing`, is what `scan --security-hub` needs in addition.",
        epilog="examples:\n  artifact-scan permissions --management --config config.yaml > management-policy.json\n"
        "  artifact-scan permissions --member > member-policy.json\n"
        "  artifact-scan permissions --security-hub > security-hub-policy.json",
        formatter_class=_Formatter,
    )
    which = permissions.add_mutually_exclusive_group()
    which.add_argument("--management", action="store_true", help="only the management account's policy")
    which.add_argument("--member", action="store_true", help="only the member role's policy")
    which.add_argument("--security-hub", action="store_true",
                       help="only the policy for importing findings into Security Hub (scan --security-hub)")
    permissions.add_argument("--config", type=Path, metavar="FILE",
                             help="takes the member role's name and the rule packs from it")
    _rule_options(permissions)
    _common(permissions)

    rules = commands.add_parser("rules", help="validate or list rules", formatter_class=_Formatter)
    rule_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    validate = rule_commands.add_parser(
        "validate",
        help="check rule files and packs; every problem is printed at once",
        description="Checks rule files and packs as `scan --rules PATH` loads them: together with the built-in "
        "pack, so that a rule id the built-in pack already uses is reported here and not first at scan time.",
        epilog="examples:\n  artifact-scan rules validate\n  artifact-scan rules validate my-pack/ MY-001.yaml\n"
        "  artifact-scan rules validate --no-builtin-rules my-pack/",
        formatter_class=_Formatter,
    )
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="rule pack folders or rule files (default: only the built-in pack)")
    validate.add_argument("--no-builtin-rules", action="store_true",
                          help="check PATH alone, as `scan --no-builtin-rules --rules PATH` loads it")
    _common(validate)
    listing = rule_commands.add_parser("list", help="show the loaded rules (id, severity, resource, title)")
    listing.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="extra packs to load")
    listing.add_argument("--config", type=Path, metavar="FILE", help="apply its rule settings")
    listing.add_argument("--framework", metavar="NAME",
                         help='only rules mapped to this framework ("SOC 2", "ISO/IEC 27001:2022"), with their controls')
    _common(listing)
    facts = rule_commands.add_parser("facts", help="show the facts rules can assert, per resource type")
    facts.add_argument("resource_type", nargs="?", help="one resource type (default: all)")
    _common(facts)
    return parser


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


def _evidence_parser(commands: Any) -> None:
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
    _out_option(export, metavar="FILE", old="--output",
        help="the bundle to write (default: evidence-<run-id>.tar beside RUN_DIR); never overwritten")
    export.add_argument(
        "--sign-key", type=Path, metavar="PEM", help="sign the manifest with this Ed25519 private key"
    )
    _common(export)

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
    _common(verify)

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
    _common(keygen)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; every message goes through scanner.terminal, every outcome is an exit code.

    An interrupt (SIGINT, or SIGTERM while a scan runs) at any moment exits 130 with one line. Once scan,
    collect or demo has read something, the line also says where the partial snapshot was kept (marked
    interrupted and incomplete); no report is written for a scan cut short."""
    command: str | None = None
    started_by_entry_point = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command
        _configure_logging(args.debug)
        started_by_entry_point = _commands_take_interrupts()
        with _sigterm_interrupts(args.command in _SCANS):
            return int(_dispatch(args))
    except KeyboardInterrupt:
        if started_by_entry_point:  # the process ends here; in a caller's process the handler is theirs
            _ignore_further_interrupts()
        terminal.err(_interrupted_line(None) if command in _SCANS else terminal.INTERRUPTED)
        return EXIT_INTERRUPTED
    except ScanInterrupted as exc:
        # Stopped, never "bad input" nor a verdict: 130, one line saying what was kept.
        if args.debug:
            terminal.err(traceback.format_exc())
        terminal.err(_interrupted_line(exc))
        return EXIT_INTERRUPTED
    except ScannerError as exc:
        if args.debug:
            terminal.err(traceback.format_exc())
        _print_error(exc)
        return exit_code_for(exc)
    except BrokenPipeError:
        # The reader went away (`artifact-scan rules list | head`): not a bug. A listing has nothing left to
        # say; any other command stopped before it knew its verdict, which must not read as a clean one.
        terminal.silence(sys.stdout)
        return 0 if command in _LISTINGS else EXIT_INCOMPLETE
    except Exception as exc:
        if command is not None and args.debug:
            terminal.err(traceback.format_exc())
        terminal.err(f"error: internal error: {type(exc).__name__}: {terminal.line(exc)}")
        terminal.err("hint: this is a bug in artifact-scan; run again with --debug and report the traceback")
        return EXIT_INCOMPLETE


_SCANS = ("scan", "collect", "demo")  # the commands that read AWS, which SIGTERM stops like Ctrl-C
_LISTINGS = ("rules", "permissions")  # the commands whose whole work is what they print


def _interrupted_line(exc: ScanInterrupted | None) -> str:
    """The one line an interrupted scan prints: where its partial snapshot is, if one was kept."""
    kept = getattr(exc, "snapshot_path", None)
    if exc is None or kept is None:
        return "error: interrupted; no partial snapshot was kept; no report claims a complete scan"
    read = sum(1 for account in getattr(exc.snapshot, "accounts", ()) if account.scanned)
    return (f"error: interrupted; the partial snapshot ({read} account{'s' if read != 1 else ''} read) is in "
            f"{terminal.escape(kept)}; no report claims a complete scan")


def _print_error(exc: ScannerError) -> None:
    """`error: ` and the message, each line escaped (a value in it cannot add a line of its own where the
    error keeps its problems apart), then the hint."""
    problems = getattr(exc, "problems", None)
    lines = str(exc).split("\n")
    if isinstance(problems, tuple) and problems and all(isinstance(p, str) for p in problems):
        lines = [lines[0], *(f"  {p}" for p in problems)]
    terminal.err("\n".join(["error: " + terminal.line(lines[0]), *(terminal.line(text) for text in lines[1:])]))
    if exc.hint:
        terminal.err(f"hint: {terminal.line(exc.hint)}")


def _configure_logging(debug: bool) -> None:
    root = logging.getLogger()
    if not any(isinstance(handler, _LogHandler) for handler in root.handlers):
        root.addHandler(_LogHandler())
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.captureWarnings(True)
    # botocore's own debug log prints response bodies, including AssumeRole's secret keys.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("boto3").setLevel(logging.WARNING)


def _commands_take_interrupts() -> bool:
    """The entry point (scanner.__main__) exits at once on SIGINT while starting up; a command gets
    KeyboardInterrupt instead, so that it can keep what it read and remove what it half wrote.
    True when the entry point's handler was replaced (the process is ours)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is (
        terminal.exit_interrupted
    ):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return True
    return False


def _ignore_further_interrupts() -> None:
    """A second Ctrl-C while the first is being reported must not turn into a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigterm_interrupts(enabled: bool) -> Iterator[None]:
    """While a scan runs, SIGTERM (a CI job cancelled, `kill`, a container stopping) stops it exactly
    as SIGINT does: KeyboardInterrupt in the main thread, so what was read is kept and marked
    interrupted. The previous handler is restored afterwards."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> ExitCode:
    refuse_stdout(args)
    return _handler(args.command)(args)


def _handler(command: str) -> Callable[[argparse.Namespace], ExitCode]:
    """The command group's module is imported when one of its commands runs, never for `--help`."""
    if command in _SCANS:
        from scanner.cli import scanning  # noqa: PLC0415

        return {"scan": scanning.scan, "collect": scanning.collect, "demo": scanning.demo}[command]
    if command == "snapshot":
        from scanner.cli import snapshots  # noqa: PLC0415

        return snapshots.merge
    if command == "evidence":
        from scanner.cli import evidence  # noqa: PLC0415

        return evidence.run
    if command == "rules":
        from scanner.cli import rules  # noqa: PLC0415

        return rules.run
    from scanner.cli import permissions  # noqa: PLC0415

    return permissions.run


