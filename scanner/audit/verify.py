"""Verifying an evidence bundle (scanner.audit.bundle): every byte of it, and its results again.

Verification accounts for every byte: file contents by the manifest's hashes, the manifest by deriving it
again from the files (and by the signature), and every header and padding byte by rebuilding the canonical
archive (scanner.audit.tar) from the members and comparing. And every report in the bundle by deriving it
again from the bundled inputs (snapshot, rules, settings, suppressions, baseline) through the scan's own
pipeline, `scanner.run.derive`, and comparing bytes: a file that is neither an input nor such a report, or a
report that differs, fails verification.

No printing here: a verification is a `Verification` the CLI prints; a file that is no bundle at all is a
`BundleUnreadable`. Nothing is ever extracted from a bundle onto disk except the rule files, which the rule
loader reads from a fresh temporary folder under names checked to be plain `rules/<pack>/<file>` paths.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scanner.audit import bundle, tar
from scanner.audit.keys import ED25519_PUBLIC_PEM_SIZE, ED25519_SIGNATURE_SIZE, fingerprint, public_key_pem
from scanner.errors import BundleUnreadable, EvidenceError, RuleError, ScannerError
from scanner.model import Snapshot


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
    if size > bundle.MAX_BUNDLE_BYTES:
        raise BundleUnreadable(
            f"{path}: {size} bytes, more than the {bundle.limit_text()} an evidence bundle may have; not read"
        )
    from scanner import files  # noqa: PLC0415 - regular files only: a FIFO or /dev/zero is refused, not read

    return files.read_limited(path, what="evidence bundle", limit=bundle.MAX_BUNDLE_BYTES, error=BundleUnreadable)


def verify(path: Path, *, public_key: Ed25519PublicKey | None = None) -> Verification:
    data = read_bundle(path)
    if len(data) > bundle.MAX_BUNDLE_BYTES:
        raise BundleUnreadable(f"{path}: more than the {bundle.limit_text()} an evidence bundle may have; not read")
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
    if len(data) < tar.BLOCK or not tar.looks_like_header(data[:tar.BLOCK]):
        raise BundleUnreadable(f"{source}: not a tar archive (the first 512 bytes are no tar header)")


def _find_manifest(walk: tar.Walk, data: bytes, source: str) -> tuple[bytes, dict[str, Any]]:
    """The member named evidence-<run-id>/manifest.json, else the first member (the manifest sorts first,
    so a damaged name in its header still finds it), else JSON right after the first header."""
    named = [m for m in walk.members if m.name.count("/") == 1 and m.name.endswith("/" + bundle.MANIFEST)]
    problem = ""
    for member in [*named[:1], *walk.members[:1]]:
        try:
            document = json.loads(member.content)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            problem = problem or f"{tar.relative(member.name, member.name.split('/')[0])}: not JSON: {exc}"
            continue
        if isinstance(document, dict):
            return member.content, document
        problem = problem or f"{member.name}: not a JSON object"
    # The first header's size field may be the damage: the manifest is JSON right after it, up to its newline.
    recovered = _recover_manifest(data)
    if recovered is not None:
        return recovered
    if walk.truncated and (not walk.members or not named):
        raise BundleUnreadable(f"{source}: truncated: {walk.problem}; no readable {bundle.MANIFEST}")
    if named:
        raise BundleUnreadable(f"{source}: {problem}")
    if not walk.members:
        raise BundleUnreadable(f"{source}: no {bundle.MANIFEST}: no member could be read ({walk.problem})")
    raise BundleUnreadable(f"{source}: no {bundle.MANIFEST} in the archive (first member: {walk.members[0].name!r})")


def _recover_manifest(data: bytes) -> tuple[bytes, dict[str, Any]] | None:
    region = data[tar.BLOCK : tar.BLOCK + 16 * 1024 * 1024]
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
        return BundleUnreadable(f"{source}: {bundle.MANIFEST} is not an evidence manifest: {problem}")

    version = manifest.get("manifest_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("$.manifest_version is missing")
    if version > bundle.MANIFEST_VERSION:
        raise BundleUnreadable(
            f"{source}: manifest version {version} is newer than this artifact-scan reads "
            f"({bundle.MANIFEST_VERSION})",
            hint="upgrade artifact-scan to verify this bundle",
        )
    run = manifest.get("run")
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if not isinstance(run_id, str) or not bundle.is_safe_relative(run_id) or "/" in run_id:
        raise bad("$.run.run_id is missing or cannot name a folder")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise bad("$.files is missing")
    sizes: dict[str, int] = {}
    for name, entry in files.items():
        if not bundle.is_safe_relative(name):
            raise bad(f"$.files: {name!r} is not a plain relative path")
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= bundle.MAX_BUNDLE_BYTES:
            raise bad(f"$.files[{name!r}].size is missing")
        sizes[name] = size
    if manifest.get("signature") is not None and not isinstance(manifest.get("signature"), dict):
        raise bad("$.signature is neither null nor an object")
    return run_id, sizes


def verify_bytes(data: bytes, source: str, *, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Every check runs, so a report names every problem at once. Raises BundleUnreadable when nothing
    can be checked (not a tar, truncated, no manifest, manifest not JSON)."""
    _unreadable_prefix(data, source)
    walk = tar.walk(data)
    manifest_bytes, manifest = _find_manifest(walk, data, source)
    run_id, file_sizes = _manifest_shape(manifest, source)
    top = bundle.top_folder(run_id)
    signed = manifest.get("signature") is not None
    sizes = {bundle.MANIFEST: len(manifest_bytes), **{f"{bundle.RUN}/{name}": size for name, size in file_sizes.items()}}
    if signed:
        sizes.update({bundle.SIGNATURE: ED25519_SIGNATURE_SIZE, bundle.PUBLIC_KEY: ED25519_PUBLIC_PEM_SIZE})
    expected_names = sorted(f"{top}/{name}" for name in sizes)
    full_sizes = {f"{top}/{name}": size for name, size in sizes.items()}
    mtime = bundle.mtime(manifest["run"].get("started_at"))
    expected_length = sum(tar.BLOCK + size + tar.padding(size) for size in sizes.values()) + len(tar.END_OF_ARCHIVE)
    if walk.truncated and len(data) < expected_length:
        raise BundleUnreadable(
            f"{source}: truncated: the file ends at byte {len(data)}, "
            f"the manifest's files need {expected_length}"
        )

    damaged = walk.problem is not None or any(not m.checksum_ok for m in walk.members)
    guided = tar.guided(data, expected_names, full_sizes, mtime) if damaged else None
    checks: list[Check] = []
    if guided is not None:
        layout = [(name, guided[name]) for name in expected_names]
        contents = {tar.relative(name, top): content for name, content in layout}
        checks.append(Check("members", True, f"{len(layout)} members, as the manifest lists them"))
    else:
        layout = [(m.name, m.content) for m in walk.members]
        contents, members_check = _members_check(walk, top, sizes)
        checks.append(members_check)
    checks.insert(0, _layout_check(data, layout, mtime, top, None if guided is not None else walk.problem))

    run_files = {
        name[len(bundle.RUN) + 1 :]: data
        for name, data in contents.items()
        if name.startswith(bundle.RUN + "/") and name[len(bundle.RUN) + 1 :] in file_sizes
    }
    checks.append(_hashes_check(manifest, run_files))
    public_pem = contents.get(bundle.PUBLIC_KEY)
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
        canonical, regions = tar.archive(layout, mtime, top)
    except EvidenceError as exc:
        return Check("archive", False, "the members cannot be laid out as a canonical tar", (str(exc),))
    if canonical == data:
        return Check(
            "archive", True, f"canonical tar, {len(data)} bytes: every header and padding byte as exported"
        )
    details = [tar.describe(start, end, regions) for start, end in tar.differences(data, canonical)]
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


