"""Boundaries between the stages, and the type checker, as tests.

evaluate and report never import boto3 (nor the collector): any past snapshot can be evaluated and any
result rendered on a machine without AWS access. Registries agree with what users can type.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import cli, errors
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
# snapshot file share the shard arithmetic through scanner/shard.py, and a snapshot is saved as read.
READERS = ("collect", "snapshot.py", "shard.py")
NOT_FOR_READERS = ("scanner.merge", "scanner.evaluate", "scanner.run", "scanner.report", "scanner.rules")


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
        "import scanner.evaluate, scanner.report, scanner.rules, scanner.snapshot, scanner.suppressions\n"
        "import scanner.baseline\n"
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
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run([str(PACKAGE), "--no-error-summary"])
    assert status == 0, out + err


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
