"""`evidence verify` derives every report again from the bundled inputs, and completeness from the snapshot.

A forger who can rebuild the manifest (and even sign it: the "edited run folder, then exported and signed"
case) still cannot get a bundle verified unless every report follows from the bundled snapshot, rules,
settings and suppressions through the scan's own pipeline. Every crafted member gives NOT VERIFIED with a
short reason, and exit 1, never a traceback or another exit code.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from scanner import snapshot as snapshots
from scanner.audit import bundle as evidence_bundle
from scanner.audit import keys as evidence_keys
from scanner.audit import tar as evidence_tar
from scanner.audit import verify as evidence_verify
from scanner.cli.command import main
from scanner.errors import EvidenceError
from scanner.report import WRITERS
from tests.test_evidence import scan_inputs
from tests.test_rule_cases import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
UNREADABLE_MEMBER = {
    "member": {"roles_listed": None,
               "errors": [{"api": "sts:AssumeRole", "code": "AccessDenied", "message": "not authorized"}]}
}


GENUINE_FILES: dict[str, bytes] = {}  # the genuine bundle's run files, for forging a manifest by hand


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def command(*argv: str, seed: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter, with its own hash seed: reports must not depend on it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-m", "scanner", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300, check=False)


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bundle written by `scan --evidence --sign-key` in another process, and the key that signed it."""
    root = tmp_path_factory.mktemp("derivation")
    assert main(["evidence", "keygen", str(root / "key.pem")]) == 0
    done = command("scan", *scan_inputs(root / "inputs"), "--out", str(root / "reports" / "run"), "--evidence",
                   "--sign-key", str(root / "key.pem"), seed="1")
    assert done.returncode == 1, done.stderr  # ART-004 fails
    [bundle] = (root / "reports").glob("evidence-*.tar")
    GENUINE_FILES.update(run_files(bundle.read_bytes())[2])
    return {"root": root, "bundle": bundle, "key": root / "key.pem", "pub": root / "key.pub.pem"}


def run_files(bundle: bytes) -> tuple[str, int, dict[str, bytes]]:
    """The bundle's top folder, mtime and run files (relative to run/)."""
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:") as archive:
        members = [(info, archive.extractfile(info).read()) for info in archive.getmembers()]  # type: ignore[union-attr]
    top = members[0][0].name.split("/")[0]
    prefix = f"{top}/run/"
    files = {info.name[len(prefix):]: data for info, data in members if info.name.startswith(prefix)}
    return top, int(members[0][0].mtime), files


def forge(files: dict[str, bytes], top: str, mtime: int, key: Path | None) -> bytes:
    """What a forger with the signing key can make: a consistent manifest over `files`, signed, canonical."""
    private = evidence_keys.load_private_key(key) if key is not None else None
    public = evidence_keys.public_key_pem(private.public_key()) if private is not None else None
    try:
        document = evidence_bundle.build_manifest(files, public)
    except EvidenceError:  # results.json or snapshot.json no longer JSON: the hashes are enough
        document = {**json.loads(evidence_bundle.canonical_json(evidence_bundle.build_manifest(GENUINE_FILES, public))),
                    "files": {n: {"sha256": evidence_bundle.sha256(d), "size": len(d)} for n, d in sorted(files.items())}}
    manifest = evidence_bundle.canonical_json(document)
    members = [(f"{top}/manifest.json", manifest), *((f"{top}/run/{n}", d) for n, d in files.items())]
    if private is not None and public is not None:
        members += [(f"{top}/manifest.json.sig", private.sign(manifest)), (f"{top}/signer.pub.pem", public)]
    return evidence_tar.canonical_tar(members, mtime)


def verify(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, *extra: str) -> tuple[int, str]:
    path = tmp_path / "bundle.tar"
    path.write_bytes(data)
    code, out, err = cli(capsys, "evidence", "verify", str(path), *extra)
    return code, out + err


def edit_json(name: str, change: Callable[[Any], None]) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        document = json.loads(files[name])
        change(document)
        files[name] = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()

    return apply


