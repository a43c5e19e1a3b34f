"""Evidence bundles: one canonical, uncompressed tar per run, a manifest, and an optional signature.

A bundle holds the run folder exactly as it was (snapshot, rules and settings as used, suppressions,
results in every format the run wrote) under `evidence-<run-id>/run/`, and beside it:

    evidence-<run-id>/manifest.json       SHA-256 and size of every file, and the run's metadata
    evidence-<run-id>/manifest.json.sig   Ed25519 signature over manifest.json's exact bytes (signed only)
    evidence-<run-id>/signer.pub.pem      the signer's public key (signed only)

The tar is canonical, so the same run exports to the same bytes: regular files only, sorted by name,
USTAR headers with mode 0644, uid/gid 0, empty owner names, mtime = the run's start, two zero blocks at
the end and nothing after them. Verification accounts for every byte of it: file contents by the
manifest's hashes, the manifest by deriving it again from the files (and by the signature), and every
header and padding byte by rebuilding the canonical archive from the members and comparing. And every
report in the bundle by deriving it again from the bundled inputs (snapshot, rules, settings,
suppressions, baseline) through the scan's own pipeline, `scanner.run.derive`, and comparing bytes: a
file that is neither an input nor such a report, or a report that differs, fails verification.

No printing here: errors are `EvidenceError`s, a verification is a `Verification` the CLI prints.
Nothing is ever extracted from a bundle onto disk except the rule files, which the rule loader reads
from a fresh temporary folder under names checked to be plain `rules/<pack>/<file>` paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.errors import RuleError, ScannerError
from scanner.output import write_atomic

MANIFEST_VERSION = 1
BUNDLE_FORMAT = "artifact-scan evidence bundle"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PUBLIC_KEY = "signer.pub.pem"
RUN = "run"  # the run folder's files are under evidence-<run-id>/run/
REQUIRED_RUN_FILES = ("results.json", "snapshot.json", "settings.json")

# A bundle is read into memory whole; anything larger is not a bundle this tool wrote.
MAX_BUNDLE_BYTES = 2 * 1024**3
PASSPHRASE_ENV = "ARTIFACT_SCAN_KEY_PASSPHRASE"

ED25519_SIGNATURE_SIZE = 64
ED25519_PUBLIC_PEM_SIZE = 113  # "-----BEGIN PUBLIC KEY-----\n" + base64 of the 44-byte SPKI + footer

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_END_OF_ARCHIVE = bytes(2 * BLOCK)
# USTAR header fields: name, start, end.
HEADER_FIELDS = (
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("chksum", 148, 156),
    ("typeflag", 156, 157),
    ("linkname", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("uname", 265, 297),
    ("gname", 297, 329),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
    ("prefix", 345, 500),
    ("pad", 500, 512),
)
_SAFE_COMPONENT = re.compile(r"^[^/\\\x00]+$")
_ATOMIC_LEFTOVER = re.compile(r"^\..+\.tmp$")  # a crashed write_atomic's temporary file


class EvidenceError(ScannerError):
    """A run folder cannot be exported, a key cannot be used, or a file would be overwritten."""


class BundleUnreadable(EvidenceError):
    """The file is not an evidence bundle this version can read: nothing could be verified."""


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER | sha256sum` gives."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read_key_file(path: Path, what: str) -> bytes:
    from scanner import files  # noqa: PLC0415

    return files.read_limited(path, what=what, limit=files.MAX_KEY_BYTES, error=EvidenceError)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key in PEM; an encrypted one is opened with $ARTIFACT_SCAN_KEY_PASSPHRASE."""
    data = _read_key_file(path, "signing key")
    try:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:  # encrypted
            passphrase = os.environ.get(PASSPHRASE_ENV)
            if not passphrase:
                raise EvidenceError(
                    f"{path}: the signing key is encrypted", hint=f"set {PASSPHRASE_ENV} to its passphrase"
                ) from None
            key = serialization.load_pem_private_key(data, password=passphrase.encode())
    except ValueError as exc:
        raise EvidenceError(
            f"{path}: not a usable PEM private key ({exc})",
            hint="create one with: artifact-scan evidence keygen signing-key.pem",
        ) from None
    except UnsupportedAlgorithm as exc:
        raise EvidenceError(f"{path}: unsupported key type ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(
            f"{path}: a {type(key).__name__.removeprefix('_').replace('PrivateKey', '')} key; "
            "evidence is signed with Ed25519 keys only",
            hint="create one with: artifact-scan evidence keygen signing-key.pem",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = "pass the public half (*.pub.pem), not the private key" if b"PRIVATE KEY" in data else None
        raise EvidenceError(f"{path}: not a PEM public key ({exc})", hint=hint) from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"{path}: not an Ed25519 public key; evidence is signed with Ed25519 keys only")
    return key


def default_public_key_path(private_path: Path) -> Path:
    name = private_path.name.removesuffix(".pem")
    return private_path.with_name(f"{name}.pub.pem")


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    fingerprint: str


