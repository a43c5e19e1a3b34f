"""The printed least-privilege policies cover every call a real scan makes, and every call is read-only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from scanner import demo
from scanner.cli.command import main
from scanner.collect import collect, permissions
from scanner.config import Collection, Config, Scope
from scanner.publish import securityhub
from tests.conftest import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MANAGEMENT_ACCOUNT_ID, CallLog
from tests.scan_fixture import build_scan

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "examples" / "cloudformation"


def _actions(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


@pytest.mark.parametrize("scenario", ["drifted", "disabled"])
def test_every_call_of_a_real_scan_is_in_the_policy_and_read_only(scenario: str) -> None:
    with demo.simulated_organization(scenario) as organization:
        log = CallLog(accounts_by_key={"demo-access-key-id": organization.population.management_account_id})
        log.attach(organization.session)
        collect(Config(), rules_sha256="test", session=organization.session)
    management_id = organization.population.management_account_id
    management = _actions(permissions.management_policy(Config()))
    member = _actions(permissions.member_policy())
    assert log.calls, "the scan made no call"
    for call in log.calls:
        if call.api == "sts:GetCallerIdentity":
            continue  # needs no permission
        assert permissions.is_read_only(call.api), f"{call.api} is not read-only"
        allowed = management if call.account_id == management_id else member
        assert call.api in allowed, f"{call.api} called in {call.account_id} is not in its printed policy"
    called = {call.api for call in log.calls}
    assert {"organizations:ListAccounts", "iam:ListRoles", "sts:AssumeRole", "iam:GetRole"} <= called


def test_declared_actions_are_read_only() -> None:
    assert all(permissions.is_read_only(action) for action in permissions.every_action())


def test_assume_role_is_limited_to_the_member_role() -> None:
    config = Config()
    [assume] = [s for s in permissions.management_policy(config)["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"] == "arn:aws:iam::*:role/OrganizationAccountAccessRole"


# A role of interest to both built-in integrations (it trusts a principal of each), with an inline policy:
# the only thing that makes the collector call iam:GetRolePolicy.
INLINE_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
    "Service": ["artifact.amazonaws.com", "ssm.amazonaws.com"]}}]}
INLINE_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def _add_inline_role(iam: Any) -> None:
    iam.create_role(RoleName="InlineReader", AssumeRolePolicyDocument=json.dumps(INLINE_TRUST))
    iam.put_role_policy(RoleName="InlineReader", PolicyName="read", PolicyDocument=json.dumps(INLINE_POLICY))


def _member_iam(organization: demo.SimulatedOrganization) -> Any:
    """An IAM client in one readable member account, from a session without the demo's denials."""
    population = organization.population
    member = next(a for a in population.accounts if not a.is_management and a.state == "ACTIVE"
                  and a.id not in population.unassumable_account_ids)
    setup = boto3.Session(aws_access_key_id="demo-access-key-id", aws_secret_access_key="demo-secret-access-key",
                          region_name=demo.REGION)
    credentials = setup.client("sts").assume_role(RoleArn=f"arn:aws:iam::{member.id}:role/{demo.ACCESS_ROLE}",
                                                  RoleSessionName="test-setup")["Credentials"]
    return setup.client("iam", aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def _calls(integrations: tuple[str, ...], *, listing_fails: bool) -> tuple[set[str], set[str]]:
    """(actions called with the management account's credentials, actions called in member accounts) by a
    collection for rules of `integrations`, of an organization scoped by OU (the OU calls), with an inline
    policy on a role of interest in the management account and in a member (GetRolePolicy), and, when
    `listing_fails`, a ListAccounts refusal (the management account is then read with DescribeAccount)."""
    with demo.simulated_organization("drifted") as organization:
        management_id = organization.population.management_account_id
        _add_inline_role(organization.session.client("iam"))
        _add_inline_role(_member_iam(organization))
        root = organization.session.client("organizations").list_roots()["Roots"][0]["Id"]
        if listing_fails:
            demo.deny_call(organization.session, "organizations:ListAccounts", lambda _: True,
                           message=lambda _: "denied by the test")
        log = CallLog(accounts_by_key={"demo-access-key-id": management_id})
        log.attach(organization.session)
        collect(Config(scope=Scope(include_ous=(root,)), collection=Collection(max_attempts=1)),
                rules_sha256="test", session=organization.session, integrations=integrations)
    called = [c for c in log.calls if c.api != "sts:GetCallerIdentity"]  # needs no permission
    return ({c.api for c in called if c.account_id == management_id},
            {c.api for c in called if c.account_id != management_id})


@pytest.mark.parametrize("integrations", [("artifact", "ssm"), ("ssm",), ("artifact",)])
def test_the_printed_policies_are_exactly_what_the_collector_calls_for_the_rules(
    integrations: tuple[str, ...]
) -> None:
    management, member = _calls(integrations, listing_fails=False)
    denied_listing, _ = _calls(integrations, listing_fails=True)
    assert management | denied_listing == _actions(permissions.management_policy(Config(), integrations))
    assert member == _actions(permissions.member_policy(integrations))
    # What only Artifact's rules need is read, and allowed, only for them.
    assert ("artifact:ListCustomerAgreements" in management) == ("artifact" in integrations)


def test_the_security_hub_policy_is_exactly_what_publishing_calls() -> None:
    with mock_aws():
        session = boto3.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                                region_name="us-east-1")
        session.client("securityhub").enable_security_hub()
        log = CallLog().attach(session)
        scan = build_scan()
        scan = replace(scan, info=replace(scan.info, management_account_id=MANAGEMENT_ACCOUNT_ID))
        securityhub.publish(scan, session, collection=Collection(max_attempts=1))
    called = {c.api for c in log.calls if c.api != "sts:GetCallerIdentity"}
    assert called == _actions(permissions.policy((securityhub.CALLS,)))
    assert not called & set(permissions.every_action()), "publishing is a policy of its own"


