"""What the command handlers share: reading the configuration and the rules, the file-kind hint when a
loader refuses a file, `--out -`, and the terminal's width. Imports nothing heavy at module level: the
parser (scanner.cli.command) uses it while `--help` runs."""

from __future__ import annotations

import argparse
import contextlib
import difflib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import terminal
from scanner.errors import ConfigError, ScannerError

if TYPE_CHECKING:  # imported where used: `--help` must not pay for jsonschema, boto3, jinja2 or cryptography
    from scanner.config import Config
    from scanner.model import RuleSet


def did_you_mean(value: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def writers() -> dict[str, Any]:
    from scanner.report import WRITERS  # noqa: PLC0415

    return WRITERS


def width() -> int:
    """The terminal's width (COLUMNS wins), or the table's default when not printing to a terminal."""
    import shutil  # noqa: PLC0415

    from scanner.report import table  # noqa: PLC0415

    return shutil.get_terminal_size((table.DEFAULT_WIDTH, 24)).columns


STDOUT = Path("-")


def to_stdout(args: argparse.Namespace) -> bool:
    return getattr(args, "out", None) == STDOUT


def refuse_stdout(args: argparse.Namespace) -> None:
    """`-o -` is for a report in a pipeline. A snapshot or an evidence bundle is kept as a file: it is
    evidence, never overwritten, and a stream cannot be checked for that."""
    if args.command in ("scan", "demo") or not to_stdout(args):
        return
    what = "an evidence bundle" if args.command == "evidence" else "a snapshot"
    raise ScannerError(f"-o -: {what} is written to a file, not to standard output",
                       hint="give a file name with -o; `--out -` is for `scan` and `demo` with one --format")


@contextlib.contextmanager
def expecting(
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


def load_config(path: Path | None) -> Config:
    from scanner.config import load_config  # noqa: PLC0415


    with expecting("--config", path, "CONFIG", ConfigError):
        return load_config(path)


def with_profile(config: Config, profile: str | None) -> Config:
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
            hint="list the profiles with `aws configure list-profiles`" + did_you_mean(profile, available),
        )
    return replace(config, management=replace(config.management, profile=profile))


def load_ruleset(config: Config, extra: Sequence[Path] = (), builtin: bool = True) -> RuleSet:
    from scanner.rules import load_rules  # noqa: PLC0415

    return load_rules(
        [*config.rules.packs, *extra],
        builtin=builtin and config.rules.builtin,
        disabled=config.rules.disabled,
        severity_overrides=config.rules.severity_overrides,
        config_source=config.source,
    )


def check_formats(config: Config) -> None:
    known = writers()
    unknown = [terminal.excerpt(name) for name in config.output.formats if name not in known]
    if unknown:
        raise ConfigError(
            f"{config.source}: $.output.formats: unknown format {', '.join(unknown)} "
            f"(expected one of: {', '.join(sorted(known))})"
        )
