"""Which of artifact-scan's own files a path holds, so that the wrong file given to an option is named.

A results.json passed as `--config` fails the config schema with "unknown key 'schema_version'", which
says nothing about what the user did. When a loader refuses a file, scanner.cli asks `kind_of` what the
file is and, when it is another of the tool's files, says which option takes it instead.

Only the first and last 64 KiB of a file are read: a snapshot's `snapshot_version` is its last key (keys
are sorted), and a 100 MB file must not be read twice just to improve a message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scanner.errors import ScannerError

PROBE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    what: str  # "a snapshot": said in the message
    goes: str  # where it belongs: "it goes to --baseline"


CONFIG = Kind("config", "a configuration file", "it goes to --config")
RESULTS = Kind("results", "an artifact-scan results.json", "it goes to --baseline")
SNAPSHOT = Kind("snapshot", "a snapshot", "it goes to `scan --snapshot`")
SUPPRESSIONS = Kind("suppressions", "a suppressions file", "it goes to --suppressions")
RULE = Kind("rule", "a rule file", "it goes to --rules or `rules validate`")
PACK = Kind("pack", "a rule pack's pack.yaml", "its folder goes to --rules or `rules validate`")
BUNDLE = Kind("bundle", "an evidence bundle", "it goes to `evidence verify`")
SARIF = Kind("sarif", "a SARIF report",
             "it is a report a scan wrote, not an input (the run's results.json goes to --baseline)")
PEM_PRIVATE = Kind("private-key", "a PEM private key", "it goes to --sign-key")
PEM_PUBLIC = Kind("public-key", "a PEM public key", "it goes to `evidence verify --public-key`")

def _config_keys() -> frozenset[str]:
    """The configuration's top-level keys, from its schema (the one place they are listed), read without
    importing the validator."""
    text = resources.files("scanner.schemas").joinpath("config.schema.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["properties"])


class _Unreadable(ScannerError):
    pass


def _probe(path: Path) -> tuple[bytes, bytes] | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            head = handle.read(PROBE)
            size = handle.seek(0, 2)
            if size <= PROBE:
                return head, head
            handle.seek(max(size - PROBE, PROBE))
            return head, handle.read(PROBE)
    except OSError:
        return None


def _json_kind(text: str) -> Kind | None:
    def key(name: str) -> bool:
        return re.search(rf'"{re.escape(name)}"\s*:', text) is not None

    if key("snapshot_version"):
        return SNAPSHOT
    if key("schema_version") and key("results") and key("run"):
        return RESULTS
    if key("runs") and "sarif" in text[:2000].lower():
        return SARIF
    return None


def _yaml_kind(raw: bytes, source: str) -> Kind | None:
    from scanner import yamlfile  # noqa: PLC0415

    try:
        data: Any = yamlfile.parse_bytes(raw, source, what="file", error=_Unreadable).data
    except ScannerError:
        return None
    if not isinstance(data, dict) or not data:
        return None
    keys = set(data)
    if "suppressions" in keys and isinstance(data["suppressions"], list):
        return SUPPRESSIONS
    if "id" in keys and ("expect" in keys or "resource" in keys):
        return RULE
    config_keys = _config_keys()
    if keys & config_keys and keys <= config_keys:
        return CONFIG
    if {"id", "version", "title"} <= keys and "expect" not in keys:
        return PACK
    return None


def kind_of(path: str | Path) -> Kind | None:
    """The kind of artifact-scan file at `path`, or None when it is none of them (or cannot be read)."""
    path = Path(path)
    probed = _probe(path)
    if probed is None:
        return None
    head, tail = probed
    if head[257:262] == b"ustar":
        return BUNDLE
    stripped = head.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        return PEM_PUBLIC if stripped.startswith(b"-----BEGIN PUBLIC KEY") else PEM_PRIVATE
    if stripped.startswith(b"{"):
        text = (head + b"\n" + tail).decode("utf-8", errors="replace")
        return _json_kind(text)
    if len(head) < PROBE:  # a whole small file: YAML (config, suppressions, rules) is never large
        return _yaml_kind(head, str(path))
    return None


def wrong_file(option: str, path: str | Path, expected: Kind) -> ScannerError | None:
    """The error to show in place of a loader's when `path`, given to `option`, is another of the tool's
    files."""
    found = kind_of(path)
    if found is None or found == expected:
        return None
    from scanner.terminal import excerpt  # noqa: PLC0415

    return ScannerError(
        f"{excerpt(path, 200)}: this is {found.what}, not {expected.what}; {found.goes}",
        hint=f"{option} takes {expected.what}",
    )
