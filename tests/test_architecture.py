"""Boundaries between the stages, and the type checker, as tests.

evaluate and report never import boto3 (nor the collector): any past snapshot can be evaluated and any
result rendered on a machine without AWS access. Registries agree with what users can type.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import errors
from scanner.cli import command as cli
from scanner.evaluate.resources import FACT_SCHEMAS, RESOURCE_TYPES
from scanner.report import WRITERS

PACKAGE = Path(__file__).resolve().parents[1] / "scanner"
PURE = ("evaluate", "report")
FORBIDDEN = ("boto3", "botocore", "moto", "scanner.collect", "scanner.demo")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("stage", PURE)
def test_pure_stages_import_no_aws_code(stage: str) -> None:
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        bad = {name for name in _imports(path) if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN)}
        assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}"


# Reading and saving what AWS answered depends on neither merging shards nor evaluating: the collector and the
# snapshot file share the shard arithmetic through scanner/snapshot/shard.py, and a snapshot is saved as read.
READERS = ("collect", "snapshot/__init__.py", "snapshot/shard.py")
NOT_FOR_READERS = ("scanner.snapshot.merge", "scanner.evaluate", "scanner.run", "scanner.report", "scanner.rules")


@pytest.mark.parametrize("part", READERS)
def test_collecting_and_saving_a_snapshot_import_no_merge_and_no_evaluation(part: str) -> None:
    paths = sorted((PACKAGE / part).rglob("*.py")) if (PACKAGE / part).is_dir() else [PACKAGE / part]
    assert paths
    for path in paths:
        bad = {name for name in _imports(path) if name.startswith(NOT_FOR_READERS)}
        assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}"


def _function_imports(path: Path, function: str) -> set[str]:
    [node] = [n for n in ast.parse(path.read_text(), str(path)).body
              if isinstance(n, ast.FunctionDef) and n.name == function]
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            names |= {alias.name for alias in sub.names}
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            names.add(sub.module)
            names |= {f"{sub.module}.{alias.name}" for alias in sub.names}
    return names


def test_the_collect_command_saves_a_snapshot_without_the_evaluation_pipeline() -> None:
    """`artifact-scan collect` writes what was read: its handler reaches the collector through
    scanner.collect.pipeline, never through scanner.run (whose import brings the evaluator and every writer)."""
    imported = _function_imports(PACKAGE / "cli" / "scanning.py", "collect")
    assert "scanner.collect.pipeline" in imported
    bad = {name for name in imported if name.startswith(NOT_FOR_READERS)}
    assert not bad, f"cli/scanning.py collect() imports {sorted(bad)}"
    code = (
        "import sys\n"
        "import scanner.cli.scanning, scanner.collect.pipeline, scanner.snapshot\n"
        "print(sorted(m for m in sys.modules if m.startswith(('scanner.run', 'scanner.report', "
        "'scanner.evaluate', 'scanner.snapshot.merge', 'scanner.audit', 'jinja2'))))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent,
                               timeout=120, check=False)
    assert completed.stdout.strip() == "[]", completed.stdout + completed.stderr


# --------------------------------------------------------------------------------------------
# The folders show the pipeline (collect -> snapshot -> evaluate -> report, run.py joining them) and the
# audit workflow beside it (audit/); cli/ sits on top. What a folder may not import, and why:
# --------------------------------------------------------------------------------------------

AWS = ("boto3", "botocore", "moto", "scanner.collect", "scanner.demo")
LAYERS: dict[str, tuple[tuple[str, ...], str]] = {
    "snapshot": ((*AWS, "scanner.evaluate", "scanner.report", "scanner.run", "scanner.audit", "scanner.cli"),
                 "a snapshot is read, written, sharded and merged offline, from any machine"),
    "audit": ((*AWS, "scanner.cli"),
              "suppressions, baselines and evidence bundles are checked offline; verify re-derives through run.py"),
    "evaluate": ((*AWS, "scanner.report", "scanner.audit", "scanner.run", "scanner.cli"),
                 "evaluation is a function of a snapshot and the rules"),
    "report": ((*AWS, "scanner.audit", "scanner.run", "scanner.cli"), "a writer renders a result, nothing more"),
    "catalog": ((*AWS, "scanner.evaluate", "scanner.report", "scanner.run", "scanner.cli"),
                "the catalog is data every stage reads"),
    "collect": (("scanner.evaluate", "scanner.report", "scanner.run", "scanner.audit", "scanner.cli",
                 "scanner.snapshot.merge"), "collecting reads AWS and nothing decides a verdict there"),
    "publish": (("scanner.evaluate", "scanner.run", "scanner.audit", "scanner.cli"),
                "publishing sends a result that was already decided (through the collector's AWS session code)"),
}


def _package_imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (a function-level import counts as much as a top-level one),
    with `from package import module` spelled as package.module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_each_folder_imports_only_what_its_place_in_the_pipeline_allows(folder: str) -> None:
    forbidden, why = LAYERS[folder]
    paths = sorted((PACKAGE / folder).rglob("*.py"))
    assert paths
    for path in paths:
        bad = {name for name in _package_imports(path)
               if any(name == f or name.startswith(f + ".") for f in forbidden)}
        assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}: {why}"


def test_every_folder_of_the_package_has_its_rule() -> None:
    """A new folder says what it may import (data-only folders excepted)."""
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders - {"cli", "schemas"} == set(LAYERS)


def test_only_the_cli_imports_the_cli() -> None:
    users = [path.relative_to(PACKAGE).as_posix() for path in sorted(PACKAGE.rglob("*.py"))
             if not path.is_relative_to(PACKAGE / "cli")
             and any(name == "scanner.cli" or name.startswith("scanner.cli.") for name in _package_imports(path))]
    assert users == ["__main__.py"]


# Outside cli/, nothing decides how the process ends. Each exception, and why:
EXITS_ALLOWED = {
    "errors.py": "defines the error-to-exit-code table the CLI reads",
    "__main__.py": "the entry point hands main()'s code to the interpreter",
    "terminal.py": "the SIGINT handler installed before the CLI is imported ends the process with 130",
}


def _exits(tree: ast.AST) -> list[str]:
    """Where code turns an error into an exit code or ends the process."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("SystemExit", "exit_code_for", "EXIT_CODES", "exit", "quit"):
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in ("exit", "_exit", "exit_code_for", "EXIT_CODES"):
            found.append(node.attr)
        elif isinstance(node, ast.ImportFrom) and any(a.name in ("exit_code_for", "EXIT_CODES") for a in node.names):
            found.append(f"import {node.module}")
    return found


