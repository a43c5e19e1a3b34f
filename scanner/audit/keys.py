"""Ed25519 signing keys for evidence bundles: load (an encrypted key with $ARTIFACT_SCAN_KEY_PASSPHRASE),
create, and name a public key by its fingerprint."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.errors import EvidenceError, OutputError
from scanner.output import write_new

PASSPHRASE_ENV = "ARTIFACT_SCAN_KEY_PASSPHRASE"
ED25519_SIGNATURE_SIZE = 64
ED25519_PUBLIC_PEM_SIZE = 113  # "-----BEGIN PUBLIC KEY-----\n" + base64 of the 44-byte SPKI + footer


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
    except OutputError:
        private_path.unlink(missing_ok=True)
        raise
    return KeyPair(private_path, public_path, fingerprint(key.public_key()))
