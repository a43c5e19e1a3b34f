"""Baselines: compare a run with an earlier run's results.json.

Each finding (fail or suppressed) is marked `new` or `unchanged`, with `first_seen` carried forward;
the earlier findings that are gone are listed as resolved. A finding is resolved only when this run
could check it: if its rule gave `error` on that account now, it is not known to be fixed.

Drift beyond the rules compares the markers each run records (scanner.model.Markers): the service-linked role deleted and
re-created (new RoleId or CreateDate), or trusted access disabled and re-enabled (new DateEnabled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from scanner import files
from scanner.errors import ScannerError
from scanner.model import Drift, FindingKey, Markers, ResolvedFinding, Result, ScanResult, Severity, Status
from scanner.terminal import excerpt

FINDING_STATUSES = (Status.FAIL, Status.SUPPRESSED)


class BaselineError(ScannerError):
    """The baseline file is not an artifact-scan results.json this version reads."""


@dataclass(frozen=True, slots=True)
class Baseline:
    run_id: str
    started_at: str
    findings: Mapping[FindingKey, ResolvedFinding]  # the baseline's findings; resolved if gone now
    markers: Markers
    organization_id: str | None = None  # None when that run could not read the organization


def key_of(result: Result) -> FindingKey:
    return FindingKey(result.rule_id, result.account_id, result.resource_arn)


def read_baseline(path: str | Path) -> bytes:
    """The file's bytes (a regular file within the baseline limit): read once, parsed and kept in the run."""
    return files.read_limited(path, what="baseline", limit=files.MAX_BASELINE_BYTES, error=BaselineError)


def load_baseline(path: str | Path) -> Baseline:
    return parse_baseline(read_baseline(path), str(path))


def parse_baseline(raw: bytes, path: str) -> Baseline:
    """An earlier run's results.json, named `path` in messages."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BaselineError(f"{path}: not a results.json: {excerpt(exc, 200)}") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise BaselineError(
            f"{path}: $.schema_version: expected an artifact-scan results.json of schema version 1",
            hint="pass the results.json of an earlier run, e.g. --baseline reports/<run-id>/results.json",
        )
    try:
        run = document["run"]
        findings = {}
        for item in document["results"]:
            if item["status"] not in ("fail", "suppressed"):
                continue
            key = FindingKey(item["rule_id"], item["account_id"], item["resource_arn"])
            findings[key] = ResolvedFinding(
                key, Severity.parse(item["severity"]), item["resource_name"], item["message"],
                item.get("first_seen") or run["started_at"],
            )
        organization = run.get("organization_id")
        return Baseline(run["run_id"], run["started_at"], findings, Markers.from_json(document.get("markers", {})),
                        organization if isinstance(organization, str) else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"{path}: not a complete results.json: missing or wrong {exc}") from None


def check_same_organization(scan: ScanResult, baseline: Baseline) -> None:
    """A baseline compares two runs of one organization: against another one every finding would be "new"
    and every old one "resolved", a gate (--fail-on-new) and a drift report that mean nothing. Refused
    when both organizations are known and differ. A run folder's own baseline (what `evidence verify`
    derives from) passed this check when the run was made."""
    ours, theirs = scan.info.organization_id, baseline.organization_id
    if ours and theirs and ours != theirs:
        raise BaselineError(
            f"the baseline (run {excerpt(baseline.run_id)}) is a run of organization {excerpt(theirs)}, and "
            f"this run read organization {excerpt(ours)}: a baseline only compares runs of one organization",
            hint=f"pass the results.json of an earlier run of {excerpt(ours)}, or scan without --baseline",
        )


def apply_baseline(scan: ScanResult, baseline: Baseline) -> ScanResult:
    check_same_organization(scan, baseline)
    current_keys = set()
    results = []
    for result in scan.results:
        if result.status not in FINDING_STATUSES:
            results.append(result)
            continue
        key = key_of(result)
        current_keys.add(key)
        previous = baseline.findings.get(key)
        if previous is None:
            results.append(replace(result, baseline="new", first_seen=scan.info.started_at))
        else:
            results.append(replace(result, baseline="unchanged", first_seen=previous.first_seen))
    # Resolved is a claim that the account was read and the finding is gone: an account this run did not
    # read (skipped, never listed, another shard's) or a rule it could not evaluate there resolves nothing.
    unknown_now = {(r.rule_id, r.account_id) for r in scan.results if r.status is Status.ERROR}
    read_now = {account.id for account in scan.accounts if account.scanned}
    resolved = tuple(
        previous
        for key, previous in sorted(baseline.findings.items(), key=lambda item: _sort_key(item[0]))
        if key not in current_keys and key.account_id in read_now and (key.rule_id, key.account_id) not in unknown_now
    )
    return replace(
        scan,
        results=tuple(results),
        baseline_run_id=baseline.run_id,
        resolved=resolved,
        drift=tuple(drift_between(baseline.markers, scan.markers)),
    )


def _sort_key(key: FindingKey) -> tuple[str, str, str]:
    return (key.rule_id, key.account_id, key.resource_arn)


def drift_between(before: Markers, after: Markers) -> list[Drift]:
    """Changes of identity that no single run can see; both sides must have been read."""
    drift = []
    management = after.management_account_id or ""
    old_roles, new_roles = before.service_linked_roles or {}, after.service_linked_roles or {}
    for integration_id in sorted(set(old_roles) & set(new_roles)):
        old_role, new_role = old_roles[integration_id], new_roles[integration_id]
        if old_role is None or new_role is None:
            continue
        pairs = (("role_id", old_role.role_id, new_role.role_id),
                 ("create_date", old_role.create_date, new_role.create_date))
        changed = {k: (a, b) for k, a, b in pairs if a != b}
        if changed:
            name = (new_role.arn or "").rsplit("/", 1)[-1] or integration_id
            drift.append(Drift(
                kind="service-linked-role-recreated",
                account_id=management,
                resource_arn=new_role.arn or "",
                message=f"{name} was deleted and re-created since the baseline "
                        f"({', '.join(f'{k} {a} -> {b}' for k, (a, b) in changed.items())})",
                before={k: a for k, (a, _) in changed.items()},
                after={k: b for k, (_, b) in changed.items()},
            ))
    old_access, new_access = before.trusted_access, after.trusted_access
    if old_access is not None and new_access is not None:
        for principal in sorted(set(old_access) & set(new_access)):
            if old_access[principal] != new_access[principal]:
                drift.append(Drift(
                    kind="trusted-access-re-enabled",
                    account_id=management,
                    resource_arn=after.organization_arn or "",
                    message=f"trusted access for {principal} was disabled and re-enabled since the baseline "
                            f"(DateEnabled {old_access[principal]} -> {new_access[principal]})",
                    before=old_access[principal],
                    after=new_access[principal],
                ))
    return drift
