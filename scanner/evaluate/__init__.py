"""Evaluation: a snapshot and a rule set in, a ScanResult out. Pure and deterministic.

Never imports boto3: any past snapshot can be re-evaluated offline and give the same results.
"""

from __future__ import annotations

from scanner import integrations
from scanner import snapshot as snapshots
from scanner.config import DEFAULT_INTEGRATION_POLICY, IntegrationPolicy
from scanner.evaluate.engine import evaluate_rules
from scanner.evaluate.resources import RESOURCE_TYPES, build_inventory, service_linked_role
from scanner.model import AccountSummary, Markers, RoleIdentity, RuleSet, RunInfo, ScanResult, Snapshot

__all__ = ["RESOURCE_TYPES", "evaluate"]


def evaluate(
    ruleset: RuleSet,
    snapshot: Snapshot,
    *,
    run_id: str,
    evaluated_at: str | None = None,
    policy: IntegrationPolicy = DEFAULT_INTEGRATION_POLICY,
) -> ScanResult:
    """`policy` is the configuration's desired state of the integrations (Config.integrations)."""
    inventory = build_inventory(snapshot, ruleset.integrations, dedicated=ruleset.dedicated, policy=policy)
    results = evaluate_rules(ruleset.rules, inventory)
    description = snapshot.organization.description or {}
    meta = snapshot.metadata
    info = RunInfo(
        run_id=run_id,
        tool_version=meta.tool_version,
        started_at=meta.started_at,
        finished_at=meta.finished_at,
        organization_id=description.get("Id"),
        management_account_id=description.get("MasterAccountId"),
        caller_arn=meta.caller.arn if meta.caller else None,
        rules_sha256=ruleset.sha256,
        config_sha256=meta.config_sha256,
        rule_packs=tuple((pack.id, pack.version) for pack in ruleset.packs),
        # Derived from the content, never the stored flag: an edited `complete` cannot make a run complete.
        complete=snapshots.is_complete(snapshot),
        shard=meta.shard,
        evaluated_at=evaluated_at,
    )
    accounts = tuple(
        AccountSummary(
            id=account.id,
            name=account.name,
            state=account.state,
            is_management=account.is_management,
            scanned=account.scanned,
            skip_reason=account.skip_reason,
            error_count=len(account.errors),
        )
        for account in sorted(snapshot.accounts, key=lambda a: a.id)
    )
    return ScanResult(
        info=info,
        rules=tuple(sorted(ruleset.rules, key=lambda r: r.id)),
        results=results,
        accounts=accounts,
        errors=snapshot.errors,
        markers=drift_markers(snapshot, ruleset.integrations),
    )


def drift_markers(snapshot: Snapshot, integration_ids: tuple[str, ...]) -> Markers:
    """Identity facts a later run compares with (scanner.audit.baseline): only what was actually read.

    The service-linked role of each integration the rules apply to is the one in the management account."""
    description = snapshot.organization.description or {}
    enabled = snapshot.organization.enabled_service_principals
    trusted_access = None if enabled is None else {
        str(item.get("ServicePrincipal")): _text(item.get("DateEnabled")) for item in enabled
    }
    management = next((a for a in snapshot.accounts if a.is_management), None)
    roles: dict[str, RoleIdentity | None] | None = None
    if management is not None and management.roles_listed is not None:
        roles = {}
        for known in integrations.scope(integration_ids):
            role = service_linked_role(management.roles, known)
            roles[known.id] = RoleIdentity(
                _text(role.get("Arn")), _text(role.get("RoleId")), _text(role.get("CreateDate"))
            ) if role else None
    return Markers(
        management_account_id=_text(description.get("MasterAccountId")),
        organization_arn=_text(description.get("Arn")),
        trusted_access=trusted_access,
        service_linked_roles=roles,
    )


def _text(value: object) -> str | None:
    """A recorded answer's value as text (dates are ISO 8601 strings in a snapshot), None when absent."""
    return None if value is None else str(value)
