"""Shards: split one scan between machines, and merge their snapshots back into one. Pure: no AWS, no disk.

`--shard i/n` makes a collection read the organization-level data (DescribeOrganization, trusted
access, the customer agreements, the delegated administrators, the whole account list) and the
management account, like a full run, but only the member accounts whose id hashes to shard i:
`sha256(account id) mod n`, stable across runs, machines and Python versions. A shard's snapshot records its spec (`metadata.shard`) and
every account id the listing returned (`metadata.listed_accounts`), so that a merge can check that
the shards cover the organization exactly once.

`merge()` unions the accounts and takes the organization data once. It refuses, naming every
problem at once: inputs that are not shards, an interrupted shard, shards of different counts, a
shard given twice, a missing shard, shards that disagree on the organization, the account list, the
configuration or the tool version, and an account held by a shard it does not belong to (or by two).
The merged snapshot is what one full run would have collected; evaluating it gives that run's results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.errors import SnapshotError
from scanner.model import (
    SNAPSHOT_VERSION,
    AccountSnapshot,
    CollectionError,
    OrganizationSnapshot,
    Snapshot,
    SnapshotMetadata,
)
from scanner.snapshot.shard import Shard, shard_of


class MergeError(SnapshotError):
    """The shards cannot be merged; `problems` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"cannot merge the shards: {count} problem{'s' if count != 1 else ''}:"
        super().__init__(
            "\n".join([header, *(f"  {p}" for p in self.problems)]),
            hint="collect every shard i/n of one n with the same artifact-scan version and configuration",
        )


_ORGANIZATION_FIELDS = ("description", "enabled_service_principals", "customer_agreements", "delegated_administrators")
_SAME_EVERYWHERE = ("tool_version", "config_sha256", "rules_sha256", "endpoint_url", "integrations")


def merge(shards: Sequence[tuple[str, Snapshot]]) -> Snapshot:
    """Merge `(source name, shard snapshot)` pairs into one snapshot; MergeError lists every problem."""
    problems: list[str] = []
    if not shards:
        raise MergeError(["no snapshot given"])
    specs: dict[str, Shard] = {}
    for source, snapshot in shards:
        spec = _spec(source, snapshot, problems)
        if spec is not None:
            specs[source] = spec
    if problems:
        raise MergeError(problems)
    _check_shard_set(specs, problems)
    if len({spec.count for spec in specs.values()}) > 1:
        raise MergeError(problems)  # nothing else can be compared
    ordered = sorted(shards, key=lambda pair: specs[pair[0]])
    _check_same(ordered, specs, problems)
    organization = _merge_organization(ordered, specs, problems)
    accounts = _merge_accounts(ordered, specs, problems)
    if problems:
        raise MergeError(problems)
    return Snapshot(
        version=SNAPSHOT_VERSION,
        metadata=_merge_metadata(ordered),
        organization=organization,
        accounts=tuple(sorted(accounts.values(), key=lambda a: a.id)),
    )


def _label(source: str, spec: Shard | None) -> str:
    return f"{source} (shard {spec})" if spec else source


def _spec(source: str, snapshot: Snapshot, problems: list[str]) -> Shard | None:
    meta = snapshot.metadata
    if meta.shard is None:
        problems.append(f"{source}: not a shard: it was collected without --shard")
        return None
    try:
        spec = Shard.parse(meta.shard)
    except ValueError as exc:
        problems.append(f"{source}: metadata.shard: {exc}")
        return None
    if meta.interrupted:
        problems.append(f"{_label(source, spec)}: the collection was interrupted; collect this shard again")
    if meta.listed_accounts is None:
        problems.append(f"{_label(source, spec)}: metadata.listed_accounts is missing: cannot check completeness")
    return spec