def test_permissions_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("member_accounts: {role_name: ArtifactScanReader}\n")
    assert main(["permissions", "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["member_accounts"] == permissions.member_policy()
    assert "arn:aws:iam::*:role/ArtifactScanReader" in json.dumps(printed["management_account"])
    assert printed["security_hub_publishing"] == permissions.policy((securityhub.CALLS,))
    assert main(["permissions", "--member"]) == 0
    assert json.loads(capsys.readouterr().out) == permissions.member_policy()
    assert main(["permissions", "--security-hub"]) == 0
    assert _actions(json.loads(capsys.readouterr().out)) == {"securityhub:BatchImportFindings",
                                                             "securityhub:GetFindings"}


def test_the_command_derives_the_policy_from_the_rules_it_would_load(capsys: pytest.CaptureFixture[str]) -> None:
    ssm_only = ["--no-builtin-rules", "--rules", str(ROOT / "scanner" / "builtin_rules" / "ssm")]
    assert main(["permissions", "--management", *ssm_only]) == 0
    printed = _actions(json.loads(capsys.readouterr().out))
    assert printed == _actions(permissions.management_policy(Config(), ("ssm",)))
    assert "artifact:ListCustomerAgreements" not in printed and "iam:ListRoles" in printed
    assert main(["permissions", "--management"]) == 0
    assert "artifact:ListCustomerAgreements" in _actions(json.loads(capsys.readouterr().out))


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values: enough to compare policies."""


def _tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CloudFormationLoader.add_multi_constructor("!", _tag)


def _template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((TEMPLATES / name).read_text(), Loader=_CloudFormationLoader)
    return loaded


def test_member_role_template_matches_the_printed_policy() -> None:
    role = _template("member-read-role.yaml")["Resources"]["ReadRole"]["Properties"]
    [policy] = role["Policies"]
    assert _actions(policy["PolicyDocument"]) == _actions(permissions.member_policy())


def test_scheduled_scan_template_matches_the_printed_policy() -> None:
    role = _template("scheduled-scan.yaml")["Resources"]["ScannerRole"]["Properties"]
    read = next(p for p in role["Policies"] if p["PolicyName"] == "artifact-scan-management-read")
    assert _actions(read["PolicyDocument"]) == _actions(permissions.management_policy(Config()))


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.yaml")))
def test_templates_pass_cfn_lint(template: str) -> None:
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATES / template)
    assert matches == [], "\n".join(str(match) for match in matches)
