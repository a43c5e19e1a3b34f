"""Per-rule pass/fail cases, kept as data in tests/rule_cases/<RULE-ID>.yaml.

Each case describes changes to a small healthy organization (management account 111111111111 with the
real service-linked roles of both built-in integrations, member 222222222222, trusted access enabled for
both, one active organization agreement), runs the built-in rule through the real fact builder and engine,
and checks the status of the result for the case's target. Test ids read like `ART-006-fail-extra_principal`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner import integrations
from scanner.config import IntegrationPolicy
from scanner.evaluate.engine import evaluate_rules
from scanner.evaluate.resources import build_inventory
from scanner.model import (
    AccountSnapshot,
    CollectionError,
    OrganizationSnapshot,
    Result,
    RoleRecord,
    Rule,
    Snapshot,
    SnapshotMetadata,
)
from scanner.rules import load_rules

CASES_DIR = Path(__file__).parent / "rule_cases"
MANAGEMENT = "111111111111"
MEMBER = "222222222222"
ORG_ID = "o-exampleorg1"
SLR_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SLR_POLICY = "arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy"
SLR_PATH = "/aws-service-role/artifact.amazonaws.com/"
# The second built-in integration, AWS Systems Manager, is healthy too: trusted access on, its role as AWS makes it
SSM_SLR = {
    "name": "AWSServiceRoleForAmazonSSM_AccountDiscovery",
    "path": "/aws-service-role/accountdiscovery.ssm.amazonaws.com/",
    "trust": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "accountdiscovery.ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]},
    "attached": ["arn:aws:iam::aws:policy/aws-service-role/AWSSystemsManagerAccountDiscoveryServicePolicy"],
}
STATUSES = ("pass", "fail", "error", "skipped", "not_applicable")

BUILTIN_SET = load_rules()
BUILTIN = {rule.id: rule for rule in BUILTIN_SET.rules}


def _role(account: str, spec: dict[str, Any]) -> RoleRecord:
    name = spec.get("name", "AWSServiceRoleForArtifact")
    path = spec.get("path", SLR_PATH)
    role: dict[str, Any] = {
        "RoleName": name,
        "Path": path,
        "Arn": f"arn:aws:iam::{account}:role{path}{name}",
        "RoleId": "AROA" + name.upper()[:12].ljust(12, "X"),
        "CreateDate": "2024-01-02T03:04:05Z",
        "AssumeRolePolicyDocument": spec.get("trust", SLR_TRUST),
        "MaxSessionDuration": 3600,
        "Tags": [{"Key": k, "Value": v} for k, v in spec.get("tags", {}).items()],
    }
    if "boundary" in spec:
        role["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": spec["boundary"],
        }
    if spec.get("listing_only"):  # kept from ListRoles alone, as the collector keeps a member's genuine SLR
        return RoleRecord(role=role, attached_policies=None, inline_policies=None, detail_read=False,
                          listing_only=True)
    attached = spec.get("attached", [SLR_POLICY])
    return RoleRecord(
        role=role,
        attached_policies=None if attached is None else tuple({"PolicyArn": arn} for arn in attached),
        inline_policies=spec.get("inline", {}),
        detail_read=spec.get("detail_read", True),
    )


def build_snapshot(case: dict[str, Any]) -> Snapshot:
    management_roles = [] if case.get("remove_slr") else [_role(MANAGEMENT, case.get("slr", {}))]
    if not case.get("remove_ssm_slr"):
        management_roles.append(_role(MANAGEMENT, SSM_SLR))
    member_roles = []
    for spec in case.get("roles", []):
        target = MANAGEMENT if spec.get("account", "member") == "management" else MEMBER
        (management_roles if target == MANAGEMENT else member_roles).append(_role(target, spec))
    member_spec = case.get("member", {})
    member_errors = tuple(
        CollectionError(api=e["api"], code=e["code"], message=e["message"], account_id=MEMBER)
        for e in member_spec.get("errors", [])
    )
    org_errors = tuple(CollectionError(api=e["api"], code=e["code"], message=e["message"], resource=e.get("resource"))
                       for e in case.get("organization_errors", []))
    enabled = case.get("enabled", ["aws-artifact-account-sync.amazonaws.com", "ssm.amazonaws.com"])
    agreements = case.get(
        "agreements",
        [{"id": "agreement-1", "name": "AWS Organization BAA", "state": "ACTIVE",
          "organizationArn": f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG_ID}"}],
    )
    description = None if case.get("describe_failed") else {
        "Id": ORG_ID,
        "Arn": f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG_ID}",
        "FeatureSet": case.get("feature_set", "ALL"),
        "MasterAccountId": MANAGEMENT,
    }
    # Read, and no delegated administrator, unless the case says otherwise; null = the reads failed
    admins = case.get("delegated_administrators", [])
    services = case.get("delegated_services", {})
    return Snapshot(
        version=1,
        metadata=SnapshotMetadata("test", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", None, "r", "c",
                                  complete=not (member_errors or org_errors),
                                  integrations=integrations.builtin_pack_integrations()),
        organization=OrganizationSnapshot(
            description=description,
            enabled_service_principals=None if enabled is None else tuple({"ServicePrincipal": p} for p in enabled),
            customer_agreements=None if agreements is None else tuple(agreements),
            errors=org_errors,
            delegated_administrators=None if admins is None else tuple(
                {"Id": a["id"], "Status": a.get("status", "ACTIVE")} for a in admins
            ),
            delegated_services=None if services is None else {
                account: tuple({"ServicePrincipal": p} for p in principals) for account, principals in services.items()
            },
        ),
        accounts=(
            AccountSnapshot(MANAGEMENT, "management", "ACTIVE", True, {"Id": MANAGEMENT}, True,
                            roles_listed=10, roles=tuple(management_roles)),
            AccountSnapshot(MEMBER, "member", member_spec.get("state", "ACTIVE"), False, {"Id": MEMBER},
                            scanned=member_spec.get("scanned", True),
                            skip_reason=member_spec.get("skip_reason"),
                            roles_listed=member_spec.get("roles_listed", 5),
                            roles=tuple(member_roles), errors=member_errors),
        ),
    )


def _target_results(rule: Rule, case: dict[str, Any]) -> list[Result]:
    scope = (rule.integration,) if rule.integration else ()
    if rule.integration == integrations.EVERY:
        scope = integrations.integration_ids()
    policy = IntegrationPolicy(**{k: tuple(v) if isinstance(v, list) else v for k, v in case.get("policy", {}).items()})
    # The integrations a pack of their own covers: the built-in packs', unless the case says otherwise
    dedicated = tuple(case.get("dedicated", ("artifact", "ssm")))
    inventory = build_inventory(build_snapshot(case), scope, dedicated=dedicated, policy=policy)
    results = evaluate_rules([rule], inventory)
    target = case.get("target", {})
    account = MEMBER if target.get("account") == "member" else MANAGEMENT if target.get("account") else None
    if rule.resource == "aws.account":
        account = account or MEMBER
    elif rule.resource in ("aws.iam.role", "aws.organizations.integration"):
        account = account or MANAGEMENT  # where the service-linked role lives, and the integrations
    name = target.get("role", target.get("integration"))
    matching = [
        r for r in results
        if (account is None or r.account_id == account) and (name is None or r.resource_name == name)
    ]
    if rule.resource == "aws.iam.role" and name is None:
        matching = [r for r in matching if r.resource_type == "aws.iam.role"]
    return matching


def _target_status(rule: Rule, case: dict[str, Any]) -> str:
    matching = _target_results(rule, case)
    if not matching:
        return "not_applicable"
    statuses = {r.status.value for r in matching}
    assert len(statuses) == 1, f"the target matched results of several statuses: {matching}"
    return statuses.pop()


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for name, case in document["cases"].items():
            params.append(pytest.param(document["rule"], name, case, id=f"{document['rule']}-{case['status']}-{name}"))
    return params


CASES = _load_cases()


@pytest.mark.parametrize(("rule_id", "name", "case"), CASES)
def test_rule_case(rule_id: str, name: str, case: dict[str, Any]) -> None:
    assert case["status"] in STATUSES, f"{rule_id}/{name}: unknown status {case['status']}"
    assert _target_status(BUILTIN[rule_id], copy.deepcopy(case)) == case["status"]
    if "message" in case:  # the sentence a reader sees, word for word
        assert [r.message for r in _target_results(BUILTIN[rule_id], copy.deepcopy(case))] == [case["message"]]


def test_every_rule_has_a_message_template_and_an_asserted_sentence() -> None:
    with_message = {param.values[0] for param in CASES if "message" in param.values[2]}
    for rule_id, rule in BUILTIN.items():
        assert rule.message, f"{rule_id} has no message template"
        assert rule_id in with_message, f"{rule_id}: no case asserts its failure sentence"


def test_every_rule_has_pass_and_fail_cases() -> None:
    seen: dict[str, set[str]] = {}
    for param in CASES:
        rule_id, _name, case = param.values
        seen.setdefault(rule_id, set()).add(case["status"])
    for rule_id in BUILTIN:
        assert {"pass", "fail"} <= seen.get(rule_id, set()), f"{rule_id} needs both pass and fail cases"


def test_case_files_name_real_rules() -> None:
    for path in CASES_DIR.glob("*.yaml"):
        assert path.stem in BUILTIN, f"{path.name} names no built-in rule"
        assert yaml.safe_load(path.read_text())["rule"] == path.stem