def put(name: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        files[name] = data

    return apply


def drop(name: str) -> Callable[[dict[str, bytes]], None]:
    def apply(files: dict[str, bytes]) -> None:
        del files[name]

    return apply


def setter(path: tuple[str, ...], value: Any) -> Callable[[Any], None]:
    def apply(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        document[path[-1]] = value

    return apply


def first_html_text(files: dict[str, bytes]) -> None:
    html = files["report.html"]
    index = html.index(b"<title>") + len(b"<title>")
    files["report.html"] = html[:index] + b"X" + html[index + 1:]


@dataclass(frozen=True)
class Craft:
    id: str
    change: Callable[[dict[str, bytes]], None]
    reason: str  # a fragment of the NOT VERIFIED report


CRAFTED = [
    Craft("settings-rules-not-an-object", edit_json("settings.json", setter(("rules",), "x")),
          "settings.json: $.rules: expected an object, found 'x'"),
    Craft("settings-only-rules-string", put("settings.json", b'{"rules": "x"}'), "settings.json: $.run: expected"),
    Craft("settings-not-json", put("settings.json", b"{not json"), "settings.json: not JSON"),
    Craft("settings-a-list", put("settings.json", b"[]"), "settings.json: $: expected an object"),
    Craft("settings-disabled-not-a-list", edit_json("settings.json", setter(("rules", "disabled"), {"a": 1})),
          "$.rules.disabled: expected a list of rule ids"),
    Craft("settings-unknown-severity",
          edit_json("settings.json", setter(("rules", "severity_overrides"), {"ART-004": "urgent"})),
          "$.rules.severity_overrides: expected"),
    Craft("settings-disables-an-unknown-rule", edit_json("settings.json", setter(("rules", "disabled"), ["NOPE-1"])),
          "rule NOPE-1 is not among the loaded rules"),
    Craft("settings-evaluated-at-a-number", edit_json("settings.json", setter(("run", "evaluated_at"), 5)),
          "$.run.evaluated_at: expected a UTC time"),
    Craft("settings-evaluated-at-feb-30", edit_json("settings.json", setter(("run", "evaluated_at"), "2026-02-30T00:00:00Z")),
          "$.run.evaluated_at: expected a valid UTC time"),
    Craft("settings-later-evaluation", edit_json("settings.json", setter(("run", "evaluated_at"), "3000-01-01T00:00:00Z")),
          "run/results.json: differs from the report the bundled inputs give"),
    Craft("settings-run-id-with-escapes", edit_json("settings.json", setter(("run", "run_id"), "x\x1b[31m\nred")),
          "$.run.run_id: expected a run id"),
    Craft("settings-missing", drop("settings.json"), "settings.json is missing"),
    Craft("rule-not-yaml", put("rules/artifact/ART-004.yaml", b"id: [\n"), "the bundled rules do not load"),
    Craft("rule-breaks-its-schema", put("rules/artifact/ART-004.yaml", b"id: ART-004\n"), "rules/artifact/ART-004.yaml"),
    Craft("rule-severity-changed",
          lambda files: files.update({"rules/artifact/ART-004.yaml": files["rules/artifact/ART-004.yaml"].replace(
              b"severity: high", b"severity: low")}),
          "the bundled rules are not the rules the run recorded"),
    Craft("rule-too-deep", put("rules/artifact/more/ART-099.yaml", b"id: ART-099\n"),
          "run/rules/artifact/more/ART-099.yaml: neither an input of the run nor a report"),
    Craft("rule-folder-holds-a-text-file", put("rules/artifact/notes.txt", b"hello\n"),
          "rules/artifact/notes.txt: not a file the rule loader reads"),
    Craft("suppressions-not-yaml", put("suppressions.yaml", b"suppressions: [\n"), "suppressions file is not valid YAML"),
    Craft("suppressions-break-the-schema", put("suppressions.yaml", b"suppressions:\n  - rule: ART-011\n"),
          "suppressions.yaml"),
    Craft("suppressions-removed", drop("suppressions.yaml"), "run/results.json: differs"),
    Craft("snapshot-not-json", put("snapshot.json", b"{"), "not a snapshot"),
    Craft("snapshot-complete-flag-flipped", edit_json("snapshot.json", setter(("metadata", "complete"), False)),
          "$.metadata.complete is false, its content shows: nothing missing"),
    Craft("snapshot-facts-edited", edit_json("snapshot.json", setter(("facts",), {"aws.organizations.organization": []})),
          "the snapshot's stored facts disagree with its raw answers"),
    Craft("snapshot-missing", drop("snapshot.json"), "snapshot.json is missing"),
    Craft("baseline-not-a-results-file", put("baseline.json", b"[1, 2]"), "baseline.json: $.schema_version"),
    Craft("extra-file", put("notes.txt", b"added later\n"), "run/notes.txt: neither an input of the run nor a report"),
    Craft("extra-hidden-file", put(".results.json.x.tmp", b"{}"), "run/.results.json.x.tmp: neither an input"),
    Craft("report-byte-changed", first_html_text, "run/report.html: differs from the report the bundled inputs give"),
    Craft("report-emptied", put("results.sarif", b""), "run/results.sarif: differs"),
    Craft("results-claims-incomplete", edit_json("results.json", setter(("run", "complete"), False)),
          "run/results.json: differs"),
    Craft("results-not-json", put("results.json", b"{"), "run/results.json: differs"),
]


def test_the_crafted_cases_cover_every_input_kind() -> None:
    from scanner import run

    touched = " ".join(case.id for case in CRAFTED)
    for kind in ("settings", "rule", "suppressions", "snapshot", "baseline", "report", "results", "extra"):
        assert kind in touched
    for name in (run.SNAPSHOT_FILE, run.SETTINGS_FILE, run.SUPPRESSIONS_FILE, run.BASELINE_FILE):
        assert run.is_input(name)


@pytest.mark.parametrize("case", CRAFTED, ids=[case.id for case in CRAFTED])
def test_a_crafted_member_in_a_signed_bundle_is_not_verified(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Craft
) -> None:
    top, mtime, files = run_files(genuine["bundle"].read_bytes())
    case.change(files)
    code, out = verify(capsys, tmp_path, forge(files, top, mtime, genuine["key"]), "--public-key", str(genuine["pub"]))
    assert code == 1, out
    assert "NOT VERIFIED" in out and case.reason in out, out
    assert "✓ signature:" in out  # the forger holds the key: only deriving the reports again catches it
    assert "\x1b" not in out  # crafted text reaches the terminal flattened, not as escape sequences


def tar_with(data: bytes, extra: list[tarfile.TarInfo], contents: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as source, \
            tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for info in source.getmembers():
            archive.addfile(info, source.extractfile(info))
        for info, content in zip(extra, contents, strict=False):
            info.size = len(content) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


STRUCTURAL = [
    ("symlink", lambda top: member(f"{top}/run/results.json", tarfile.SYMTYPE, "/etc/passwd"), "a symbolic link"),
    ("hardlink", lambda top: member(f"{top}/run/report2.html", tarfile.LNKTYPE, f"{top}/run/report.html"),
     "a hard link"),
    ("traversal", lambda top: member(f"{top}/run/../../escape.txt"), "unsafe name"),
    ("absolute", lambda top: member("/tmp/evil"), "unsafe name"),
    ("duplicate", lambda top: member(f"{top}/run/results.json"), "run/results.json: appears 2 times"),
    ("outside", lambda top: member("other/file.txt"), "extra member outside"),
]


@pytest.mark.parametrize(("kind", "make", "reason"), STRUCTURAL, ids=[s[0] for s in STRUCTURAL])
def test_a_crafted_tar_member_is_not_verified(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    kind: str, make: Callable[[str], tarfile.TarInfo], reason: str,
) -> None:
    data = genuine["bundle"].read_bytes()
    top = run_files(data)[0]
    code, out = verify(capsys, tmp_path, tar_with(data, [make(top)], [b"{}\n"]))
    assert code == 1, out
    assert "NOT VERIFIED" in out and reason in out, out
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_huge_input_is_not_read(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    top, mtime, files = run_files(genuine["bundle"].read_bytes())
    monkeypatch.setattr(evidence_verify, "MAX_INPUT_BYTES", len(files["snapshot.json"]) - 1)
    code, out = verify(capsys, tmp_path, forge(files, top, mtime, None))
    assert code == 1 and "run/snapshot.json: " in out and "an input may have; not read" in out, out
    assert "not run: an input is too large" in out


def test_the_genuine_bundle_verifies_in_another_process(genuine: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "evidence", "verify", str(genuine["bundle"]), "--public-key", str(genuine["pub"]))
    assert code == 0, out
    assert "✓ re-evaluation: 5 reports derived again" in out or f"{len(WRITERS)} reports derived again" in out
    for writer in WRITERS.values():  # every registered format was written and compared
        assert writer.filename in out
    assert "✓ completeness: derived from the snapshot's content: complete" in out
    assert "✓ run files:" in out
    done = command("evidence", "verify", str(genuine["bundle"]), seed="2")  # another hash seed again
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_snapshot_with_the_facts_an_earlier_version_stored_still_verifies(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Snapshots are saved without derived facts now; one written by an earlier version carries them, and
    verify checks them against the raw answers: the right ones verify (the wrong ones are a Craft above)."""

    top, mtime, files = run_files(genuine["bundle"].read_bytes())
    assert "facts" not in json.loads(files["snapshot.json"])
    snapshot = snapshots.loads(files["snapshot.json"], "snapshot.json")
    edit_json("snapshot.json", setter(("facts",), json.loads(json.dumps(evidence_verify.snapshot_facts(snapshot)))))(files)
    assert json.loads(files["snapshot.json"])["facts"]["aws.iam.role"]
    code, out = verify(capsys, tmp_path, forge(files, top, mtime, genuine["key"]), "--public-key", str(genuine["pub"]))
    assert code == 0, out


def test_flipping_any_byte_of_any_member_is_not_verified(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = genuine["bundle"].read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        members = [(info.name, info.offset_data, info.size) for info in archive.getmembers()]
    rng = random.Random(20260101)
    for name, offset, size in members:
        # One sampled byte of every member; the first and last of those that are no rule file as well.
        ends = {0, size - 1} if "/rules/" not in name else set()
        for position in {*ends, rng.randrange(size)}:
            flipped = bytearray(data)
            flipped[offset + position] ^= 1 << rng.randrange(8)
            code, out = verify(capsys, tmp_path, bytes(flipped))
            assert code in (1, 2), (name, position, out)
            assert "NOT VERIFIED" in out or code == 2, (name, position, out)


def test_flipping_a_byte_of_a_report_is_caught_even_with_a_re_signed_manifest(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top, mtime, files = run_files(genuine["bundle"].read_bytes())
    rng = random.Random(7)
    for writer in WRITERS.values():
        original = files[writer.filename]
        for position in rng.sample(range(len(original)), 2):
            changed = bytearray(original)
            changed[position] ^= 1 << rng.randrange(8)
            code, out = verify(capsys, tmp_path, forge({**files, writer.filename: bytes(changed)}, top, mtime,
                                                       genuine["key"]))
            assert code == 1 and f"run/{writer.filename}: differs" in out, (writer.filename, position, out)


def test_an_edited_run_folder_exported_and_signed_is_not_verified(
    genuine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incomplete run, its results.json edited to `complete: true, errors: []`, then exported and signed."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "snapshot.json").write_bytes(snapshots.dumps(build_snapshot(UNREADABLE_MEMBER)))
    run_dir = tmp_path / "run"
    code, _, _ = cli(capsys, "scan", "--snapshot", str(inputs / "snapshot.json"), "--out", str(run_dir), "-q",
                     "--format", ",".join(WRITERS))
    assert code == 3
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run"]["complete"] is False and results["errors"]
    results["run"]["complete"] = True
    results["errors"] = []
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    bundle = tmp_path / "bundle.tar"
    code, _, _ = cli(capsys, "evidence", "export", str(run_dir), "-o", str(bundle), "--sign-key", str(genuine["key"]))
    assert code == 0
    code, out, _ = cli(capsys, "evidence", "verify", str(bundle), "--public-key", str(genuine["pub"]))
    assert code == 1
    assert "✓ signature:" in out and "✗ re-evaluation:" in out
    assert "run/results.json: differs from the report the bundled inputs give" in out
    assert out.rstrip().splitlines()[-1].startswith("NOT VERIFIED")


def interrupted_snapshot() -> Any:
    full = build_snapshot({})
    return replace(full, metadata=replace(full.metadata, interrupted=True), accounts=full.accounts[:1])


def test_an_interrupted_snapshot_with_only_complete_edited_is_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(snapshots.dumps(interrupted_snapshot()))
    assert document["metadata"]["complete"] is False  # written as derived from the content
    document["metadata"]["complete"] = True  # the only edit
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(document))
    code, _, _ = cli(capsys, "scan", "--snapshot", str(path), "--out", str(tmp_path / "run"), "-q")
    assert code == 3
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["run"]["complete"] is False
    errors = [r for r in results["results"] if r["status"] == "error"]
    assert errors and all("the collection was interrupted" in r["message"] for r in errors)
    # Exported as it is, the disagreement itself fails verification.
    bundle = tmp_path / "bundle.tar"
    assert cli(capsys, "evidence", "export", str(tmp_path / "run"), "-o", str(bundle))[0] == 0
    code, out, _ = cli(capsys, "evidence", "verify", str(bundle))
    assert code == 1
    assert "$.metadata.complete is true, its content shows: the collection was interrupted" in out


GAPS = [
    ("complete", {}, lambda s: s, ()),
    ("interrupted", {}, lambda s: replace(s, metadata=replace(s.metadata, interrupted=True)), ("interrupted",)),
    ("read-failed", UNREADABLE_MEMBER, lambda s: s, ("1 read failed", "its roles were not listed")),
    ("errors-stripped", UNREADABLE_MEMBER,
     lambda s: replace(s, accounts=tuple(replace(a, errors=()) for a in s.accounts)), ("its roles were not listed",)),
    ("agreements-unread", {"agreements": None}, lambda s: s, ("artifact:ListCustomerAgreements",)),
    ("skipped-without-reason", {"member": {"scanned": False}}, lambda s: s, ("no reason given",)),
    ("skipped-with-reason", {"member": {"scanned": False, "skip_reason": "SUSPENDED"}}, lambda s: s, ()),
    ("role-half-read", {"roles": [{"name": "X", "detail_read": False}]}, lambda s: s, ("not read in full",)),
    ("shard-missing-listed", {},
     lambda s: replace(s, metadata=replace(s.metadata, listed_accounts=(*(a.id for a in s.accounts), "999999999999"))),
     ("1 listed account not read",)),
]


@pytest.mark.parametrize(("name", "case", "change", "expected"), GAPS, ids=[g[0] for g in GAPS])
def test_completeness_is_derived_from_the_content(
    name: str, case: dict[str, Any], change: Callable[[Any], Any], expected: tuple[str, ...]
) -> None:
    snapshot = change(build_snapshot(case))
    for claimed in (True, False):  # the stored flag changes nothing
        gaps = snapshots.gaps(replace(snapshot, metadata=replace(snapshot.metadata, complete=claimed)))
        assert bool(gaps) == bool(expected)
        for fragment in expected:
            assert any(fragment in gap for gap in gaps), gaps
    assert json.loads(snapshots.dumps(snapshot))["metadata"]["complete"] is not bool(expected)


def test_a_shard_needs_only_its_own_listed_accounts() -> None:
    from scanner.snapshot.shard import Shard, shard_of

    snapshot = build_snapshot({})
    other = next(str(n) for n in range(100000000000, 100000001000) if shard_of(str(n), 2) == 2)
    listed = (*(a.id for a in snapshot.accounts), other)
    first = replace(snapshot, metadata=replace(snapshot.metadata, shard="1/2", listed_accounts=listed))
    assert not Shard(1, 2).owns(other) and snapshots.gaps(first) == ()
    second = replace(first, metadata=replace(first.metadata, shard="2/2"))
    assert snapshots.gaps(second) == ("1 listed account not read",)
