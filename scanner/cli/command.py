"""The `artifact-scan` command: arguments in, exit code out.

The only module that prints messages for errors and chooses exit codes. Tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scanner import __version__, terminal
from scanner.errors import (
    ConfigError,
    ExitCode,
    RuleError,
    ScanInterrupted,
    ScannerError,
    SnapshotError,
    exit_code_for,
)

if TYPE_CHECKING:  # imported where used: `--help` must not pay for jsonschema, boto3, jinja2 or cryptography
    from scanner.config import Config
    from scanner.model import RuleSet
    from scanner.run import RunOutcome

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
            text = text.replace("{formats}", ", ".join(sorted(_writers())))
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
            + _did_you_mean(str(value), choices)
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


def _did_you_mean(value: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


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
    return message + _did_you_mean(flag, _options(selected))


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


def _writers() -> dict[str, Any]:
    from scanner.report import WRITERS  # noqa: PLC0415

    return WRITERS


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary table")


def _formats(text: str) -> list[str]:
    writers = _writers()
    names = [name.strip().lower() for name in text.split(",") if name.strip()]  # JSON is json
    unknown = [name for name in names if name not in writers]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(terminal.excerpt(n) for n in unknown) or terminal.excerpt(text)} "
            f"(choose from: {', '.join(sorted(writers))})"
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

    from scanner.cli import evidence as evidence_cli  # noqa: PLC0415

    evidence_cli.add_parser(commands, common=_common, out=_out_option)

    permissions = commands.add_parser(
        "permissions",
        help="print the least-privilege IAM policies the scanner needs",
        description="Prints the IAM policy for the identity that runs the scan in the management account and "
        "the policy for the read-only role in each member account, derived from what the collector calls. "
        "Every action is read-only (List, Get, Describe) apart from sts:AssumeRole into the member role.",
        epilog="examples:\n  artifact-scan permissions --management --config config.yaml > management-policy.json\n"
        "  artifact-scan permissions --member > member-policy.json",
        formatter_class=_Formatter,
    )
    which = permissions.add_mutually_exclusive_group()
    which.add_argument("--management", action="store_true", help="only the management account's policy")
    which.add_argument("--member", action="store_true", help="only the member role's policy")
    permissions.add_argument("--config", type=Path, metavar="FILE", help="takes the member role's name from it")
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
    _refuse_stdout(args)
    handlers: dict[str, Callable[[argparse.Namespace], ExitCode]] = {
        "scan": _scan,
        "collect": _collect,
        "demo": _demo,
        "rules": _rules,
        "permissions": _permissions,
        "snapshot": _snapshot,
        "evidence": _evidence,
    }
    return handlers[args.command](args)


def _load_ruleset(config: Config, extra: Sequence[Path] = (), builtin: bool = True) -> RuleSet:
    from scanner.rules import load_rules  # noqa: PLC0415

    return load_rules(
        [*config.rules.packs, *extra],
        builtin=builtin and config.rules.builtin,
        disabled=config.rules.disabled,
        severity_overrides=config.rules.severity_overrides,
        config_source=config.source,
    )


def _check_formats(config: Config) -> None:
    writers = _writers()
    unknown = [terminal.excerpt(name) for name in config.output.formats if name not in writers]
    if unknown:
        raise ConfigError(
            f"{config.source}: $.output.formats: unknown format {', '.join(unknown)} "
            f"(expected one of: {', '.join(sorted(writers))})"
        )


class _Progress:
    """Accounts done of total, on stderr: rewritten in place on a terminal, every 10% in a log."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_decile = -1

    def retrying(self, api: str, attempt: int, max_attempts: int, why: str) -> None:
        """A call about to be retried: said at once, so that a scan waiting on backoff never looks hung."""
        terminal.say(self.stream, f"retrying {terminal.escape(api)} (attempt {attempt} of {max_attempts}): "
                     f"{terminal.excerpt(why)}\n", rewrite=self.tty)

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            end = "\n" if done >= total else ""
            terminal.say(self.stream, f"scanning accounts: {done}/{total}{end}", rewrite=True)
            return
        decile = done * 10 // max(total, 1)
        if decile != self.last_decile or done == total:
            self.last_decile = decile
            terminal.say(self.stream, f"scanning accounts: {done}/{total}\n")


