"""Reading and writing snapshots: versioned JSON holding what a collection read.

A snapshot is evidence, replayed offline by `scan --snapshot`. It holds raw API answers, the
collection errors and the run's metadata, never credentials. Loading checks the version and the
shape first, so a truncated, foreign or newer file is refused with a message instead of evaluated.

Beside it in this package: shard.py (which shard of a split scan reads an account) and merge.py (the
shards' snapshots into one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scanner import files, integrations, schemas
from scanner.errors import SnapshotError
from scanner.model import (
    AGREEMENTS_INTEGRATION,
    LEGACY_INTEGRATIONS,
    SNAPSHOT_VERSION,
    AccountSnapshot,
    CallerIdentity,
    CollectionError,
    OrganizationSnapshot,
    RoleRecord,
    Snapshot,
    SnapshotMetadata,
)
from scanner.snapshot.shard import Shard


def gaps(snapshot: Snapshot) -> tuple[str, ...]:
    """Why the snapshot does not cover the organization, derived from what it holds; empty when it does.

    `metadata.complete` is never read here: it is a claim anyone can edit, while an interruption, a failed
    read, data that is absent, or a listed account that was not read all show in the content itself."""
    meta, organization = snapshot.metadata, snapshot.organization
    reasons: list[str] = []
    delegated = integrations.needs_delegated_administrators(meta.integrations)
    if meta.interrupted:
        reasons.append("the collection was interrupted before every account was read")
    errors = snapshot.errors
    if errors:
        reasons.append(f"{len(errors)} read{'s' if len(errors) != 1 else ''} failed")
    for what, value, needed in (
        ("the organization (organizations:DescribeOrganization)", organization.description, True),
        ("trusted access (organizations:ListAWSServiceAccessForOrganization)",
         organization.enabled_service_principals, True),
        # Read only for a collection of its integration: unread otherwise, and no rule of that run needs it.
        ("the customer agreements (artifact:ListCustomerAgreements)", organization.customer_agreements,
         AGREEMENTS_INTEGRATION in meta.integrations),
        # Read only when an integration in scope can have a delegated administrator (same reasoning).
        ("the delegated administrators (organizations:ListDelegatedAdministrators)",
         organization.delegated_administrators, delegated),
        ("the delegated administrators' services (organizations:ListDelegatedServicesForAccount)",
         organization.delegated_services, delegated and organization.delegated_administrators is not None),
    ):
        if needed and value is None:
            reasons.append(f"{what} was not read")
    for account in snapshot.accounts:
        if not account.scanned:
            if not account.skip_reason:
                reasons.append(f"account {account.id}: not read, and no reason given for skipping it")
        elif account.roles_listed is None:
            reasons.append(f"account {account.id}: its roles were not listed")
        elif any(
            not role.listing_only
            and (not role.detail_read or role.attached_policies is None or role.inline_policies is None)
            for role in account.roles
        ):
            reasons.append(f"account {account.id}: a role of interest was not read in full")
    if meta.listed_accounts is not None:
        read = {account.id for account in snapshot.accounts}
        owns = _owner(meta.shard)
        missing = sorted({a for a in meta.listed_accounts if a not in read and owns(a)})
        if missing:
            reasons.append(f"{len(missing)} listed account{'s' if len(missing) != 1 else ''} not read")
    return tuple(reasons)


def is_complete(snapshot: Snapshot) -> bool:
    return not gaps(snapshot)


def _owner(spec: str | None) -> Callable[[str], bool]:
    """Which listed accounts a snapshot must hold: its shard's, or every one."""
    if spec is None:
        return lambda _: True
    try:
        return Shard.parse(spec).owns
    except ValueError:
        return lambda _: True  # an unreadable spec claims no subset: every listed account must be here


