"""The printed least-privilege policies cover every call a real scan makes, and every call is read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner import demo
from scanner.cli.command import main
from scanner.collect import collect, permissions
from scanner.config import Config
from tests.conftest import CallLog

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


def test_permissions_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("member_accounts: {role_name: ArtifactScanReader}\n")
    assert main(["permissions", "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["member_accounts"] == permissions.member_policy()
    assert "arn:aws:iam::*:role/ArtifactScanReader" in json.dumps(printed["management_account"])
    assert main(["permissions", "--member"]) == 0
    assert json.loads(capsys.readouterr().out) == permissions.member_policy()


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