def _print_outcome(outcome: RunOutcome, args: argparse.Namespace) -> None:
    from scanner.report import sarif, table  # noqa: PLC0415

    to_stdout = _to_stdout(args)
    if not args.quiet:
        stream = sys.stderr if to_stdout else sys.stdout  # stdout carries the one report, nothing else
        colour = table.use_colour(stream)
        terminal.say(stream, table.render(outcome.scan, colour=colour, width=_width()), colour=colour)
    written = ", ".join(terminal.escape(path.name) for path in outcome.files if path.parent == outcome.run_dir)
    terminal.err(table.fit(f"wrote {terminal.escape(outcome.run_dir)}/ ({written})", _width()))
    if to_stdout:
        [report] = [path for path in outcome.files if path.name == _writers()[args.format[0]].filename]
        terminal.document(report.read_bytes())
    left_out = sarif.left_out_by_the_result_limit(outcome.scan)
    if left_out and any(path.name == _writers()["sarif"].filename for path in outcome.files):
        terminal.err(f"warning: results.sarif leaves out the {left_out:,} least severe findings "
                     f"(GitHub code scanning reads at most {sarif.MAX_RESULTS:,} results per run); "
                     "results.json has them all")


STDOUT = Path("-")


def _to_stdout(args: argparse.Namespace) -> bool:
    return getattr(args, "out", None) == STDOUT


def _check_stdout(args: argparse.Namespace, formats: Sequence[str]) -> None:
    """`--out -`: exactly one format, and no evidence bundle (a bundle is the run folder, not a stream)."""
    if not _to_stdout(args):
        return
    if getattr(args, "evidence", False):
        raise ScannerError("--evidence bundles the run folder and cannot go to standard output (--out -)",
                           hint="use --out DIR with --evidence, or drop --evidence")
    if len(formats) != 1:
        raise ScannerError(
            f"--out - sends exactly one report format to standard output; {len(formats)} were asked for "
            f"({', '.join(terminal.excerpt(name) for name in formats)})",
            hint="choose one with --format, e.g. --format json --out -",
        )
    args.format = list(formats)


def _refuse_stdout(args: argparse.Namespace) -> None:
    """`-o -` is for a report in a pipeline. A snapshot or an evidence bundle is kept as a file: it is
    evidence, never overwritten, and a stream cannot be checked for that."""
    if args.command in ("scan", "demo") or not _to_stdout(args):
        return
    what = "an evidence bundle" if args.command == "evidence" else "a snapshot"
    raise ScannerError(f"-o -: {what} is written to a file, not to standard output",
                       hint="give a file name with -o; `--out -` is for `scan` and `demo` with one --format")


def _run_dir(args: argparse.Namespace) -> Path | None:
    """With `--out -` the run folder still goes where it goes by default (reports/<run-id>/): it is the run's
    record (snapshot, rules, settings as used), what --baseline, `evidence export` and an interrupted scan's
    partial snapshot need; only the report itself is streamed."""
    return None if _to_stdout(args) else args.out


@contextlib.contextmanager
def _expecting(
    option: str, path: str | Path | None, kind: str, refused_by: type[ScannerError]
) -> Iterator[None]:
    """When the loader of `option` refuses `path` (its own error class), and the file is another of the tool's
    files (a results.json as --config, a snapshot as --baseline), say which option takes it instead."""
    try:
        yield
    except refused_by:
        if path is None:
            raise
        from scanner import filekinds  # noqa: PLC0415

        better = filekinds.wrong_file(option, path, getattr(filekinds, kind))
        if better is None:
            raise
        raise better from None


def _load_config(path: Path | None) -> Config:
    from scanner.config import load_config  # noqa: PLC0415


    with _expecting("--config", path, "CONFIG", ConfigError):
        return load_config(path)


def _with_profile(config: Config, profile: str | None) -> Config:
    """`--profile NAME` overrides management.profile and AWS_PROFILE (a named profile wins over the variable
    in boto3). A profile that does not exist is refused here, naming --profile as where it came from."""
    if profile is None:
        return config
    from dataclasses import replace  # noqa: PLC0415

    import botocore.session  # noqa: PLC0415

    from scanner.errors import CredentialsError  # noqa: PLC0415

    available = botocore.session.Session().available_profiles
    if profile not in available:
        raise CredentialsError(
            f"--profile: the AWS profile '{terminal.excerpt(profile)}' does not exist",
            hint="list the profiles with `aws configure list-profiles`" + _did_you_mean(profile, available),
        )
    return replace(config, management=replace(config.management, profile=profile))