def to_document(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as plain JSON data: what was read, nothing derived by evaluation, so that saving one
    never depends on the rules engine (a partial snapshot is kept whatever evaluation would make of it).
    `metadata.complete` is written as derived from the content (gaps()), whatever the object says."""
    document = asdict(snapshot)
    document["snapshot_version"] = document.pop("version")
    document["metadata"]["complete"] = is_complete(snapshot)
    return document


def dumps(snapshot: Snapshot) -> bytes:
    text = json.dumps(to_document(snapshot), indent=1, sort_keys=True, ensure_ascii=False)
    # A lone surrogate (JSON from AWS may carry "\ud800") cannot be UTF-8: kept as the same JSON escape, so
    # the snapshot still loads to exactly what was read.
    return (text + "\n").encode("utf-8", "backslashreplace")


def read_bytes(path: str | Path) -> bytes:
    return files.read_limited(path, what="snapshot", limit=files.MAX_SNAPSHOT_BYTES, error=SnapshotError)


def load(path: str | Path) -> Snapshot:
    return loads(read_bytes(path), str(path))


class _NotJson(ValueError):
    """JSON that Python's parser would take but a snapshot must not hold."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            # Parsers disagree on which of two values wins: two readers could see two different snapshots.
            raise _NotJson(f"duplicate key {key!r} in an object")
        document[key] = value
    return document


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def loads(raw: bytes, source: str) -> Snapshot:
    try:
        document = json.loads(raw, object_pairs_hook=_object, parse_constant=_constant)
    except _NotJson as exc:
        raise SnapshotError(f"{source}: not a snapshot: {exc}") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{source}: not a snapshot: the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # A string that never closes runs to the end of the file: cut mid-string, as an interrupted copy is.
        cut = exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated string")
        truncated = " (the file looks truncated)" if cut else ""
        raise SnapshotError(
            f"{source}:{exc.lineno}:{exc.colno}: not a snapshot: invalid JSON: {exc.msg}{truncated}"
        ) from None
    except RecursionError:
        raise SnapshotError(f"{source}: not a snapshot: JSON nested too deeply") from None
    if not isinstance(document, dict) or "snapshot_version" not in document:
        raise SnapshotError(f"{source}: not a snapshot: $.snapshot_version is missing")
    version = document["snapshot_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError(f"{source}: $.snapshot_version: expected an integer, found {version!r}")
    if version > SNAPSHOT_VERSION:
        raise SnapshotError(
            f"{source}: snapshot version {version} is newer than this artifact-scan reads ({SNAPSHOT_VERSION})",
            hint="upgrade artifact-scan to evaluate this snapshot",
        )
    schemas.validate(document, "snapshot", source=source, error=SnapshotError)
    return _from_document(document)


def _error(doc: Mapping[str, Any]) -> CollectionError:
    return CollectionError(
        api=doc["api"],
        code=doc["code"],
        message=doc["message"],
        account_id=doc.get("account_id"),
        resource=doc.get("resource"),
    )


def _errors(docs: list[Mapping[str, Any]]) -> tuple[CollectionError, ...]:
    return tuple(_error(doc) for doc in docs)


def _optional_tuple(value: list[Any] | None) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


def _delegated_services(
    doc: Mapping[str, list[Mapping[str, Any]]] | None,
) -> Mapping[str, tuple[Mapping[str, Any], ...]] | None:
    return None if doc is None else {account_id: tuple(items) for account_id, items in doc.items()}


def _role(doc: Mapping[str, Any]) -> RoleRecord:
    return RoleRecord(
        role=doc["role"],
        attached_policies=_optional_tuple(doc["attached_policies"]),
        inline_policies=doc["inline_policies"],
        detail_read=doc["detail_read"],
        listing_only=doc.get("listing_only", False),
    )


def _account(doc: Mapping[str, Any]) -> AccountSnapshot:
    return AccountSnapshot(
        id=doc["id"],
        name=doc["name"],
        state=doc["state"],
        is_management=doc["is_management"],
        listing=doc["listing"],
        scanned=doc["scanned"],
        skip_reason=doc.get("skip_reason"),
        roles_listed=doc.get("roles_listed"),
        roles=tuple(_role(role) for role in doc.get("roles", [])),
        errors=_errors(doc.get("errors", [])),
    )


def _from_document(document: Mapping[str, Any]) -> Snapshot:
    meta = document["metadata"]
    caller = meta.get("caller")
    org = document["organization"]
    return Snapshot(
        version=document["snapshot_version"],
        metadata=SnapshotMetadata(
            tool_version=meta["tool_version"],
            started_at=meta["started_at"],
            finished_at=meta["finished_at"],
            caller=CallerIdentity(**caller) if caller else None,
            rules_sha256=meta["rules_sha256"],
            config_sha256=meta["config_sha256"],
            complete=meta["complete"],
            shard=meta.get("shard"),
            endpoint_url=meta.get("endpoint_url"),
            interrupted=meta.get("interrupted", False),
            stats=meta.get("stats"),
            listed_accounts=_optional_tuple(meta.get("listed_accounts")),
            # Absent: written before the field existed, when every collection was Artifact's alone.
            integrations=tuple(meta.get("integrations", LEGACY_INTEGRATIONS)),
        ),
        organization=OrganizationSnapshot(
            description=org["description"],
            enabled_service_principals=_optional_tuple(org["enabled_service_principals"]),
            customer_agreements=_optional_tuple(org["customer_agreements"]),
            errors=_errors(org.get("errors", [])),
            # Absent: written before they were read at all, so "not read" (never "none registered").
            delegated_administrators=_optional_tuple(org.get("delegated_administrators")),
            delegated_services=_delegated_services(org.get("delegated_services")),
        ),
        accounts=tuple(_account(account) for account in document["accounts"]),
    )