def _check_shard_set(specs: Mapping[str, Shard], problems: list[str]) -> None:
    counts = sorted({spec.count for spec in specs.values()})
    if len(counts) > 1:
        listing = ", ".join(f"{source} is {spec}" for source, spec in specs.items())
        problems.append(f"the shards split the scan different ways ({listing}): merge shards of one n only")
        return
    count = counts[0]
    by_index: dict[int, str] = {}
    for source, spec in specs.items():
        if spec.index in by_index:
            problems.append(f"shard {spec} is given twice: {by_index[spec.index]} and {source}")
        else:
            by_index[spec.index] = source
    missing = [str(Shard(i, count)) for i in range(1, count + 1) if i not in by_index]
    if missing:
        problems.append(f"missing shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} (of {count})")


def _check_same(ordered: Sequence[tuple[str, Snapshot]], specs: Mapping[str, Shard], problems: list[str]) -> None:
    for name in _SAME_EVERYWHERE:
        values: dict[Any, list[str]] = {}
        for source, snapshot in ordered:
            values.setdefault(getattr(snapshot.metadata, name), []).append(_label(source, specs[source]))
        if len(values) > 1:
            detail = "; ".join(f"{value!r} in {', '.join(sources)}" for value, sources in values.items())
            problems.append(f"the shards disagree on metadata.{name}: {detail}")
    callers = {s.metadata.caller.account for _, s in ordered if s.metadata.caller is not None}
    if len(callers) > 1:
        problems.append(f"the shards were collected by different accounts: {', '.join(sorted(callers))}")
    listings: dict[tuple[str, ...], list[str]] = {}
    for source, snapshot in ordered:
        listed = tuple(sorted(snapshot.metadata.listed_accounts or ()))
        listings.setdefault(listed, []).append(_label(source, specs[source]))
    if len(listings) > 1:
        union = set().union(*listings)
        detail = "; ".join(
            f"{', '.join(sources)} listed {len(listed)} of {len(union)} accounts"
            + (f" (missing e.g. {sorted(union - set(listed))[0]})" if union - set(listed) else "")
            for listed, sources in listings.items()
        )
        failed = [
            _label(source, specs[source])
            for source, snapshot in ordered
            if any(e.api == "organizations:ListAccounts" for e in snapshot.organization.errors)
        ]
        cause = (
            f"the listing failed in {', '.join(failed)}: collect it again"
            if failed
            else "the organization changed between the shards' runs: collect every shard again"
        )
        problems.append(f"the shards listed different accounts ({detail}); {cause}")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _merge_organization(
    ordered: Sequence[tuple[str, Snapshot]], specs: Mapping[str, Shard], problems: list[str]
) -> OrganizationSnapshot:
    """Each field once: every shard that read it must have read the same; a read that failed in one
    shard and succeeded in another takes the value read (the failure stays among the errors)."""
    merged: dict[str, Any] = {}
    for name in _ORGANIZATION_FIELDS:
        read: dict[str, tuple[Any, list[str]]] = {}
        for source, snapshot in ordered:
            value = getattr(snapshot.organization, name)
            if value is not None:
                key = _canonical(value)
                read.setdefault(key, (value, []))[1].append(_label(source, specs[source]))
        if len(read) > 1:
            groups = " vs ".join(", ".join(sources) for _, sources in read.values())
            problems.append(f"the shards disagree on organization.{name}: {groups}")
        merged[name] = next(iter(read.values()))[0] if read else None
    merged["delegated_services"] = _merge_delegated_services(ordered, specs, problems)
    errors = _unique_errors(e for _, snapshot in ordered for e in snapshot.organization.errors)
    return OrganizationSnapshot(errors=errors, **merged)