def _scan(args: argparse.Namespace) -> ExitCode:
    from scanner import run  # noqa: PLC0415

    if args.shard is not None and args.snapshot is not None:
        raise ScannerError("--shard chooses the accounts to collect; a --snapshot is evaluated as it is",
                           hint="merge the shards' snapshots with `artifact-scan snapshot merge` and evaluate that")
    if args.evidence or args.sign_key is not None:
        from scanner.cli import evidence as evidence_cli  # noqa: PLC0415

        # A bad --sign-key exits 2 before any AWS call; --sign-key implies --evidence; every format is written.
        evidence_cli.prepare_scan(args)
    config = _with_profile(_load_config(args.config), args.profile)
    _check_formats(config)
    formats = args.format or config.output.formats
    _check_stdout(args, formats)
    ruleset = _load_ruleset(config, args.rules, builtin=not args.no_builtin_rules)
    options = _audit_options(args, config)
    from scanner.errors import SnapshotError  # noqa: PLC0415

    with _expecting("--snapshot", args.snapshot, "SNAPSHOT", SnapshotError):
        outcome = run.scan(
            config,
            ruleset,
            out_dir=_run_dir(args),
            formats=formats,
            snapshot_path=args.snapshot,
            shard=args.shard,
            progress=None if args.quiet else _Progress(sys.stderr),
            **options,
        )
    _print_outcome(outcome, args)
    if args.evidence:
        from scanner.cli import evidence as evidence_cli  # noqa: PLC0415

        evidence_cli.export_after_scan(outcome.run_dir, sign_key=args.sign_key)
    if args.security_hub:
        from scanner.collect.session import base_session  # noqa: PLC0415

        if not _security_hub(outcome, base_session(config.management, config.source),
                             config.management.region, config.collection):
            return ExitCode.INCOMPLETE
    return outcome.exit_code


def _security_hub(outcome: RunOutcome, session: Any, region: str | None, collection: Any = None) -> bool:
    """Import the run's findings after its files are written. False (exit 3) when Security Hub refused the
    import or any finding."""
    from scanner.publish import securityhub  # noqa: PLC0415

    try:
        report = securityhub.publish(outcome.scan, session, region=region, collection=collection)
    except securityhub.SecurityHubError as exc:
        terminal.err(f"error: {exc}")
        if exc.hint:
            terminal.err(f"hint: {exc.hint}")
        return False
    calls = sum(counts.get("calls", 0) for counts in report.calls.values())
    terminal.err(f"security hub ({terminal.escape(report.account_id)}, {terminal.escape(report.region)}): sent "
                 f"{report.sent} finding(s), {report.archived} archived as resolved, {len(report.failed)} refused; "
                 f"{calls} API call(s)")
    for failed in report.failed:
        terminal.err(f"security hub refused finding {terminal.escape(failed.id)}: {terminal.escape(failed.code)}: "
                     f"{terminal.excerpt(failed.message)}")
    return report.ok


def _evidence(args: argparse.Namespace) -> ExitCode:
    from scanner.cli import evidence as evidence_cli  # noqa: PLC0415

    return ExitCode(evidence_cli.run(args))