def _members_check(walk: tar.Walk, top: str, sizes: Mapping[str, int]) -> tuple[dict[str, bytes], Check]:
    problems: list[str] = []
    contents: dict[str, bytes] = {}
    seen: Counter[str] = Counter()
    for member in walk.members:
        name = member.name
        seen[name] += 1
        if not bundle.is_safe_relative(name):
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
            problems.append(f"{tar.relative(name, top)}: {kind}, not a regular file; never extracted")
            continue
        if not name.startswith(top + "/"):
            problems.append(f"{name}: extra member outside {top}/")
            continue
        if seen[name] > 1:
            problems.append(f"{tar.relative(name, top)}: appears {seen[name]} times")
            continue
        contents[tar.relative(name, top)] = member.content
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
            problems.append(f"{bundle.MANIFEST}: $.files[{name!r}] holds {sorted(entry)}, not sha256 and size")
        elif entry["sha256"] != bundle.sha256(data) or entry["size"] != len(data):
            problems.append(
                f"{bundle.RUN}/{name}: SHA-256 differs from the manifest's: the file, or its entry in {bundle.MANIFEST}, was "
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
    canonical = bundle.canonical_json(manifest)
    if canonical != manifest_bytes:
        first = next(
            (i for i, (a, b) in enumerate(zip(canonical, manifest_bytes, strict=False)) if a != b),
            min(len(canonical), len(manifest_bytes)),
        )
        problems.append(f"{bundle.MANIFEST}: not in canonical form (first difference at byte {first} of {bundle.MANIFEST})")
    try:
        derived = bundle.build_manifest(run_files, public_pem)
    except (EvidenceError, ValueError, UnsupportedAlgorithm) as exc:
        problems.append(f"{bundle.MANIFEST}: its run metadata cannot be derived again: {exc}")
    else:
        recorded = {key: value for key, value in manifest.items() if key != "files"}
        derived.pop("files")
        problems += [f"{bundle.MANIFEST}: {line}" for line in _json_diff(recorded, derived, "$")]
    if problems:
        return Check("manifest", False, f"{bundle.MANIFEST} does not match the run's files", tuple(problems))
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
    public_pem = contents.get(bundle.PUBLIC_KEY)
    signature = contents.get(bundle.SIGNATURE)
    if public_pem is None or signature is None:
        missing = " and ".join(n for n, v in ((bundle.PUBLIC_KEY, public_pem), (bundle.SIGNATURE, signature)) if v is None)
        return Check("signature", False, f"signed, but {missing} is missing"), signer
    try:
        bundled = serialization.load_pem_public_key(public_pem)
    except (ValueError, UnsupportedAlgorithm):
        bundled = None
    if not isinstance(bundled, Ed25519PublicKey):
        return Check(
            "signature", False, f"{bundle.PUBLIC_KEY}: not an Ed25519 public key (the file was changed)"
        ), signer
    bundled_print = fingerprint(bundled)
    problems = []
    if public_pem != public_key_pem(bundled):  # PEM readers skip some bytes; every byte here is bound
        problems.append(f"{bundle.PUBLIC_KEY}: not byte for byte the PEM export writes for the key it holds (changed)")
    if bundled_print != recorded:
        problems.append(f"{bundle.PUBLIC_KEY}: fingerprint {bundled_print}, but the manifest names {recorded}")
    if pinned is not None and pinned_print != bundled_print:
        problems.append(f"signed by {bundled_print}, not by the expected key {pinned_print} (--public-key)")
    try:
        (pinned or bundled).verify(signature, manifest_bytes)
    except InvalidSignature:
        problems.append(
            f"{bundle.SIGNATURE}: does not verify over {bundle.MANIFEST}"
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
        run = bundle.run_info(run_files)
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
                (f"{bundle.RUN}/rules/: SHA-256 {actual_hash}, results.json's run.rules_sha256 {_reason(repr(recorded_hash))}",),
            ))
    unknown = [
        f"{bundle.RUN}/{_reason(name)}: neither an input of the run nor a report a format writes"
        for name in sorted(run_files)
        if not runs.is_input(name) and name not in reports
    ]
    huge = [
        f"{bundle.RUN}/{_reason(name)}: {len(data)} bytes, more than the {MAX_INPUT_BYTES} an input may have; not read"
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
        derived = runs.derive(inputs, formats, snapshot_source=f"{bundle.RUN}/{runs.SNAPSHOT_FILE}")
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
        return Check("completeness", False, f"{bundle.RUN}/snapshot.json is missing")
    try:
        snapshot = snapshots.loads(data, f"{bundle.RUN}/snapshot.json")
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
            (_reason(f"{bundle.RUN}/snapshot.json: $.metadata.complete is {str(stored).lower()}, its content shows: {shown}"),),
        )
    state = "complete" if not gaps else "incomplete: " + "; ".join(gaps)
    return Check("completeness", True, _reason(f"derived from the snapshot's content: {state}"))


