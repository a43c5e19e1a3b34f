"""Evidence bundles: one canonical, uncompressed tar per run, a manifest, and an optional signature.

A bundle holds the run folder exactly as it was (snapshot, rules and settings as used, suppressions,
results in every format the run wrote) under `evidence-<run-id>/run/`, and beside it:

    evidence-<run-id>/manifest.json       SHA-256 and size of every file, and the run's metadata
    evidence-<run-id>/manifest.json.sig   Ed25519 signature over manifest.json's exact bytes (signed only)
    evidence-<run-id>/signer.pub.pem      the signer's public key (signed only)


The tar is canonical (scanner.audit.tar), so the same run exports to the same bytes, with mtime = the
run's start. Everything in the manifest is derived from the run's files, so that verification
(scanner.audit.verify) can derive it again. Errors are `EvidenceError`s; nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.audit.keys import fingerprint, public_key_pem
from scanner.audit.tar import canonical_tar
from scanner.errors import EvidenceError
from scanner.output import write_new

MANIFEST_VERSION = 1
BUNDLE_FORMAT = "artifact-scan evidence bundle"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PUBLIC_KEY = "signer.pub.pem"
RUN = "run"  # the run folder's files are under evidence-<run-id>/run/
REQUIRED_RUN_FILES = ("results.json", "snapshot.json", "settings.json")

# A bundle is read into memory whole; anything larger is not a bundle this tool wrote.
MAX_BUNDLE_BYTES = 2 * 1024**3
_SAFE_COMPONENT = re.compile(r"^[^/\\\x00]+$")
_ATOMIC_LEFTOVER = re.compile(r"^\..+\.tmp$")  # a crashed write_atomic's temporary file


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def canonical_json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_file(files: Mapping[str, bytes], name: str) -> Any:
    if name not in files:
        raise EvidenceError(f"{name} is missing")
    try:
        return json.loads(files[name])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EvidenceError(f"{name} is not JSON: {exc}") from None


def run_info(files: Mapping[str, bytes]) -> dict[str, Any]:
    results = json_file(files, "results.json")
    run = results.get("run") if isinstance(results, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("run_id"), str):
        raise EvidenceError("results.json has no $.run.run_id")
    return run


def _signature_block(public_pem: bytes) -> dict[str, str]:
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return {
        "algorithm": "ed25519",
        "public_key_sha256": fingerprint(key),
        "public_key_file": PUBLIC_KEY,
        "signature_file": SIGNATURE,
    }


def build_manifest(files: Mapping[str, bytes], public_pem: bytes | None = None) -> dict[str, Any]:
    """Everything in the manifest is derived from the run's files (and the signer's public key), so that
    verification can derive it again and name any value that was changed."""
    from scanner.report import WRITERS  # noqa: PLC0415 - the registry imports every writer

    run = run_info(files)
    snapshot = json_file(files, "snapshot.json")
    metadata = snapshot.get("metadata") if isinstance(snapshot, dict) else None
    caller = metadata.get("caller") if isinstance(metadata, dict) else None
    return {
        "manifest_version": MANIFEST_VERSION,
        "format": BUNDLE_FORMAT,
        "run": run,
        "caller": caller,
        "formats": sorted(name for name, writer in WRITERS.items() if writer.filename in files),
        "files": {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(files.items())},
        "signature": None if public_pem is None else _signature_block(public_pem),
    }


def mtime(started_at: Any) -> int:
    """The run's start, as the members' mtime; 0 when the run has none."""
    if not isinstance(started_at, str):
        return 0
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0, int(moment.timestamp()))


def top_folder(run_id: str) -> str:
    return f"evidence-{run_id}"


def is_safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(_SAFE_COMPONENT.match(p) and p not in (".", "..") for p in parts)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def read_run_dir(run_dir: Path) -> dict[str, bytes]:
    """Every regular file of the run folder by its relative POSIX path; a link or device is refused."""
    if not run_dir.is_dir():
        raise EvidenceError(f"{run_dir}: not a run folder (no such folder)")
    files: dict[str, bytes] = {}
    total = 0
    for folder, dirs, names in os.walk(run_dir, followlinks=False):
        for name in sorted([*dirs, *names]):
            path = Path(folder) / name
            if path.is_symlink():
                raise EvidenceError(f"{path}: a symbolic link; a run folder holds only regular files")
        for name in names:
            path = Path(folder) / name
            if not path.is_file():
                raise EvidenceError(f"{path}: not a regular file")
            if _ATOMIC_LEFTOVER.match(name):
                continue
            relative = path.relative_to(run_dir).as_posix()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise EvidenceError(f"{path}: cannot read: {exc.strerror or exc}") from None
            total += len(data)
            if total > MAX_BUNDLE_BYTES:
                raise EvidenceError(
                    f"{run_dir}: more than {limit_text()} of files; too large for an evidence bundle"
                )
            files[relative] = data
    missing = [name for name in REQUIRED_RUN_FILES if name not in files]
    if missing:
        raise EvidenceError(
            f"{run_dir}: not a run folder: {', '.join(missing)} missing",
            hint="export the folder a scan wrote (reports/<run-id>/ or its --out)",
        )
    if not any(name.startswith("rules/") for name in files):
        raise EvidenceError(f"{run_dir}: not a run folder: no rules/ (the rules as used)")
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class Bundle:
    data: bytes
    run_id: str
    manifest: Mapping[str, Any]
    signer: str | None  # the public key's fingerprint when signed


def build_bundle(run_dir: Path, private_key: Ed25519PrivateKey | None = None) -> Bundle:
    files = read_run_dir(run_dir)
    try:
        run = run_info(files)
    except EvidenceError as exc:
        raise EvidenceError(f"{run_dir}: {exc}") from None
    run_id = run["run_id"]
    if not _SAFE_COMPONENT.match(run_id) or run_id in (".", ".."):
        raise EvidenceError(f"{run_dir}: results.json: run id {run_id!r} cannot name a folder")
    public_pem = public_key_pem(private_key.public_key()) if private_key else None
    try:
        manifest = build_manifest(files, public_pem)
    except EvidenceError as exc:
        raise EvidenceError(f"{run_dir}: {exc}") from None
    manifest_bytes = canonical_json(manifest)
    top = top_folder(run_id)
    members = [(f"{top}/{MANIFEST}", manifest_bytes)]
    if private_key is not None and public_pem is not None:
        members += [
            (f"{top}/{SIGNATURE}", private_key.sign(manifest_bytes)),
            (f"{top}/{PUBLIC_KEY}", public_pem),
        ]
    members += [(f"{top}/{RUN}/{name}", data) for name, data in files.items()]
    data = canonical_tar(members, mtime(run.get("started_at")))
    signer = fingerprint(private_key.public_key()) if private_key else None
    return Bundle(data, run_id, manifest, signer)


def default_bundle_path(run_dir: Path, run_id: str) -> Path:
    """Beside the run folder, never inside the folder it hashes."""
    return run_dir.resolve().parent / f"evidence-{run_id}.tar"


@dataclass(frozen=True)
class Exported:
    path: Path
    bundle: Bundle
    formats: tuple[str, ...]
    missing_formats: tuple[str, ...]


def export(
    run_dir: Path, *, out: Path | None = None, private_key: Ed25519PrivateKey | None = None
) -> Exported:
    from scanner.report import WRITERS  # noqa: PLC0415

    bundle = build_bundle(run_dir, private_key)
    path = out if out is not None else default_bundle_path(run_dir, bundle.run_id)
    if path.resolve().is_relative_to(run_dir.resolve()):
        raise EvidenceError(
            f"{path}: inside the run folder it would hash; the bundle must be written elsewhere",
            hint="leave -o unset to write it beside the run folder",
        )
    write_new(path, bundle.data)
    formats = tuple(bundle.manifest["formats"])
    return Exported(path, bundle, formats, tuple(sorted(set(WRITERS) - set(formats))))


def limit_text() -> str:
    limit = MAX_BUNDLE_BYTES
    return f"{limit // 1024**3} GiB" if limit % 1024**3 == 0 else f"{limit} bytes"
