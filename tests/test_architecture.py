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

    from scanner.run import RunInterrupted  # a subclass defined elsewhere takes its base's code

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