def _stored_facts_problems(data: bytes, snapshot: Snapshot) -> tuple[str, ...]:
    """A snapshot's `facts` are for people and never evaluated, so they are checked here: when present they
    must be what the raw answers give (snapshot_facts), or a reader would see other facts."""
    stored = json.loads(data).get("facts")
    if stored is None:
        return ()
    derived = json.loads(json.dumps(snapshot_facts(snapshot), default=str))
    if stored == derived:
        return ()
    return tuple(_reason(f"{bundle.RUN}/snapshot.json: {line}") for line in _json_diff(stored, derived, "$.facts", ("stored", "the raw answers give"))[:20])


def snapshot_facts(snapshot: Snapshot) -> dict[str, Any]:
    """The facts the raw answers give for the organization and roles: what a snapshot written by an earlier
    version stored under `facts` for people (saving a snapshot no longer derives anything), and what
    `evidence verify` checks such a block against."""
    from scanner.evaluate.resources import ACCOUNT, build_inventory  # noqa: PLC0415

    inventory = build_inventory(snapshot)
    return {
        kind: [{"arn": r.arn, "account_id": r.account_id, "facts": r.facts, "unknown": r.unknown} for r in resources]
        for kind, resources in inventory.resources.items()
        if kind != ACCOUNT
    }


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
            f"{bundle.RUN}/{filename}: differs from the report the bundled inputs give: {_first_difference(actual, expected)}"
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