def _audit_options(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """Gate, suppressions and baseline, read before any AWS call so that bad input costs nothing."""
    import os  # noqa: PLC0415

    from scanner.audit.baseline import parse_baseline, read_baseline  # noqa: PLC0415
    from scanner.audit.suppressions import parse_suppressions, read_suppressions  # noqa: PLC0415
    from scanner.model import Severity  # noqa: PLC0415
    from scanner.report import html  # noqa: PLC0415
    from scanner.run import Gate  # noqa: PLC0415

    if args.fail_on_new and args.baseline is None:
        raise ScannerError("--fail-on-new needs --baseline: without an earlier run every finding is new")
    suppressions_path = args.suppressions or config.suppressions
    # Read once: the bytes checked here are byte for byte the file the run keeps and derives from.
    from scanner.audit.baseline import BaselineError  # noqa: PLC0415
    from scanner.errors import SuppressionError  # noqa: PLC0415

    with _expecting("--suppressions", suppressions_path, "SUPPRESSIONS", SuppressionError):
        suppressions_data = read_suppressions(suppressions_path) if suppressions_path else None
        if suppressions_data is not None:
            parse_suppressions(suppressions_data, str(suppressions_path))
    with _expecting("--baseline", args.baseline, "RESULTS", BaselineError):
        baseline_data = read_baseline(args.baseline) if args.baseline else None
        if baseline_data is not None:
            parse_baseline(baseline_data, str(args.baseline))
    return {
        "gate": Gate(Severity.parse(args.fail_on) if args.fail_on else config.fail_on, args.fail_on_new),
        "suppressions_data": suppressions_data,
        "baseline_data": baseline_data,
        "paper": args.paper or html.paper_from_locale(os.environ),
    }


def _collect(args: argparse.Namespace) -> ExitCode:
    from scanner import run  # noqa: PLC0415
    from scanner import snapshot as snapshots  # noqa: PLC0415
    from scanner.errors import OutputError  # noqa: PLC0415
    from scanner.output import write_atomic  # noqa: PLC0415

    if args.out.exists():
        raise OutputError(f"{args.out}: exists; a snapshot is evidence and is never overwritten",
                          hint="choose another file with -o")
    config = _with_profile(_load_config(args.config), args.profile)
    ruleset = _load_ruleset(config)
    try:
        snapshot = run.collect_snapshot(config, ruleset, progress=None if args.quiet else _Progress(sys.stderr),
                                        shard=args.shard)
    except ScanInterrupted as interrupted:

        def keep(data: bytes) -> Path:
            write_atomic(args.out, data)
            return Path(args.out)

        raise run.keep_interrupted(interrupted, keep) from None
    write_atomic(args.out, snapshots.dumps(snapshot))
    terminal.err(f"wrote {terminal.escape(args.out)}")
    gaps = snapshots.gaps(snapshot)
    if not gaps:
        return ExitCode.OK
    terminal.err(f"incomplete (exit 3): {'; '.join(gaps)}")
    errors = snapshot.errors
    for error in errors[:20]:
        where = f"account {terminal.escape(error.account_id)}: " if error.account_id else "organization: "
        terminal.err(f"  {where}{terminal.excerpt(error.describe())}")
    if len(errors) > 20:
        terminal.err(f"  ... and {len(errors) - 20} more, in {terminal.escape(args.out)}")
    return ExitCode.INCOMPLETE


def _snapshot(args: argparse.Namespace) -> ExitCode:
    """`snapshot merge`: shards in, one snapshot out (written only when every check passes)."""
    from scanner import snapshot as snapshots  # noqa: PLC0415
    from scanner.errors import OutputError  # noqa: PLC0415
    from scanner.output import write_atomic  # noqa: PLC0415
    from scanner.snapshot.merge import merge  # noqa: PLC0415

    if args.out.exists():
        raise OutputError(f"{args.out}: exists; a snapshot is evidence and is never overwritten",
                          hint="choose another file with -o")
    def load(path: Path) -> Any:
        with _expecting("snapshot merge", path, "SNAPSHOT", SnapshotError):
            return snapshots.load(path)

    merged = merge([(str(path), load(path)) for path in args.snapshots])
    write_atomic(args.out, snapshots.dumps(merged))
    terminal.err(f"wrote {terminal.escape(args.out)} ({len(merged.accounts)} accounts from "
                 f"{len(args.snapshots)} shards)")
    return ExitCode.OK if snapshots.is_complete(merged) else ExitCode.INCOMPLETE


def _demo(args: argparse.Namespace) -> ExitCode:
    from scanner import run  # noqa: PLC0415
    from scanner.config import Config  # noqa: PLC0415

    try:
        from scanner import demo  # noqa: PLC0415
    except ImportError as exc:
        raise ScannerError(
            f"the demo needs moto, which is not installed ({exc.name})",
            hint="pip install 'artifact-scan[demo]'",
        ) from None
    config = Config()
    formats = args.format or sorted(_writers())  # the demo shows every format
    _check_stdout(args, formats)
    ruleset = _load_ruleset(config)
    options = _audit_options(args, config)
    with demo.simulated_organization(args.scenario) as organization:
        outcome = run.scan(
            config,
            ruleset,
            out_dir=_run_dir(args),
            formats=formats,
            session=organization.session,
            progress=None if args.quiet else _Progress(sys.stderr),
            **options,
        )
        imported = _security_hub(outcome, organization.session, None) if args.security_hub else True
    _print_outcome(outcome, args)
    missed, unexpected = demo.compare(organization.planted, outcome.scan.results)
    terminal.err(
        f"demo ({args.scenario}): {len(organization.planted)} planted problem(s); "
        f"a real scan would exit {int(outcome.exit_code)} ({outcome.exit_code.name.lower()})"
    )
    for label, items in (("MISSED", missed), ("UNEXPECTED", unexpected)):
        for item in items:
            terminal.err(f"{label}: {terminal.line(item)}")
    if missed or unexpected:
        return ExitCode.FINDINGS
    if not imported:
        return ExitCode.INCOMPLETE
    terminal.err("demo: every planted problem was found, and nothing else")
    return ExitCode.OK


def _permissions(args: argparse.Namespace) -> ExitCode:
    from scanner.collect import permissions  # noqa: PLC0415

    config = _load_config(args.config)
    policies = {
        "management_account": permissions.management_policy(config),
        "member_accounts": permissions.member_policy(),
    }
    if args.management or args.member:
        document: Any = policies["management_account" if args.management else "member_accounts"]
    else:
        document = policies
    terminal.out(json.dumps(document, indent=2))
    return ExitCode.OK


def _rules(args: argparse.Namespace) -> ExitCode:
    from scanner.evaluate.resources import FACT_SCHEMAS  # noqa: PLC0415
    from scanner.rules import load_rules  # noqa: PLC0415

    if args.rules_command == "facts":
        wanted = [args.resource_type] if args.resource_type else sorted(FACT_SCHEMAS)
        for name in wanted:
            if name not in FACT_SCHEMAS:
                raise ScannerError(f"unknown resource type '{terminal.excerpt(name)}' (choose from: {', '.join(sorted(FACT_SCHEMAS))})")
            terminal.out(f"{name}:")
            for path, kind in _fact_paths(FACT_SCHEMAS[name]):
                terminal.out(f"  {terminal.escape(path)}: {terminal.escape(kind)}")
        return ExitCode.OK
    if args.rules_command == "validate":
        try:
            ruleset = load_rules(args.paths, builtin=not (args.paths and args.no_builtin_rules))
        except RuleError as exc:
            raise _files_of_another_kind(exc, args.paths) from None
        count = len(ruleset.rules)
        terminal.out(f"ok: {count} rule{'s' if count != 1 else ''} valid in {len(ruleset.packs)} pack(s): "
                     + ", ".join(terminal.escape(pack.id) for pack in ruleset.packs))
        return ExitCode.OK
    config = _load_config(args.config)
    ruleset = _load_ruleset(config, args.paths)
    from scanner.report import table  # noqa: PLC0415

    rules = sorted(ruleset.rules, key=lambda r: r.id)
    if args.framework is not None:
        frameworks = sorted({name for rule in rules for name in rule.compliance})
        chosen = next((name for name in frameworks if name.lower() == args.framework.lower()), None)
        if chosen is None:
            raise ScannerError(f"no loaded rule is mapped to framework {terminal.excerpt(args.framework)!r} "
                               f"(mapped: {', '.join(frameworks) or 'none'})")
        rows = [[r.id, r.severity.label, ", ".join(r.compliance[chosen]), r.title]
                for r in rules if chosen in r.compliance]
        headers = ["id", "severity", chosen, "title"]
    else:
        rows = [[r.id, r.severity.label, r.resource, r.title] for r in rules]
        headers = ["id", "severity", "resource", "title"]
    terminal.out(table.columns([[terminal.excerpt(cell, 120) for cell in row] for row in rows], headers, _width()))
    return ExitCode.OK


def _width() -> int:
    """The terminal's width (COLUMNS wins), or the table's default when not printing to a terminal."""
    import shutil  # noqa: PLC0415

    from scanner.report import table  # noqa: PLC0415

    return shutil.get_terminal_size((table.DEFAULT_WIDTH, 24)).columns


def _files_of_another_kind(exc: RuleError, paths: Sequence[Path]) -> RuleError:
    """A config, a results.json or a snapshot given to `rules validate` is named for what it is (and where it
    goes) in place of the schema problems it has as a rule; the other files' problems are all kept."""
    from scanner import filekinds  # noqa: PLC0415

    wrong = {}
    for path in paths:
        found = filekinds.kind_of(path)
        if found is not None and found not in (filekinds.RULE, filekinds.PACK):
            wrong[str(path)] = (f"{terminal.excerpt(path, 200)}: this is {found.what}, not a rule file; "
                                f"{found.goes}")
    if not wrong:
        return exc
    kept = [problem for problem in exc.problems if not any(problem.startswith(name + ":") for name in wrong)]
    return RuleError([*wrong.values(), *kept])


def _fact_paths(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        kind = sub.get("type", "object")
        rows.append((path, json.dumps(kind) if isinstance(kind, list) else kind))
        if sub.get("properties"):
            rows.extend(_fact_paths(sub, path))
        items = sub.get("items")
        if isinstance(items, dict) and items.get("properties"):
            rows.extend(_fact_paths(items, f"{path}[]"))
        keyed = sub.get("additionalProperties")  # facts keyed by integration id
        if isinstance(keyed, dict) and keyed.get("properties"):
            rows.extend(_fact_paths(keyed, f"{path}.<integration>"))
    return rows