def test_only_the_cli_turns_errors_into_exit_codes() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/") or relative in EXITS_ALLOWED:
            continue
        found += [f"{relative}: {what}" for what in _exits(ast.parse(path.read_text(), str(path)))]
    assert found == []
    assert _exits(ast.parse((PACKAGE / "cli" / "command.py").read_text())), "the check finds nothing to find"
    samples = ["raise SystemExit(2)", "sys.exit(3)", "os._exit(1)", "from scanner.errors import exit_code_for",
               "code = errors.EXIT_CODES[type(e)]"]
    assert all(_exits(ast.parse(sample)) for sample in samples)


def test_offline_evaluation_runs_without_boto3() -> None:
    """Import evaluate, report, rules and snapshot with boto3 made unimportable."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('boto3', 'botocore', 'moto'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import scanner.evaluate, scanner.report, scanner.rules, scanner.snapshot, scanner.audit.suppressions\n"
        "import scanner.audit.baseline, scanner.snapshot.merge\n"
        "print('ok')\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               cwd=PACKAGE.parent)
    assert completed.stdout.strip() == "ok", completed.stderr


def test_registries_agree() -> None:
    assert set(RESOURCE_TYPES) == set(FACT_SCHEMAS)
    assert {"json", "sarif", "html", "junit", "markdown"} <= set(WRITERS)
    assert len({writer.filename for writer in WRITERS.values()}) == len(WRITERS)


def test_the_package_type_checks() -> None:
    # mypy strict with the boto3 stubs, both from the test extra: a missing one fails here, never skips.
    from mypy import api

    out, err, status = api.run([str(PACKAGE), "--no-error-summary"])
    assert status == 0, out + err


def test_the_code_passes_the_chosen_lint_rules() -> None:
    """ruff with the rule set chosen in pyproject.toml ([tool.ruff.lint]) over the package, tests and
    benchmarks; ruff comes with the test extra."""
    completed = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "scanner", "tests", "bench"],
                               capture_output=True, text=True, cwd=PACKAGE.parent, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_has_its_exit_code_from_the_one_table() -> None:
    """Every ScannerError anywhere in the package resolves to an exit code through errors.EXIT_CODES; the
    errors defined in errors.py are listed there by name; and the CLI returns what the table says."""
    for module in pkgutil.walk_packages([str(PACKAGE)], "scanner."):
        if module.name != "scanner.__main__":
            importlib.import_module(module.name)
    own = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.ScannerError)}
    assert own == set(errors.EXIT_CODES)
    everywhere = _subclasses(errors.ScannerError)
    assert everywhere - own, "the walk found no error defined outside errors.py: it did not import the package"
    for cls in everywhere:
        assert any(base in errors.EXIT_CODES for base in cls.__mro__), cls
    assert errors.EXIT_CODES[errors.ScanInterrupted] is errors.ExitCode.INTERRUPTED

    from scanner.collect.pipeline import RunInterrupted  # a subclass defined elsewhere takes its base's code

    interrupted = errors.ScanInterrupted(snapshot=None)
    assert errors.exit_code_for(RunInterrupted.__new__(RunInterrupted)) is errors.ExitCode.INTERRUPTED
    assert errors.exit_code_for(errors.ConfigError("x")) is errors.ExitCode.USAGE
    for error, code in ((interrupted, 130), (errors.ConfigError("bad"), 2)):
        def fail(args: object, error: errors.ScannerError = error) -> errors.ExitCode:
            raise error

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli, "_dispatch", fail)
            assert cli.main(["rules", "list"]) == code


# --------------------------------------------------------------------------------------------
# Nothing names an integration outside the catalog, its rule pack and its own reader
# --------------------------------------------------------------------------------------------

# Where an integration may be named, and why:
NAMING_ALLOWED = {
    "catalog": "the catalog is where integrations are data",
    "collect/artifact.py": "Artifact's own reader (organization agreements from the Artifact API)",
    "demo.py": "the demo plants problems for the built-in packs, so it must say which integration's",
}
# String literals that name an integration for another reason than knowing about it, each with its reason.
# A new one fails the test: move the knowledge into the catalog (or the integration's own reader) instead.
LITERALS_ALLOWED = {
    ("cli/command.py", "Checks AWS Artifact's integration with AWS Organizations across every account."):
        "the tool's own description (the product is named artifact-scan)",
    ("report/sarif.py", "https://docs.aws.amazon.com/artifact/latest/ug/what-is-aws-artifact.html"):
        "the tool's informationUri in SARIF",
    ("config.py", "artifact"): "a client-side rate limit keyed by AWS API (users set it in config.yaml)",
    ("model.py", "artifact"): "the agreements reader's integration, and so what snapshots older than "
        "metadata.integrations were collected for (the snapshot code may not import the boto3 reader)",
    ("collect/answers.py", "artifact:ListCustomerAgreements"):
        "every API's answer shape is checked in one table, the Artifact reader's among them",
    ("collect/session.py", "artifact"):
        "the typed client factory names every boto3 service it creates (its type stubs key on the name)",
    ("snapshot/__init__.py", "the customer agreements (artifact:ListCustomerAgreements)"):
        "a snapshot without the agreements is incomplete; snapshots do not record their integrations yet",
}


def _integration_names() -> re.Pattern[str]:
    from scanner.catalog import load_catalog

    names = {"artifact", "Artifact"}
    for entry in load_catalog().integrations:
        names.update(p for p in entry.principals() if p.endswith(".amazonaws.com"))
        names.update(r.name for r in entry.service_linked_roles if r.name)
        names.update(r.trusted_principal for r in entry.service_linked_roles if r.trusted_principal)
    # "artifact" only as a word of its own: artifact-scan (the tool), SARIF's artifacts and artifactLocation
    # are not the integration.
    words = sorted(names - {"artifact", "Artifact"}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?i:artifact)(?![\w-])|Artifact|(?i:" + "|".join(map(re.escape, words)) + ")")


def _string_literals(tree: ast.AST) -> list[str]:
    """Every string constant except docstrings and other bare string statements (prose, not code)."""
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


def test_nothing_names_an_integration_outside_the_catalog_its_pack_and_its_reader() -> None:
    pattern = _integration_names()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if any(relative == allowed or relative.startswith(allowed + "/") for allowed in NAMING_ALLOWED):
            continue
        for literal in _string_literals(ast.parse(path.read_text(), str(path))):
            if pattern.search(literal) and (relative, literal) not in LITERALS_ALLOWED:
                found.append(f"{relative}: {literal[:100]!r}")
    assert found == []


def test_the_naming_check_finds_what_it_looks_for() -> None:
    pattern = _integration_names()
    named = ["artifact.amazonaws.com", "AWSServiceRoleForArtifact", "ssm.amazonaws.com",
             "AWSServiceRoleForAmazonSSM_AccountDiscovery", "artifact:ListCustomerAgreements", "AWS Artifact"]
    assert all(pattern.search(text) for text in named)
    assert not any(pattern.search(text) for text in ["artifact-scan", "artifactLocation", "artifacts", "sts:AssumeRole"])
    code = 'x = "ssm.amazonaws.com"\ndef f():\n    """Docstrings may say ssm.amazonaws.com."""\n'
    assert _string_literals(ast.parse(code)) == ["ssm.amazonaws.com"]
