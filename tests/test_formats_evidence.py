"""The OCSF, ASFF and OSCAL files go into evidence bundles like every format, and verify."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from scanner.cli import command as cli

NEW_FORMATS = {"asff": "results.asff.json", "ocsf": "results.ocsf.jsonl", "ocsf-all": "results-all.ocsf.jsonl",
               "oscal": "results.oscal.json"}


def test_an_evidence_run_bundles_and_verifies_the_new_formats(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "first"
    assert cli.main(["demo", "--out", str(first), "-q"]) == 0
    snapshot = first / "snapshot.json"
    run_dir = tmp_path / "run"
    # Offline, from the demo's snapshot: --evidence writes every format and the bundle beside the folder.
    assert cli.main(["scan", "--snapshot", str(snapshot), "--out", str(run_dir), "--evidence", "-q"]) == 3
    bundles = list(tmp_path.glob("evidence-*.tar"))
    assert len(bundles) == 1
    with tarfile.open(bundles[0]) as archive:
        names = {Path(name).name for name in archive.getnames()}
        manifest = json.loads(archive.extractfile(next(n for n in archive.getnames()
                                                       if n.endswith("/manifest.json"))).read())  # type: ignore[union-attr]
    assert set(NEW_FORMATS.values()) <= names
    assert set(NEW_FORMATS) <= set(manifest["formats"])
    capsys.readouterr()
    assert cli.main(["evidence", "verify", str(bundles[0])]) == 0, capsys.readouterr()
