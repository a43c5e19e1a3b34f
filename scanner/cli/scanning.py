"""`scan`, `collect` and `demo`: the commands that read an organization (or evaluate a saved snapshot)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scanner import terminal
from scanner.cli.common import (
    check_formats,
    expecting,
    load_config,
    load_ruleset,
    to_stdout,
    width,
    with_profile,
    writers,
)
from scanner.errors import ExitCode, ScanInterrupted, ScannerError

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.run import RunOutcome


def scan(args: argparse.Namespace) -> ExitCode:
    from scanner import run  # noqa: PLC0415

    if args.shard is not None and args.snapshot is not None:
        raise ScannerError("--shard chooses the accounts to collect; a --snapshot is evaluated as it is",
                           hint="merge the shards' snapshots with `artifact-scan snapshot merge` and evaluate that")
    if args.evidence or args.sign_key is not None:
        from scanner.cli import evidence as evidence_cli  # noqa: PLC0415

        # A bad --sign-key exits 2 before any AWS call; --sign-key implies --evidence; every format is written.
        evidence_cli.prepare_scan(args)
    config = with_profile(load_config(args.config), args.profile)
    check_formats(config)
    formats = args.format or config.output.formats
    _check_stdout(args, formats)
    ruleset = load_ruleset(config, args.rules, builtin=not args.no_builtin_rules)
    options = _audit_options(args, config)
    from scanner.errors import SnapshotError  # noqa: PLC0415

    with expecting("--snapshot", args.snapshot, "SNAPSHOT", SnapshotError):
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


def collect(args: argparse.Namespace) -> ExitCode:
    from scanner import snapshot as snapshots  # noqa: PLC0415
    from scanner.collect import pipeline  # noqa: PLC0415 - collecting imports no evaluation
    from scanner.errors import OutputError  # noqa: PLC0415
    from scanner.output import write_atomic  # noqa: PLC0415

    if args.out.exists():
        raise OutputError(f"{args.out}: exists; a snapshot is evidence and is never overwritten",
                          hint="choose another file with -o")
    config = with_profile(load_config(args.config), args.profile)
    ruleset = load_ruleset(config)
    try:
        snapshot = pipeline.collect_snapshot(config, ruleset, shard=args.shard,
                                             progress=None if args.quiet else _Progress(sys.stderr))
    except ScanInterrupted as interrupted:

        def keep(data: bytes) -> Path:
            write_atomic(args.out, data)
            return Path(args.out)

        raise pipeline.keep_interrupted(interrupted, keep) from None
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


def demo(args: argparse.Namespace) -> ExitCode:
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
    formats = args.format or sorted(writers())  # the demo shows every format
    _check_stdout(args, formats)
    ruleset = load_ruleset(config)
    options = _audit_options(args, config)
    with demo.simulated_organization(args.scenario) as organization:
        outcome = run.scan(
            organization.config(config),
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

    with expecting("--suppressions", suppressions_path, "SUPPRESSIONS", SuppressionError):
        suppressions_data = read_suppressions(suppressions_path) if suppressions_path else None
        if suppressions_data is not None:
            parse_suppressions(suppressions_data, str(suppressions_path))
    with expecting("--baseline", args.baseline, "RESULTS", BaselineError):
        baseline_data = read_baseline(args.baseline) if args.baseline else None
        if baseline_data is not None:
            parse_baseline(baseline_data, str(args.baseline))
    return {
        "gate": Gate(Severity.parse(args.fail_on) if args.fail_on else config.fail_on, args.fail_on_new),
        "suppressions_data": suppressions_data,
        "baseline_data": baseline_data,
        "paper": args.paper or html.paper_from_locale(os.environ),
    }


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

    streamed = to_stdout(args)
    if not args.quiet:
        stream = sys.stderr if streamed else sys.stdout  # stdout carries the one report, nothing else
        colour = table.use_colour(stream)
        terminal.say(stream, table.render(outcome.scan, colour=colour, width=width()), colour=colour)
    written = ", ".join(terminal.escape(path.name) for path in outcome.files if path.parent == outcome.run_dir)
    terminal.err(table.fit(f"wrote {terminal.escape(outcome.run_dir)}/ ({written})", width()))
    if streamed:
        [report] = [path for path in outcome.files if path.name == writers()[args.format[0]].filename]
        terminal.document(report.read_bytes())
    left_out = sarif.left_out_by_the_result_limit(outcome.scan)
    if left_out and any(path.name == writers()["sarif"].filename for path in outcome.files):
        terminal.err(f"warning: results.sarif leaves out the {left_out:,} least severe findings "
                     f"(GitHub code scanning reads at most {sarif.MAX_RESULTS:,} results per run); "
                     "results.json has them all")


def _check_stdout(args: argparse.Namespace, formats: Sequence[str]) -> None:
    """`--out -`: exactly one format, and no evidence bundle (a bundle is the run folder, not a stream)."""
    if not to_stdout(args):
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


def _run_dir(args: argparse.Namespace) -> Path | None:
    """With `--out -` the run folder still goes where it goes by default (reports/<run-id>/): it is the run's
    record (snapshot, rules, settings as used), what --baseline, `evidence export` and an interrupted scan's
    partial snapshot need; only the report itself is streamed."""
    return None if to_stdout(args) else args.out
