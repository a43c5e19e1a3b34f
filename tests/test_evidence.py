"""Evidence bundles: export, sign, verify; every changed byte is named by its file or its offset."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from scanner import snapshot as snapshots
from scanner.audit import bundle as evidence_bundle
from scanner.audit import keys as evidence_keys
from scanner.audit import tar as evidence_tar
from scanner.audit import verify as evidence_verify
from scanner.cli import evidence as evidence_cli
from scanner.cli.command import main
from scanner.report import WRITERS
from scanner.rules import builtin_packs_dir
from tests.test_rule_cases import MEMBER, build_snapshot

# ART-004 (high) fails in the management account; ART-011 fails on the member and is suppressed.
CASE: dict[str, Any] = {
    "remove_slr": True,
    "roles": [
        {
            "name": "AWSArtifactAccountSync",
            "path": "/service-role/",
            "attached": [],
            "trust": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
        }
    ],
}
SECRETS = ("ext-MGMT-5ecret-7781", "ext-MEMBER-5ecret-9912")
CONFIG = f"""\
management:
  external_id: {SECRETS[0]}
member_accounts:
  external_id: {SECRETS[1]}
rules:
  disabled: [ART-005]
  severity_overrides: {{ART-011: high}}
"""
SUPPRESSIONS = f"""\
suppressions:
  - rule: ART-011
    account: "{MEMBER}"
    reason: Kept until the old audit tooling is retired (SEC-1234).
    owner: cloud-security@example.com
    expires: 2999-12-31
"""
RULE_FILES = sorted(
    f"run/rules/{p.parent.name}/{p.name}" for p in builtin_packs_dir().glob("*/*.yaml")
)
RUN_FILES = sorted(
    {
        *(f"run/{w.filename}" for w in WRITERS.values()),
        "run/snapshot.json",
        "run/settings.json",
        "run/suppressions.yaml",
        *RULE_FILES,
    }
)
SIGNED_MEMBERS = sorted(["manifest.json", "manifest.json.sig", "signer.pub.pem", *RUN_FILES])


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def scan_inputs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "snapshot.json").write_bytes(snapshots.dumps(build_snapshot(CASE)))
    (folder / "config.yaml").write_text(CONFIG)
    (folder / "suppressions.yaml").write_text(SUPPRESSIONS)
    return [
        "--snapshot",
        str(folder / "snapshot.json"),
        "--config",
        str(folder / "config.yaml"),
        "--suppressions",
        str(folder / "suppressions.yaml"),
        "-q",
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One run folder written by the real CLI, a key pair, and its unsigned and signed bundles."""
    root = tmp_path_factory.mktemp("evidence")
    run_dir = root / "runs" / "run"
    code = main(["scan", *scan_inputs(root / "inputs"), "--out", str(run_dir), "--format", ",".join(WRITERS)])
    assert code == 1  # ART-004 fails
    pair = evidence_keys.keygen(root / "keys" / "signer.pem")
    unsigned, signed = root / "unsigned.tar", root / "signed.tar"
    assert main(["evidence", "export", str(run_dir), "-o", str(unsigned)]) == 0
    assert (
        main(["evidence", "export", str(run_dir), "-o", str(signed), "--sign-key", str(pair.private_path)])
        == 0
    )
    return {
        "root": root,
        "run": run_dir,
        "key": pair.private_path,
        "pub": pair.public_path,
        "unsigned": unsigned,
        "signed": signed,
    }


@pytest.fixture
def structural_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tamper tests about bytes and names skip re-evaluating the rules (YAML parsing costs ~0.1 s a bundle);
    the end-to-end tests keep it."""
    monkeypatch.setattr(evidence_verify, "_reevaluation_checks", lambda files: [])


def members_of(data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        return [
            (info, archive.extractfile(info).read())  # type: ignore[union-attr]
            for info in archive.getmembers()
        ]


def verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, *extra: str
) -> tuple[int, str, str]:
    path = tmp_path / "bundle.tar"
    path.write_bytes(data)
    return cli(capsys, "evidence", "verify", str(path), *extra)


def failed_lines(out: str) -> str:
    """The failed checks' lines and their details."""
    lines, keep = [], False
    for line in out.splitlines():
        if not line.startswith("    "):
            keep = line.startswith("✗")
        if keep:
            lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Export and verify