def keygen(private_path: Path, public_path: Path | None = None) -> KeyPair:
    """A new Ed25519 key pair: the private key unencrypted PKCS#8 PEM with mode 0600, the public key
    beside it. Neither file may exist; nothing is written when either does."""
    public_path = public_path or default_public_key_path(private_path)
    if private_path.resolve() == public_path.resolve():
        raise EvidenceError(f"{private_path}: the private and the public key need different files")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise EvidenceError(
                f"{path}: exists; a key is never overwritten", hint="choose another file name"
            )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_new(private_path, private_pem, mode=0o600)
    try:
        write_new(public_path, public_key_pem(key.public_key()), mode=0o644)
    except EvidenceError:
        private_path.unlink(missing_ok=True)
        raise
    return KeyPair(private_path, public_path, fingerprint(key.public_key()))


# --------------------------------------------------------------------------------------------
# Writing without overwriting
# --------------------------------------------------------------------------------------------


def write_new(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write atomically (scanner.output.write_atomic) to a staging name, then hard-link it into place:
    the link fails when `path` exists, so an existing file is never replaced, even by a racing writer."""
    if path.exists() or path.is_symlink():
        raise EvidenceError(
            f"{path}: exists; evidence is never overwritten", hint="choose another file with -o"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvidenceError(f"{path.parent}: cannot create the folder: {exc.strerror or exc}") from None
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    write_atomic(staging, data)
    try:
        if mode is not None:
            os.chmod(staging, mode)
        try:
            os.link(staging, path)
        except FileExistsError:
            raise EvidenceError(f"{path}: exists; evidence is never overwritten") from None
        except OSError:  # a file system without hard links: check, then rename (a tiny race remains)
            if path.exists():
                raise EvidenceError(f"{path}: exists; evidence is never overwritten") from None
            os.rename(staging, path)
    finally:
        staging.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# The canonical tar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    start: int
    end: int
    label: str


def _split_name(name: str) -> tuple[bytes, bytes]:
    """USTAR's prefix/name split: the name field holds at most 100 bytes, the prefix 155."""
    raw = name.encode("utf-8")
    if len(raw) <= 100:
        return b"", raw
    for i in range(min(len(raw) - 2, 155), 0, -1):
        if raw[i] == ord("/") and len(raw) - i - 1 <= 100:
            return raw[:i], raw[i + 1 :]
    raise EvidenceError(f"{name}: the path is too long for a tar header (USTAR: 100 + 155 bytes)")


def _header(name: str, size: int, mtime: int) -> bytes:
    prefix, base = _split_name(name)
    header = bytearray(BLOCK)
    header[0 : len(base)] = base
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"%011o\0" % mtime
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[329:337] = b"0000000\0"
    header[337:345] = b"0000000\0"
    header[345 : 345 + len(prefix)] = prefix
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _padding(size: int) -> int:
    return -size % BLOCK


def canonical_tar(members: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """The canonical archive of `members` (sorted by name here); see the module docstring."""
    return _build(members, mtime, top=None)[0]


def _build(members: Sequence[tuple[str, bytes]], mtime: int, top: str | None) -> tuple[bytes, list[Region]]:
    if not 0 <= mtime < 8**11:
        mtime = 0
    if any(len(data) >= 8**11 for _, data in members):
        raise EvidenceError("a file is too large for a tar header (8 GiB)")
    chunks: list[bytes] = []
    regions: list[Region] = []
    offset = 0
    for name, data in sorted(members, key=lambda m: m[0]):
        shown = _relative(name, top)
        header = _header(name, len(data), mtime)
        for field_name, start, end in HEADER_FIELDS:
            regions.append(Region(offset + start, offset + end, f"tar header of {shown}, field {field_name}"))
        offset += BLOCK
        regions.append(Region(offset, offset + len(data), f"content of {shown}"))
        offset += len(data)
        pad = _padding(len(data))
        regions.append(Region(offset, offset + pad, f"padding after {shown}"))
        offset += pad
        chunks += [header, data, bytes(pad)]
    regions.append(Region(offset, offset + len(_END_OF_ARCHIVE), "end-of-archive blocks"))
    chunks.append(_END_OF_ARCHIVE)
    return b"".join(chunks), regions


def _relative(name: str, top: str | None) -> str:
    if top is not None and name.startswith(top + "/"):
        return name[len(top) + 1 :]
    return name


def _octal(field_bytes: bytes) -> int | None:
    text = field_bytes.split(b"\0", 1)[0].strip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        return None
    return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    stored = _octal(block[148:156])
    return stored is not None and stored == sum(block[:148]) + 8 * 32 + sum(block[156:])


def _field(block: bytes, start: int, end: int) -> bytes:
    return block[start:end].split(b"\0", 1)[0]


def _name_of(block: bytes) -> str:
    prefix, base = _field(block, 345, 500), _field(block, 0, 100)
    raw = prefix + b"/" + base if prefix else base
    return raw.decode("utf-8", "backslashreplace")


def _looks_like_header(block: bytes) -> bool:
    """A header with at most one damaged byte still passes one of these; random data passes none."""
    if _checksum_ok(block) or block[257:263] in (b"ustar\0", b"ustar "):
        return True
    name = _field(block, 0, 100)
    return (
        bool(name)
        and name.isascii()
        and all(32 <= c < 127 for c in name)
        and _octal(block[124:136]) is not None
    )


@dataclass(frozen=True)
class _Member:
    name: str
    typeflag: bytes
    offset: int  # of the header
    content: bytes
    checksum_ok: bool


@dataclass(frozen=True)
class _Walk:
    members: tuple[_Member, ...]
    problem: str | None  # why the walk stopped before a clean end-of-archive block
    truncated: bool  # the file ended inside a header, a member's content or the end-of-archive blocks


def _walk(data: bytes) -> _Walk:
    """Follow the headers as a tar reader would, tolerating damaged checksums so the damage can be named."""
    members: list[_Member] = []
    offset = 0
    while True:
        if offset + BLOCK > len(data):
            return _Walk(
                tuple(members), f"the file ends at offset {len(data)} with no end-of-archive block", True
            )
        block = data[offset : offset + BLOCK]
        if block == _ZERO_BLOCK:
            if len(data) < offset + len(_END_OF_ARCHIVE):
                return _Walk(
                    tuple(members),
                    f"the file ends at offset {len(data)}, inside the end-of-archive blocks",
                    True,
                )
            return _Walk(tuple(members), None, False)
        if not _looks_like_header(block):
            return _Walk(
                tuple(members), f"offset {offset}: neither a tar header nor the end of the archive", False
            )
        size = _octal(block[124:136])
        if size is None:
            return _Walk(tuple(members), f"offset {offset}: the tar header's size field is unreadable", False)
        start = offset + BLOCK
        if start + size > len(data):
            return _Walk(
                tuple(members),
                f"offset {offset}: member {_name_of(block)!r} runs past the end of the file",
                True,
            )
        members.append(
            _Member(_name_of(block), block[156:157], offset, data[start : start + size], _checksum_ok(block))
        )
        offset = start + size + _padding(size)


def _guided(
    data: bytes, order: Sequence[str], sizes: Mapping[str, int], mtime: int
) -> dict[str, bytes] | None:
    """Read the members at the offsets the manifest implies. Used when a header is damaged: a damaged
    name or size field must not hide where the members are, so the damage is named by its offset."""
    contents: dict[str, bytes] = {}
    offset = 0
    for name in order:
        size = sizes[name]
        block = data[offset : offset + BLOCK]
        if len(block) < BLOCK or offset + BLOCK + size > len(data):
            return None
        expected = _header(name, size, mtime)
        damaged = sum(1 for i in range(BLOCK) if not 148 <= i < 156 and block[i] != expected[i])
        if damaged > 16:
            return None
        contents[name] = data[offset + BLOCK : offset + BLOCK + size]
        offset += BLOCK + size + _padding(size)
    return contents


def _differences(actual: bytes, expected: bytes, limit: int = 20) -> list[tuple[int, int]]:
    """Ranges [start, end) where the two differ, in order, at most `limit` of them."""
    ranges: list[tuple[int, int]] = []
    common = min(len(actual), len(expected))
    step = 1 << 16
    for chunk in range(0, common, step):
        end = min(chunk + step, common)
        if actual[chunk:end] == expected[chunk:end]:
            continue
        for i in range(chunk, end):
            if actual[i] == expected[i]:
                continue
            if ranges and ranges[-1][1] == i:
                ranges[-1] = (ranges[-1][0], i + 1)
            elif len(ranges) >= limit:
                return ranges
            else:
                ranges.append((i, i + 1))
    return ranges


def _describe(start: int, end: int, regions: Sequence[Region]) -> str:
    where = f"offset {start}" if end - start == 1 else f"offsets {start}-{end - 1}"
    labels = [r.label for r in regions if r.start < end and start < r.end]
    return f"{where}: {', '.join(dict.fromkeys(labels)) or 'outside the archive'}"


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def canonical_json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_file(files: Mapping[str, bytes], name: str) -> Any:
    if name not in files:
        raise EvidenceError(f"{name} is missing")
    try:
        return json.loads(files[name])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EvidenceError(f"{name} is not JSON: {exc}") from None


def _run_info(files: Mapping[str, bytes]) -> dict[str, Any]:
    results = _json_file(files, "results.json")
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

    run = _run_info(files)
    snapshot = _json_file(files, "snapshot.json")
    metadata = snapshot.get("metadata") if isinstance(snapshot, dict) else None
    caller = metadata.get("caller") if isinstance(metadata, dict) else None
    return {
        "manifest_version": MANIFEST_VERSION,
        "format": BUNDLE_FORMAT,
        "run": run,
        "caller": caller,
        "formats": sorted(name for name, writer in WRITERS.items() if writer.filename in files),
        "files": {name: {"sha256": _sha256(data), "size": len(data)} for name, data in sorted(files.items())},
        "signature": None if public_pem is None else _signature_block(public_pem),
    }


def _mtime(started_at: Any) -> int:
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


def _top(run_id: str) -> str:
    return f"evidence-{run_id}"


def _is_safe_relative(path: str) -> bool:
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
                    f"{run_dir}: more than {_limit()} of files; too large for an evidence bundle"
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
        run = _run_info(files)
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
    top = _top(run_id)
    members = [(f"{top}/{MANIFEST}", manifest_bytes)]
    if private_key is not None and public_pem is not None:
        members += [
            (f"{top}/{SIGNATURE}", private_key.sign(manifest_bytes)),
            (f"{top}/{PUBLIC_KEY}", public_pem),
        ]
    members += [(f"{top}/{RUN}/{name}", data) for name, data in files.items()]
    data = canonical_tar(members, _mtime(run.get("started_at")))
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


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: does not apply (an unsigned bundle's signature)
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    source: str
    run_id: str
    organization_id: str | None
    signer: str | None
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.ok is False)


def _limit() -> str:
    limit = MAX_BUNDLE_BYTES
    return f"{limit // 1024**3} GiB" if limit % 1024**3 == 0 else f"{limit} bytes"


def read_bundle(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BundleUnreadable(f"{path}: no such file") from None
    except OSError as exc:
        raise BundleUnreadable(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.is_dir():
        raise BundleUnreadable(
            f"{path}: a folder, not an evidence bundle",
            hint="to bundle a run folder: artifact-scan evidence export RUN_DIR",
        )
    if size > MAX_BUNDLE_BYTES:
        raise BundleUnreadable(
            f"{path}: {size} bytes, more than the {_limit()} an evidence bundle may have; not read"
        )
    from scanner import files  # noqa: PLC0415 - regular files only: a FIFO or /dev/zero is refused, not read

    return files.read_limited(path, what="evidence bundle", limit=MAX_BUNDLE_BYTES, error=BundleUnreadable)


def verify(path: Path, *, public_key: Ed25519PublicKey | None = None) -> Verification:
    data = read_bundle(path)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleUnreadable(f"{path}: more than the {_limit()} an evidence bundle may have; not read")
    return verify_bytes(data, str(path), public_key=public_key)


def _unreadable_prefix(data: bytes, source: str) -> None:
    if not data:
        raise BundleUnreadable(f"{source}: an empty file, not an evidence bundle")
    if (
        data[:2] == b"\x1f\x8b"
        or data[:3] == b"BZh"
        or data[:6] == b"\xfd7zXZ\x00"
        or data[:4] == b"\x28\xb5\x2f\xfd"
    ):
        raise BundleUnreadable(
            f"{source}: a compressed file; evidence bundles are uncompressed tar archives",
            hint="decompress it first (its own hash would not match the manifest otherwise anyway)",
        )
    if len(data) < BLOCK or not _looks_like_header(data[:BLOCK]):
        raise BundleUnreadable(f"{source}: not a tar archive (the first 512 bytes are no tar header)")


def _find_manifest(walk: _Walk, data: bytes, source: str) -> tuple[bytes, dict[str, Any]]:
    """The member named evidence-<run-id>/manifest.json, else the first member (the manifest sorts first,
    so a damaged name in its header still finds it), else JSON right after the first header."""
    named = [m for m in walk.members if m.name.count("/") == 1 and m.name.endswith("/" + MANIFEST)]
    problem = ""
    for member in [*named[:1], *walk.members[:1]]:
        try:
            document = json.loads(member.content)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            problem = problem or f"{_relative(member.name, member.name.split('/')[0])}: not JSON: {exc}"
            continue
        if isinstance(document, dict):
            return member.content, document
        problem = problem or f"{member.name}: not a JSON object"
    # The first header's size field may be the damage: the manifest is JSON right after it, up to its newline.
    recovered = _recover_manifest(data)
    if recovered is not None:
        return recovered
    if walk.truncated and (not walk.members or not named):
        raise BundleUnreadable(f"{source}: truncated: {walk.problem}; no readable {MANIFEST}")
    if named:
        raise BundleUnreadable(f"{source}: {problem}")
    if not walk.members:
        raise BundleUnreadable(f"{source}: no {MANIFEST}: no member could be read ({walk.problem})")
    raise BundleUnreadable(f"{source}: no {MANIFEST} in the archive (first member: {walk.members[0].name!r})")


def _recover_manifest(data: bytes) -> tuple[bytes, dict[str, Any]] | None:
    region = data[BLOCK : BLOCK + 16 * 1024 * 1024]
    try:
        text = region.split(b"\0", 1)[0].decode("utf-8")
        document, end = json.JSONDecoder().raw_decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(document, dict) or text[end : end + 1] != "\n":
        return None
    return text[: end + 1].encode("utf-8"), document


def _manifest_shape(manifest: Mapping[str, Any], source: str) -> tuple[str, dict[str, int]]:
    """What is needed to lay the archive out: the run id and every file's size. Anything else in the
    manifest is checked by deriving it again, and a wrong value there fails verification (exit 1)."""

    def bad(problem: str) -> BundleUnreadable:
        return BundleUnreadable(f"{source}: {MANIFEST} is not an evidence manifest: {problem}")

    version = manifest.get("manifest_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("$.manifest_version is missing")
    if version > MANIFEST_VERSION:
        raise BundleUnreadable(
            f"{source}: manifest version {version} is newer than this artifact-scan reads "
            f"({MANIFEST_VERSION})",
            hint="upgrade artifact-scan to verify this bundle",
        )
    run = manifest.get("run")
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if not isinstance(run_id, str) or not _is_safe_relative(run_id) or "/" in run_id:
        raise bad("$.run.run_id is missing or cannot name a folder")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise bad("$.files is missing")
    sizes: dict[str, int] = {}
    for name, entry in files.items():
        if not _is_safe_relative(name):
            raise bad(f"$.files: {name!r} is not a plain relative path")
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BUNDLE_BYTES:
            raise bad(f"$.files[{name!r}].size is missing")
        sizes[name] = size
    if manifest.get("signature") is not None and not isinstance(manifest.get("signature"), dict):
        raise bad("$.signature is neither null nor an object")
    return run_id, sizes


def verify_bytes(data: bytes, source: str, *, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Every check runs, so a report names every problem at once. Raises BundleUnreadable when nothing
    can be checked (not a tar, truncated, no manifest, manifest not JSON)."""
    _unreadable_prefix(data, source)
    walk = _walk(data)
    manifest_bytes, manifest = _find_manifest(walk, data, source)
    run_id, file_sizes = _manifest_shape(manifest, source)
    top = _top(run_id)
    signed = manifest.get("signature") is not None
    sizes = {MANIFEST: len(manifest_bytes), **{f"{RUN}/{name}": size for name, size in file_sizes.items()}}
    if signed:
        sizes.update({SIGNATURE: ED25519_SIGNATURE_SIZE, PUBLIC_KEY: ED25519_PUBLIC_PEM_SIZE})
    expected_names = sorted(f"{top}/{name}" for name in sizes)
    full_sizes = {f"{top}/{name}": size for name, size in sizes.items()}
    mtime = _mtime(manifest["run"].get("started_at"))
    expected_length = sum(BLOCK + size + _padding(size) for size in sizes.values()) + len(_END_OF_ARCHIVE)
    if walk.truncated and len(data) < expected_length:
        raise BundleUnreadable(
            f"{source}: truncated: the file ends at byte {len(data)}, "
            f"the manifest's files need {expected_length}"
        )

    damaged = walk.problem is not None or any(not m.checksum_ok for m in walk.members)
    guided = _guided(data, expected_names, full_sizes, mtime) if damaged else None
    checks: list[Check] = []
    if guided is not None:
        layout = [(name, guided[name]) for name in expected_names]
        contents = {_relative(name, top): content for name, content in layout}
        checks.append(Check("members", True, f"{len(layout)} members, as the manifest lists them"))
    else:
        layout = [(m.name, m.content) for m in walk.members]
        contents, members_check = _members_check(walk, top, sizes)
        checks.append(members_check)
    checks.insert(0, _layout_check(data, layout, mtime, top, None if guided is not None else walk.problem))

    run_files = {
        name[len(RUN) + 1 :]: data
        for name, data in contents.items()
        if name.startswith(RUN + "/") and name[len(RUN) + 1 :] in file_sizes
    }
    checks.append(_hashes_check(manifest, run_files))
    public_pem = contents.get(PUBLIC_KEY)
    checks.append(_manifest_check(manifest, manifest_bytes, run_files, public_pem if signed else None))
    signature_check, signer = _signature_check(manifest, manifest_bytes, contents, public_key)
    checks.append(signature_check)
    checks.extend(_reevaluation_checks(run_files))
    run = manifest["run"]
    organization = run.get("organization_id")
    return Verification(
        source, run_id, organization if isinstance(organization, str) else None, signer, tuple(checks)
    )


def _layout_check(
    data: bytes, layout: Sequence[tuple[str, bytes]], mtime: int, top: str, walk_problem: str | None
) -> Check:
    try:
        canonical, regions = _build(layout, mtime, top)
    except EvidenceError as exc:
        return Check("archive", False, "the members cannot be laid out as a canonical tar", (str(exc),))
    if canonical == data:
        return Check(
            "archive", True, f"canonical tar, {len(data)} bytes: every header and padding byte as exported"
        )
    details = [_describe(start, end, regions) for start, end in _differences(data, canonical)]
    if len(data) > len(canonical):
        details.append(
            f"offsets {len(canonical)}-{len(data) - 1}: {len(data) - len(canonical)} bytes after the "
            "end of the archive"
        )
    elif len(data) < len(canonical):
        details.append(
            f"offset {len(data)}: the file ends {len(canonical) - len(data)} bytes before the canonical "
            "archive does"
        )
    if walk_problem is not None:
        details.append(f"reading the headers: {walk_problem}")
    return Check(
        "archive", False, "the bytes differ from the canonical archive of its members", tuple(details)
    )


def _members_check(walk: _Walk, top: str, sizes: Mapping[str, int]) -> tuple[dict[str, bytes], Check]:
    problems: list[str] = []
    contents: dict[str, bytes] = {}
    seen: Counter[str] = Counter()
    for member in walk.members:
        name = member.name
        seen[name] += 1
        if not _is_safe_relative(name):
            problems.append(f"{name!r}: unsafe name (absolute, '..' or empty parts); never extracted")
            continue
        if member.typeflag not in (b"0", b"\0"):
            kind = {
                b"1": "a hard link",
                b"2": "a symbolic link",
                b"3": "a character device",
                b"4": "a block device",
                b"5": "a folder",
                b"6": "a FIFO",
            }.get(member.typeflag, f"of tar type {member.typeflag!r}")
            problems.append(f"{_relative(name, top)}: {kind}, not a regular file; never extracted")
            continue
        if not name.startswith(top + "/"):
            problems.append(f"{name}: extra member outside {top}/")
            continue
        if seen[name] > 1:
            problems.append(f"{_relative(name, top)}: appears {seen[name]} times")
            continue
        contents[_relative(name, top)] = member.content
    for name in sorted(set(contents) - set(sizes)):
        problems.append(f"{name}: extra member, not in the manifest")
    for name in sorted(set(sizes) - set(contents)):
        problems.append(f"{name}: missing (the manifest lists it)")
    if problems:
        return contents, Check(
            "members", False, "the members differ from the manifest's list", tuple(problems)
        )
    return contents, Check("members", True, f"{len(walk.members)} members, as the manifest lists them")


def _hashes_check(manifest: Mapping[str, Any], run_files: Mapping[str, bytes]) -> Check:
    problems = []
    listed = manifest["files"]
    for name, entry in sorted(listed.items()):
        if name not in run_files:
            continue  # named by the members check
        data = run_files[name]
        if set(entry) != {"sha256", "size"}:
            problems.append(f"{MANIFEST}: $.files[{name!r}] holds {sorted(entry)}, not sha256 and size")
        elif entry["sha256"] != _sha256(data) or entry["size"] != len(data):
            problems.append(
                f"{RUN}/{name}: SHA-256 differs from the manifest's: the file, or its entry in {MANIFEST}, was "
                "changed (a signature, when there is one, tells which)"
            )
    if problems:
        return Check("file hashes", False, f"{len(problems)} of {len(listed)} files changed", tuple(problems))
    checked = len(run_files)
    return Check(
        "file hashes",
        True,
        f"{checked} files match the manifest's SHA-256"
        + ("" if checked == len(listed) else f" ({len(listed) - checked} missing)"),
    )


def _json_diff(
    recorded: Any, derived: Any, path: str, said: tuple[str, str] = ("the manifest says", "the bundle's files give")
) -> list[str]:
    if isinstance(recorded, dict) and isinstance(derived, dict):
        out: list[str] = []
        for key in sorted(set(recorded) | set(derived), key=str):
            sub = f"{path}.{key}"
            if key not in derived:
                out.append(f"{sub}: not expected")
            elif key not in recorded:
                out.append(f"{sub}: missing")
            else:
                out.extend(_json_diff(recorded[key], derived[key], sub, said))
        return out
    if json.dumps(recorded, sort_keys=True) != json.dumps(derived, sort_keys=True):
        return [f"{path}: {said[0]} {_short(recorded)}, {said[1]} {_short(derived)}"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _manifest_check(
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    run_files: Mapping[str, bytes],
    public_pem: bytes | None,
) -> Check:
    problems = []
    canonical = canonical_json(manifest)
    if canonical != manifest_bytes:
        first = next(
            (i for i, (a, b) in enumerate(zip(canonical, manifest_bytes, strict=False)) if a != b),
            min(len(canonical), len(manifest_bytes)),
        )
        problems.append(f"{MANIFEST}: not in canonical form (first difference at byte {first} of {MANIFEST})")
    try:
        derived = build_manifest(run_files, public_pem)
    except (EvidenceError, ValueError, UnsupportedAlgorithm) as exc:
        problems.append(f"{MANIFEST}: its run metadata cannot be derived again: {exc}")
    else:
        recorded = {key: value for key, value in manifest.items() if key != "files"}
        derived.pop("files")
        problems += [f"{MANIFEST}: {line}" for line in _json_diff(recorded, derived, "$")]
    if problems:
        return Check("manifest", False, f"{MANIFEST} does not match the run's files", tuple(problems))
    return Check("manifest", True, "canonical; its run metadata matches results.json and snapshot.json")


def _signature_check(
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    contents: Mapping[str, bytes],
    pinned: Ed25519PublicKey | None,
) -> tuple[Check, str | None]:
    block = manifest.get("signature")
    pinned_print = fingerprint(pinned) if pinned is not None else None
    if block is None:
        if pinned is not None:
            return Check(
                "signature", False, f"the bundle is not signed, but --public-key expects {pinned_print}"
            ), None
        return Check("signature", None, "not signed: the bundle shows no signer"), None
    recorded = block.get("public_key_sha256")
    signer = recorded if isinstance(recorded, str) else None
    public_pem = contents.get(PUBLIC_KEY)
    signature = contents.get(SIGNATURE)
    if public_pem is None or signature is None:
        missing = " and ".join(n for n, v in ((PUBLIC_KEY, public_pem), (SIGNATURE, signature)) if v is None)
        return Check("signature", False, f"signed, but {missing} is missing"), signer
    try:
        bundled = serialization.load_pem_public_key(public_pem)
    except (ValueError, UnsupportedAlgorithm):
        bundled = None
    if not isinstance(bundled, Ed25519PublicKey):
        return Check(
            "signature", False, f"{PUBLIC_KEY}: not an Ed25519 public key (the file was changed)"
        ), signer
    bundled_print = fingerprint(bundled)
    problems = []
    if public_pem != public_key_pem(bundled):  # PEM readers skip some bytes; every byte here is bound
        problems.append(f"{PUBLIC_KEY}: not byte for byte the PEM export writes for the key it holds (changed)")
    if bundled_print != recorded:
        problems.append(f"{PUBLIC_KEY}: fingerprint {bundled_print}, but the manifest names {recorded}")
    if pinned is not None and pinned_print != bundled_print:
        problems.append(f"signed by {bundled_print}, not by the expected key {pinned_print} (--public-key)")
    try:
        (pinned or bundled).verify(signature, manifest_bytes)
    except InvalidSignature:
        problems.append(
            f"{SIGNATURE}: does not verify over {MANIFEST}"
            + (" with the expected key" if pinned is not None else "")
            + ": the manifest or the signature was changed"
        )
    if problems:
        return Check("signature", False, "the signature does not hold", tuple(problems)), bundled_print
    pinned_note = " (the key given with --public-key)" if pinned is not None else ""
    return Check("signature", True, f"Ed25519, signed by {bundled_print}{pinned_note}"), bundled_print


# --------------------------------------------------------------------------------------------
# Re-evaluation
# --------------------------------------------------------------------------------------------

COMPARED_FIELDS = ("rule_id", "status", "severity", "account_id", "resource_arn", "message", "evidence")


# Every input is parsed in memory; past this a member is not one this tool wrote (the bundle's own limit
# still holds the whole). A module constant, so a test can lower it.
MAX_INPUT_BYTES = 512 * 1024**2
MAX_REASON = 300


def _reason(text: str) -> str:
    """One short line of a message that may quote crafted input: no control characters, no newlines."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= MAX_REASON else flat[: MAX_REASON - 3] + "..."


def _reevaluation_checks(run_files: Mapping[str, bytes]) -> list[Check]:
    """The rules hash; every run file known (an input, or a report some format writes); the snapshot's
    stored `complete` against the one derived from its content; then every report in the bundle derived
    again from the bundled inputs by the scan's own pipeline (scanner.run.derive) and compared byte for
    byte. The formats come from the writer registry, so a format added later is covered."""
    from scanner import run as runs  # noqa: PLC0415
    from scanner.report import WRITERS  # noqa: PLC0415
    from scanner.rules import rules_sha256  # noqa: PLC0415

    reports = {writer.filename: name for name, writer in WRITERS.items()}
    rule_files = sorted(
        (name[len("rules/") :], data) for name, data in run_files.items() if name.startswith("rules/")
    )
    checks: list[Check] = []
    try:
        run = _run_info(run_files)
    except EvidenceError as exc:
        checks.append(Check("rules hash", False, f"cannot check: {_reason(str(exc))}"))
    else:
        recorded_hash = run.get("rules_sha256")
        actual_hash = rules_sha256(rule_files)
        if recorded_hash == actual_hash:
            checks.append(Check(
                "rules hash",
                True,
                f"{actual_hash[:16]}... over {len(rule_files)} rule files = results.json's run.rules_sha256",
            ))
        else:
            checks.append(Check(
                "rules hash",
                False,
                "the bundled rules are not the rules the run recorded",
                (f"{RUN}/rules/: SHA-256 {actual_hash}, results.json's run.rules_sha256 {_reason(repr(recorded_hash))}",),
            ))
    unknown = [
        f"{RUN}/{_reason(name)}: neither an input of the run nor a report a format writes"
        for name in sorted(run_files)
        if not runs.is_input(name) and name not in reports
    ]
    huge = [
        f"{RUN}/{_reason(name)}: {len(data)} bytes, more than the {MAX_INPUT_BYTES} an input may have; not read"
        for name, data in sorted(run_files.items())
        if runs.is_input(name) and len(data) > MAX_INPUT_BYTES
    ]
    if unknown or huge:
        checks.append(Check("run files", False, "the run folder holds files the run did not make", (*unknown, *huge)))
    else:
        checks.append(Check("run files", True, "every file is an input of the run or a report derived from them"))
    if huge:
        return [*checks, Check("completeness", False, "not checked: an input is too large"),
                Check("re-evaluation", False, "not run: an input is too large")]
    checks.append(_completeness_check(run_files))
    inputs = {name: data for name, data in run_files.items() if runs.is_input(name)}
    formats = [name for name, writer in WRITERS.items() if writer.filename in run_files]
    try:
        derived = runs.derive(inputs, formats, snapshot_source=f"{RUN}/{runs.SNAPSHOT_FILE}")
    except RuleError as exc:
        details = tuple(_reason(p) for p in exc.problems)
        return [*checks, Check("re-evaluation", False, "the bundled rules do not load", details)]
    except ScannerError as exc:
        return [*checks, Check("re-evaluation", False, "cannot evaluate the bundled inputs", (_reason(str(exc)),))]
    except Exception as exc:
        return [*checks, Check(
            "re-evaluation", False, "cannot evaluate the bundled inputs", (_reason(f"{type(exc).__name__}: {exc}"),)
        )]
    checks.append(_compare_reports(run_files, derived.reports))
    return checks


def _completeness_check(run_files: Mapping[str, bytes]) -> Check:
    """A snapshot whose stored `complete` disagrees with its content was edited (or written by a bug):
    either way the bundle does not show what its reports claim. The derived value is what reports use."""
    from scanner import snapshot as snapshots  # noqa: PLC0415

    data = run_files.get("snapshot.json")
    if data is None:
        return Check("completeness", False, f"{RUN}/snapshot.json is missing")
    try:
        snapshot = snapshots.loads(data, f"{RUN}/snapshot.json")
    except ScannerError as exc:
        return Check("completeness", False, "cannot read the snapshot", (_reason(str(exc)),))
    problems = _stored_facts_problems(data, snapshot)
    if problems:
        return Check("completeness", False, "the snapshot's stored facts disagree with its raw answers", problems)
    gaps = snapshots.gaps(snapshot)
    stored = snapshot.metadata.complete
    if stored != (not gaps):
        shown = "; ".join(gaps) if gaps else "nothing missing"
        return Check(
            "completeness",
            False,
            "the snapshot's stored complete flag disagrees with its content",
            (_reason(f"{RUN}/snapshot.json: $.metadata.complete is {str(stored).lower()}, its content shows: {shown}"),),
        )
    state = "complete" if not gaps else "incomplete: " + "; ".join(gaps)
    return Check("completeness", True, _reason(f"derived from the snapshot's content: {state}"))


def _stored_facts_problems(data: bytes, snapshot: Any) -> tuple[str, ...]:
    """A snapshot's `facts` are for people and never evaluated, so they are checked here: when present they
    must be what the raw answers give (scanner.run.snapshot_facts), or a reader would see other facts."""
    from scanner import run as runs  # noqa: PLC0415

    stored = json.loads(data).get("facts")
    if stored is None:
        return ()
    derived = json.loads(json.dumps(runs.snapshot_facts(snapshot), default=str))
    if stored == derived:
        return ()
    return tuple(_reason(f"{RUN}/snapshot.json: {line}") for line in _json_diff(stored, derived, "$.facts", ("stored", "the raw answers give"))[:20])


def _first_difference(actual: bytes, expected: bytes) -> str:
    index = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b), min(len(actual), len(expected)))
    line = actual[:index].count(b"\n") + 1
    return f"first difference at byte {index} (line {line}); {len(actual)} bytes, derived {len(expected)}"


def _compare_reports(run_files: Mapping[str, bytes], derived: Mapping[str, bytes]) -> Check:
    problems = []
    for filename, expected in sorted(derived.items()):
        actual = run_files[filename]
        if actual == expected:
            continue
        problems.append(
            f"{RUN}/{filename}: differs from the report the bundled inputs give: {_first_difference(actual, expected)}"
        )
        if filename == "results.json":
            try:
                fresh = json.loads(expected)["results"]
                recorded = json.loads(actual)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, KeyError, TypeError):
                continue
            semantic = _compare_results(recorded, fresh)
            problems.extend(_reason(d) for d in semantic.details)
    if problems:
        return Check(
            "re-evaluation", False, "the reports disagree with deriving them again from the bundled inputs",
            tuple(problems),
        )
    return Check(
        "re-evaluation",
        True,
        f"{len(derived)} reports derived again from the bundled snapshot, rules, settings and suppressions, "
        f"byte for byte: {', '.join(sorted(derived))}",
    )


def _compared(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        return {"rule_id": None, "malformed": result}
    return {key: result.get(key) for key in COMPARED_FIELDS}


def _identity(result: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(result.get("rule_id")), str(result.get("account_id")), str(result.get("resource_arn")))


def _compare_results(results: Any, fresh: Sequence[Mapping[str, Any]]) -> Check:
    recorded_list = results.get("results") if isinstance(results, dict) else None
    if not isinstance(recorded_list, list):
        return Check("re-evaluation", False, "results.json has no $.results list")
    recorded = [_compared(r) for r in recorded_list]
    again = [_compared(r) for r in fresh]

    def key(item: Mapping[str, Any]) -> str:
        return json.dumps(item, sort_keys=True, default=str)

    if Counter(map(key, recorded)) == Counter(map(key, again)):
        return Check(
            "re-evaluation",
            True,
            f"{len(again)} results match results.json (compared: {', '.join(COMPARED_FIELDS)})",
        )
    by_identity: dict[tuple[str, str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for item in recorded:
        by_identity.setdefault(_identity(item), ([], []))[0].append(item)
    for item in again:
        by_identity.setdefault(_identity(item), ([], []))[1].append(item)
    problems = []
    for (rule_id, account, arn), (before, after) in sorted(by_identity.items()):
        if sorted(map(key, before)) == sorted(map(key, after)):
            continue
        where = f"{rule_id} on {arn or account}"
        if len(before) == 1 and len(after) == 1:
            changed = [
                f"{name} {_short(before[0][name])} in results.json, {_short(after[0][name])} again"
                for name in COMPARED_FIELDS
                if key({"v": before[0][name]}) != key({"v": after[0][name]})
            ]
            problems.append(f"{where}: {'; '.join(changed)}")
        else:
            problems.append(
                f"{where}: {len(before)} result(s) in results.json, {len(after)} when evaluated again"
            )
    return Check(
        "re-evaluation",
        False,
        "results.json disagrees with evaluating the bundled snapshot again",
        tuple(problems),
    )
