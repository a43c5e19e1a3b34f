"""Boundaries between the stages, and the type checker, as tests.

evaluate and report never import boto3 (nor the collector): any past snapshot can be evaluated and any
result rendered on a machine without AWS access. Registries agree with what users can type.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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