# --------------------------------------------------------------------------------------------


def test_unsigned_bundle_verifies(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "evidence", "verify", str(workspace["unsigned"]))
    assert code == 0, out
    for line in (
        "✓ archive:",
        "✓ members:",
        "✓ file hashes:",
        "✓ manifest:",
        "– signature: not signed",
        "✓ rules hash:",
        "✓ re-evaluation:",
        "signer: none",
    ):
        assert line in out
    assert out.rstrip().splitlines()[-1].startswith("verified")


def test_signed_bundle_verifies_and_names_its_signer(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    fingerprint = evidence_keys.fingerprint(evidence_keys.load_public_key(workspace["pub"]))
    code, out, _ = cli(capsys, "evidence", "verify", str(workspace["signed"]))
    assert code == 0, out
    assert f"✓ signature: Ed25519, signed by {fingerprint}" in out
    assert f"signer: {fingerprint}" in out
    code, out, _ = cli(
        capsys, "evidence", "verify", str(workspace["signed"]), "--public-key", str(workspace["pub"])
    )
    assert code == 0, out
    assert "(the key given with --public-key)" in out


def test_bundle_layout_is_canonical_and_holds_the_run_folder(workspace: dict[str, Path]) -> None:
    data = workspace["signed"].read_bytes()
    manifest = json.loads(members_of(data)[0][1])
    run = json.loads((workspace["run"] / "results.json").read_bytes())["run"]
    start = evidence_bundle.mtime(run["started_at"])
    top = f"evidence-{run['run_id']}"
    names = []
    for info, content in members_of(data):
        assert info.isreg() and info.mode == 0o644 and info.uid == info.gid == 0
        assert info.uname == info.gname == "" and info.mtime == start
        names.append(info.name)
        if info.name.startswith(f"{top}/run/"):
            assert content == (workspace["run"] / info.name[len(f"{top}/run/") :]).read_bytes()
    assert names == sorted(names) == [f"{top}/{name}" for name in SIGNED_MEMBERS]
    assert data.endswith(bytes(1024)) and len(data) % 512 == 0
    assert manifest["run"] == run and manifest["run"]["organization_id"] == "o-exampleorg1"
    assert manifest["caller"] is None  # the test snapshot has no caller identity
    assert manifest["formats"] == sorted(WRITERS)
    assert manifest["files"]["results.json"]["sha256"] == evidence_bundle.sha256(
        (workspace["run"] / "results.json").read_bytes()
    )
    assert manifest["signature"]["public_key_sha256"].startswith("sha256:")


def test_export_is_deterministic(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    again = workspace["root"] / "again.tar"
    code, _, _ = cli(
        capsys,
        "evidence",
        "export",
        str(workspace["run"]),
        "-o",
        str(again),
        "--sign-key",
        str(workspace["key"]),
    )
    assert code == 0
    assert again.read_bytes() == workspace["signed"].read_bytes()


def test_no_secret_is_in_any_byte_of_the_bundle(workspace: dict[str, Path]) -> None:
    for bundle in (workspace["unsigned"], workspace["signed"]):
        data = bundle.read_bytes()
        assert b'"member_accounts"' in data  # settings.json is there ...
        for secret in SECRETS:
            assert secret.encode() not in data  # ... without the external ids


def test_scan_evidence_with_sign_key_end_to_end(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "reports" / "run"
    code, _, err = cli(
        capsys,
        "scan",
        *scan_inputs(tmp_path / "inputs"),
        "--out",
        str(run_dir),
        "--format",
        "json",
        "--sign-key",
        str(workspace["key"]),
    )  # --sign-key implies --evidence
    assert code == 1  # the scan's own exit code
    assert {w.filename for w in WRITERS.values()} <= {p.name for p in run_dir.iterdir()}  # every format
    [bundle] = (tmp_path / "reports").glob("evidence-*.tar")  # beside the run folder, not in it
    assert f"wrote {bundle}" in err and "signed by sha256:" in err
    code, out, _ = cli(capsys, "evidence", "verify", str(bundle), "--public-key", str(workspace["pub"]))
    assert code == 0, out


@pytest.mark.parametrize("key", ["missing", "rsa", "public", "garbage"])
def test_bad_sign_key_exits_2_before_any_aws_call(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    def no_aws(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("collected although the signing key is unusable")

    monkeypatch.setattr("scanner.collect.pipeline.collect_snapshot", no_aws)
    path = tmp_path / "key.pem"
    if key == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        path.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    elif key == "public":
        path.write_bytes(workspace["pub"].read_bytes())
    elif key == "garbage":
        path.write_text("not a key\n")
    code, _, err = cli(capsys, "scan", "--out", str(tmp_path / "run"), "--sign-key", str(path))
    assert code == 2
    assert f"error: {path}" in err
    assert not (tmp_path / "run").exists()


def test_encrypted_sign_key_needs_the_passphrase(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = tmp_path / "encrypted.pem"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    monkeypatch.delenv(evidence_keys.PASSPHRASE_ENV, raising=False)
    code, _, err = cli(
        capsys,
        "evidence",
        "export",
        str(workspace["run"]),
        "-o",
        str(tmp_path / "b.tar"),
        "--sign-key",
        str(key),
    )
    assert code == 2 and "encrypted" in err and evidence_keys.PASSPHRASE_ENV in err
    monkeypatch.setenv(evidence_keys.PASSPHRASE_ENV, "correct horse")
    code, _, err = cli(
        capsys,
        "evidence",
        "export",
        str(workspace["run"]),
        "-o",
        str(tmp_path / "b.tar"),
        "--sign-key",
        str(key),
    )
    assert code == 0 and "signed by sha256:" in err


# --------------------------------------------------------------------------------------------
# Tampering: every member's content, every header field, padding, members, the signer
# --------------------------------------------------------------------------------------------


def test_the_parametrized_members_are_every_member(workspace: dict[str, Path]) -> None:
    names = [info.name.split("/", 1)[1] for info, _ in members_of(workspace["signed"].read_bytes())]
    assert names == SIGNED_MEMBERS


@pytest.mark.parametrize("member", SIGNED_MEMBERS)
def test_a_changed_byte_in_any_member_is_named(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
    member: str,
) -> None:
    data = bytearray(workspace["signed"].read_bytes())
    [(info, content)] = [(i, c) for i, c in members_of(bytes(data)) if i.name.endswith("/" + member)]
    data[info.offset_data + len(content) // 2] ^= 0x01
    code, out, err = verify(capsys, tmp_path, bytes(data))
    if member == "manifest.json":  # still JSON: named as changed; no longer JSON: unreadable (exit 2)
        assert (code == 1 and "manifest.json" in failed_lines(out)) or (code == 2 and "manifest.json" in err)
        return
    assert code == 1, out
    failures = failed_lines(out)
    assert "✓ archive:" in out  # the change is inside a file: the tar's structure is intact
    if member.startswith("run/"):
        assert f"{member}: SHA-256 differs from the manifest's" in failures
    elif member == "manifest.json.sig":
        assert "manifest.json.sig: does not verify over manifest.json" in failures
    else:
        assert "signer.pub.pem:" in failures


HEADER_CASES = [(name, flip) for name, _, _ in evidence_tar.HEADER_FIELDS for flip in (0x01, 0xFF)]


@pytest.mark.parametrize(("field", "flip"), HEADER_CASES, ids=[f"{f}-{x:#x}" for f, x in HEADER_CASES])
def test_a_changed_header_byte_is_named_by_its_offset(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
    field: str,
    flip: int,
) -> None:
    original = workspace["signed"].read_bytes()
    members = members_of(original)
    start = {name: s for name, s, _ in evidence_tar.HEADER_FIELDS}[field]
    for info, _ in (members[0], members[1], members[len(members) // 2], members[-1]):
        data = bytearray(original)
        offset = info.offset + start
        data[offset] ^= flip
        code, out, err = verify(capsys, tmp_path, bytes(data))
        assert code == 1, (info.name, err)
        shown = info.name.split("/", 1)[1]
        assert f"offset {offset}: tar header of {shown}, field {field}" in failed_lines(out), out
        assert "✓ file hashes:" in out  # the members were still found where the manifest puts them


def test_changed_padding_and_end_blocks_are_named_by_offset(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    original = workspace["signed"].read_bytes()
    info, content = next((i, c) for i, c in members_of(original) if len(c) % 512)
    shown = info.name.split("/", 1)[1]
    cases = {
        info.offset_data + len(content): f"padding after {shown}",
        len(original) - 1024: "end-of-archive blocks",
        len(original) - 1: "end-of-archive blocks",
    }
    for offset, label in cases.items():
        data = bytearray(original)
        data[offset] ^= 0x20
        code, out, _ = verify(capsys, tmp_path, bytes(data))
        assert code == 1
        assert f"offset {offset}: {label}" in failed_lines(out)
    code, out, _ = verify(capsys, tmp_path, original + b"x" * 512)
    assert code == 1
    assert f"offsets {len(original)}-{len(original) + 511}: 512 bytes after the end of the archive" in out


def rebuild(data: bytes, change: Any) -> bytes:
    """The bundle's members, changed by `change(dict name -> bytes)`, as a canonical tar again."""
    members = members_of(data)
    mtime = int(members[0][0].mtime)
    contents = {info.name: content for info, content in members}
    change(contents)
    return evidence_tar.canonical_tar(list(contents.items()), mtime)


def test_a_removed_member_is_named(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    def remove(contents: dict[str, bytes]) -> None:
        [name] = [n for n in contents if n.endswith("/run/results.sarif")]
        del contents[name]

    code, out, _ = verify(capsys, tmp_path, rebuild(workspace["unsigned"].read_bytes(), remove))
    assert code == 1
    assert "run/results.sarif: missing (the manifest lists it)" in failed_lines(out)


def test_an_added_member_is_named(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    def add(contents: dict[str, bytes]) -> None:
        top = next(iter(contents)).split("/")[0]
        contents[f"{top}/run/notes.txt"] = b"added later\n"

    code, out, _ = verify(capsys, tmp_path, rebuild(workspace["unsigned"].read_bytes(), add))
    assert code == 1
    assert "run/notes.txt: extra member, not in the manifest" in failed_lines(out)


def test_links_devices_and_unsafe_names_are_refused(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for info, content in members_of(workspace["unsigned"].read_bytes()):
            archive.addfile(info, io.BytesIO(content))
        top = info.name.split("/")[0]
        for name, kind in (
            ("../escape.txt", tarfile.REGTYPE),
            ("/etc/evil", tarfile.REGTYPE),
            (f"{top}/run/link", tarfile.SYMTYPE),
            (f"{top}/run/dev", tarfile.CHRTYPE),
        ):
            extra = tarfile.TarInfo(name)
            extra.type = kind
            extra.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            archive.addfile(extra, io.BytesIO(b""))
    code, out, _ = verify(capsys, tmp_path, buffer.getvalue())
    assert code == 1
    failures = failed_lines(out)
    for text in (
        "'../escape.txt': unsafe name",
        "'/etc/evil': unsafe name",
        "run/link: a symbolic link",
        "run/dev: a character device",
    ):
        assert text in failures
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_consistent_edit_of_results_json_fails_re_evaluation(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(contents: dict[str, bytes]) -> None:
        [results_name] = [n for n in contents if n.endswith("/run/results.json")]
        [manifest_name] = [n for n in contents if n.endswith("/manifest.json")]
        results = json.loads(contents[results_name])
        [finding] = [r for r in results["results"] if r["rule_id"] == "ART-004" and r["status"] == "fail"]
        finding["status"] = "pass"
        edited = (json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        manifest = json.loads(contents[manifest_name])
        manifest["files"]["results.json"] = {"sha256": evidence_bundle.sha256(edited), "size": len(edited)}
        contents[results_name] = edited
        contents[manifest_name] = evidence_bundle.canonical_json(manifest)

    code, out, _ = verify(capsys, tmp_path, rebuild(workspace["unsigned"].read_bytes(), edit))
    assert code == 1
    for line in ("✓ archive:", "✓ members:", "✓ file hashes:", "✓ manifest:", "✓ rules hash:"):
        assert line in out  # the forgery is consistent ...
    failures = failed_lines(out)
    assert "✗ re-evaluation:" in failures  # ... but the snapshot and the rules say otherwise
    assert "ART-004 on " in failures and 'status "pass" in results.json, "fail" again' in failures


def test_another_public_key_fails(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    other = evidence_keys.keygen(tmp_path / "other.pem")
    code, out, _ = cli(
        capsys, "evidence", "verify", str(workspace["signed"]), "--public-key", str(other.public_path)
    )
    assert code == 1
    assert f"not by the expected key {other.fingerprint}" in failed_lines(out)
    code, out, _ = cli(
        capsys, "evidence", "verify", str(workspace["unsigned"]), "--public-key", str(other.public_path)
    )
    assert code == 1
    assert "the bundle is not signed, but --public-key expects" in failed_lines(out)


def test_a_bundle_re_signed_by_another_key_is_caught_by_the_pinned_key(
    workspace: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    structural_only: None,
) -> None:
    forger = evidence_keys.keygen(tmp_path / "forger.pem")
    forged = tmp_path / "forged.tar"
    assert (
        main(
            [
                "evidence",
                "export",
                str(workspace["run"]),
                "-o",
                str(forged),
                "--sign-key",
                str(forger.private_path),
            ]
        )
        == 0
    )
    code, out, _ = cli(capsys, "evidence", "verify", str(forged))
    assert code == 0 and forger.fingerprint in out  # valid, but shows who signed it
    code, out, _ = cli(capsys, "evidence", "verify", str(forged), "--public-key", str(workspace["pub"]))
    assert code == 1
    assert f"signed by {forger.fingerprint}, not by the expected key" in failed_lines(out)


# --------------------------------------------------------------------------------------------
# Unreadable bundles: exit 2
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["half", "inside-first-member", "end-blocks", "last-byte"])
def test_a_truncated_bundle_exits_2(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: str
) -> None:
    data = workspace["signed"].read_bytes()
    length = {
        "half": len(data) // 2,
        "inside-first-member": 700,
        "end-blocks": len(data) - 1024,
        "last-byte": len(data) - 1,
    }[cut]
    code, _, err = verify(capsys, tmp_path, data[:length])
    assert code == 2
    assert "truncated" in err


def not_json_manifest(data: bytes) -> bytes:
    def change(contents: dict[str, bytes]) -> None:
        [name] = [n for n in contents if n.endswith("/manifest.json")]
        contents[name] = b"{not json\n"

    return rebuild(data, change)


def no_manifest(data: bytes) -> bytes:
    def change(contents: dict[str, bytes]) -> None:
        for name in [n for n in contents if "/run/" not in n or n.endswith("results.json")]:
            del contents[name]

    return rebuild(data, change)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda data: b"", "an empty file"),
        (lambda data: b'{"manifest_version": 1}\n' * 40, "not a tar archive"),
        (lambda data: os.urandom(4096), "not a tar archive"),
        (gzip.compress, "a compressed file"),
        (not_json_manifest, "manifest.json: not JSON"),
        (no_manifest, "no manifest.json in the archive"),
    ],
    ids=["empty", "json", "random", "gzip", "manifest-not-json", "no-manifest"],
)
def test_not_a_bundle_exits_2(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    code, out, err = verify(capsys, tmp_path, make(workspace["unsigned"].read_bytes()))
    assert code == 2
    assert message in err and out == ""


def test_size_limit(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence_bundle, "MAX_BUNDLE_BYTES", 4096)
    code, _, err = cli(capsys, "evidence", "verify", str(workspace["unsigned"]))
    assert code == 2
    assert "more than the 4096 bytes an evidence bundle may have" in err


def test_missing_bundle_and_bad_public_key_exit_2(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "evidence", "verify", str(tmp_path / "nope.tar"))
    assert code == 2 and "no such file" in err
    code, _, err = cli(
        capsys, "evidence", "verify", str(workspace["signed"]), "--public-key", str(workspace["key"])
    )
    assert code == 2 and "not a PEM public key" in err and "public half" in err


# --------------------------------------------------------------------------------------------
# Never overwrite
# --------------------------------------------------------------------------------------------


def test_export_never_overwrites(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bundle.tar"
    target.write_bytes(b"earlier evidence")
    code, _, err = cli(capsys, "evidence", "export", str(workspace["run"]), "-o", str(target))
    assert code == 2 and "exists; evidence is never overwritten" in err
    assert target.read_bytes() == b"earlier evidence"
    # The default path, beside the run folder: the first export writes it, the second refuses.
    run_copy = tmp_path / "runs" / "run"
    shutil.copytree(workspace["run"], run_copy)
    code, _, err = cli(capsys, "evidence", "export", str(run_copy))
    assert code == 0
    [bundle] = (tmp_path / "runs").glob("evidence-*.tar")
    before = bundle.read_bytes()
    code, _, err = cli(capsys, "evidence", "export", str(run_copy))
    assert code == 2 and f"{bundle}: exists" in err
    assert bundle.read_bytes() == before
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")] == []  # no staging left


def test_export_refuses_to_write_inside_the_run_folder(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "evidence", "export", str(workspace["run"]), "-o", str(workspace["run"] / "e.tar")
    )
    assert code == 2 and "inside the run folder" in err
    assert not (workspace["run"] / "e.tar").exists()


def test_export_of_a_folder_that_is_no_run_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.json").write_text("{}")
    code, _, err = cli(capsys, "evidence", "export", str(tmp_path))
    assert code == 2 and "not a run folder: snapshot.json, settings.json missing" in err


def test_keygen_writes_0600_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "signing.pem"
    code, out, err = cli(capsys, "evidence", "keygen", str(private))
    assert code == 0
    public = tmp_path / "signing.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert isinstance(evidence_keys.load_private_key(private), ed25519.Ed25519PrivateKey)
    assert out.strip() == f"fingerprint: {evidence_keys.fingerprint(evidence_keys.load_public_key(public))}"
    before = private.read_bytes(), public.read_bytes()
    code, _, err = cli(capsys, "evidence", "keygen", str(private))
    assert code == 2 and "exists; a key is never overwritten" in err
    assert (private.read_bytes(), public.read_bytes()) == before
    # An existing public key file alone also stops it, before the private key is written.
    lone = tmp_path / "lone.pem"
    (tmp_path / "lone.pub.pem").write_text("keep me")
    code, _, err = cli(capsys, "evidence", "keygen", str(lone))
    assert code == 2 and not lone.exists()


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def test_the_report_falls_back_to_ascii() -> None:
    result = evidence_verify.Verification(
        "b.tar",
        "run",
        None,
        None,
        (
            evidence_verify.Check("archive", True, "fine"),
            evidence_verify.Check("members", False, "bad", ("x: missing",)),
            evidence_verify.Check("signature", None, "not signed"),
        ),
    )
    text = evidence_cli.render(result, encoding="ascii")
    text.encode("ascii")
    assert "[ok]   archive: fine" in text and "[FAIL] members: bad\n    x: missing" in text
    assert "NOT VERIFIED: 1 check(s) failed: members" in text
    quiet = evidence_cli.render(result, quiet=True)
    assert quiet == "✗ members: bad\n    x: missing\nNOT VERIFIED: 1 check(s) failed: members\n"


def test_export_refuses_links_in_the_run_folder(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_copy = tmp_path / "run"
    shutil.copytree(workspace["run"], run_copy)
    (run_copy / "passwd").symlink_to("/etc/passwd")
    code, _, err = cli(capsys, "evidence", "export", str(run_copy))
    assert code == 2 and "a symbolic link; a run folder holds only regular files" in err
    assert list(tmp_path.glob("evidence-*")) == []
