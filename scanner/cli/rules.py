"""`rules validate`, `rules list` and `rules facts`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import terminal
from scanner.cli.common import load_config, load_ruleset, width
from scanner.errors import ExitCode, RuleError, ScannerError

if TYPE_CHECKING:
    from scanner.model import RulePack, RuleSet


def run(args: argparse.Namespace) -> ExitCode:
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
    config = load_config(args.config)
    ruleset = load_ruleset(config, args.paths)
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
    if args.framework is None:
        terminal.out(table.fit(_packs_line(ruleset), width()))
    terminal.out(table.columns([[terminal.excerpt(cell, 120) for cell in row] for row in rows], headers, width()))
    return ExitCode.OK


def _packs_line(ruleset: RuleSet) -> str:
    """Which packs the rules come from, and which integrations each applies to (`*`: every one the catalog
    holds that no other pack covers)."""
    from scanner.model import EVERY_INTEGRATION  # noqa: PLC0415

    def applies(pack: RulePack) -> str:
        named = sorted({r.integration for r in pack.rules if r.integration is not None})
        return "every integration" if named == [EVERY_INTEGRATION] else ", ".join(named) or "no integration"

    described = [f"{terminal.escape(p.id)} {terminal.escape(p.version)} ({len(p.rules)} rules; {applies(p)})"
                 for p in ruleset.packs]
    return f"{len(ruleset.packs)} pack(s): " + "; ".join(described)


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