def _merge_delegated_services(
    ordered: Sequence[tuple[str, Snapshot]], specs: Mapping[str, Shard], problems: list[str]
) -> dict[str, Any] | None:
    """Per account, like the fields above: one account's read may fail in one shard only, and the
    shard that read it supplies it."""
    shards = [(source, snapshot.organization.delegated_services) for source, snapshot in ordered]
    if all(services is None for _, services in shards):
        return None
    merged: dict[str, Any] = {}
    for account_id in sorted({a for _, services in shards for a in services or {}}):
        read: dict[str, tuple[Any, list[str]]] = {}
        for source, services in shards:
            if services is not None and account_id in services:
                value = services[account_id]
                read.setdefault(_canonical(value), (value, []))[1].append(_label(source, specs[source]))
        if len(read) > 1:
            groups = " vs ".join(", ".join(sources) for _, sources in read.values())
            problems.append(f"the shards disagree on organization.delegated_services[{account_id}]: {groups}")
        merged[account_id] = next(iter(read.values()))[0]
    return merged


def _unique_errors(errors: Any) -> tuple[CollectionError, ...]:
    seen: dict[CollectionError, None] = {}
    for error in errors:
        seen.setdefault(error, None)
    return tuple(seen)


def _merge_accounts(
    ordered: Sequence[tuple[str, Snapshot]], specs: Mapping[str, Shard], problems: list[str]
) -> dict[str, AccountSnapshot]:
    """Every account from the shard that owns it. The management account is read by every shard (its
    roles are organization-level facts); the copy of the shard its id hashes to is kept."""
    accounts: dict[str, AccountSnapshot] = {}
    holders: dict[str, str] = {}
    misplaced: list[str] = []
    duplicates: list[str] = []
    for source, snapshot in ordered:
        spec = specs[source]
        for account in snapshot.accounts:
            if not spec.owns(account.id):
                if not account.is_management:
                    owner = Shard(shard_of(account.id, spec.count), spec.count)
                    misplaced.append(f"{account.id} in {_label(source, spec)} belongs to shard {owner}")
                continue
            if account.id in accounts:
                duplicates.append(f"{account.id} in {holders[account.id]} and {_label(source, spec)}")
                continue
            accounts[account.id] = account
            holders[account.id] = _label(source, spec)
    _summarise(problems, misplaced, "account(s) held by a shard they do not belong to")
    _summarise(problems, duplicates, "account(s) in two shards")
    listed = set().union(*(set(s.metadata.listed_accounts or ()) for _, s in ordered))
    count = next(iter(specs.values())).count
    present = {spec.index for spec in specs.values()}
    missing = [
        f"{a} (shard {shard_of(a, count)}/{count})"
        for a in sorted(listed - set(accounts))
        if shard_of(a, count) in present
    ]
    _summarise(problems, missing, "listed account(s) missing from their shard")
    return accounts


def _summarise(problems: list[str], items: Sequence[str], what: str, shown: int = 5) -> None:
    if items:
        more = f" and {len(items) - shown} more" if len(items) > shown else ""
        problems.append(f"{len(items)} {what}: {'; '.join(items[:shown])}{more}")


def merge_stats(*stats: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, int]] | None:
    """Sum the `metadata.stats` of several snapshots (calls, retries, throttled by operation)."""
    present = [s for s in stats if s is not None]
    if not present:
        return None
    total: dict[str, dict[str, int]] = {}
    for mapping in present:
        for operation, counts in mapping.items():
            into = total.setdefault(operation, {})
            for key, value in counts.items():
                into[key] = into.get(key, 0) + int(value)
    return {operation: total[operation] for operation in sorted(total)}


def _merge_metadata(ordered: Sequence[tuple[str, Snapshot]]) -> SnapshotMetadata:
    metas = [snapshot.metadata for _, snapshot in ordered]
    first = metas[0]
    return SnapshotMetadata(
        tool_version=first.tool_version,
        started_at=min(m.started_at for m in metas),
        finished_at=max(m.finished_at for m in metas),
        caller=first.caller,
        rules_sha256=first.rules_sha256,
        config_sha256=first.config_sha256,
        complete=all(m.complete for m in metas),
        shard=None,
        endpoint_url=first.endpoint_url,
        interrupted=False,
        stats=merge_stats(*(m.stats for m in metas)),
        listed_accounts=None,
        integrations=first.integrations,
    )
