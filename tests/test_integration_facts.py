"""The `aws.organizations.integration` resource, `integration: "*"`, and the configuration's integrations policy.

Snapshots are built by hand (tests/test_rule_cases.build_snapshot) and evaluated by the real fact builder and
engine; the configuration is loaded from files, and run settings are derived through scanner.run.derive.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner import integrations, run
from scanner import snapshot as snapshots
from scanner.catalog import load_catalog
from scanner.config import IntegrationPolicy, load_config
from scanner.errors import ConfigError, RuleError
from scanner.evaluate import engine
from scanner.evaluate.integration_facts import INTEGRATION
from scanner.evaluate.resources import FACT_SCHEMAS, ORGANIZATION, build_inventory
from scanner.model import CollectionError, Resource, Status
from scanner.rules import builtin_packs_dir, load_rules
from tests.test_rule_cases import MANAGEMENT, build_snapshot

EVERY = integrations.integration_ids()


def integration(case: dict[str, Any], integration_id: str, **options: Any) -> Resource:
    inventory = build_inventory(build_snapshot(case), EVERY, **options)
    return next(r for r in inventory.resources[INTEGRATION] if r.name == integration_id)


# --- the resource --------------------------------------------------------------------------------


def test_one_resource_per_catalog_integration_in_the_management_account_matching_its_schema() -> None:
    inventory = build_inventory(build_snapshot({}), EVERY, dedicated=("artifact", "ssm"))
    resources = inventory.resources[INTEGRATION]
    assert [r.name for r in resources] == list(EVERY)
    assert "organizations" not in EVERY  # the baseline entry is no integration
    for resource in resources:
        assert resource.account_id == MANAGEMENT
        assert resource.arn == f"arn:aws:organizations::{MANAGEMENT}:organization/o-exampleorg1/integration/{resource.name}"
        jsonschema.Draft202012Validator(FACT_SCHEMAS[INTEGRATION]).validate(resource.facts)
        assert resource.facts["dedicated_pack"] is (resource.name in ("artifact", "ssm"))
        assert resource.facts["desired"] == "allow"  # the default of `others`


def test_desired_follows_the_policy() -> None:
    policy = IntegrationPolicy(require=("security-hub",), forbid=("ram",), others="deny")
    inventory = build_inventory(build_snapshot({}), EVERY, policy=policy)
    desired = {r.name: r.facts["desired"] for r in inventory.resources[INTEGRATION]}
    assert (desired["security-hub"], desired["ram"], desired["guardduty"]) == ("require", "forbid", "deny")


def test_how_to_enable_never_sends_a_service_console_service_to_enable_aws_service_access() -> None:
    inventory = build_inventory(build_snapshot({}), EVERY)
    catalog = {entry.id: entry for entry in load_catalog().integrations}
    for resource in inventory.resources[INTEGRATION]:
        how = resource.facts["how_to_enable"]
        if catalog[resource.name].enable_via == "service-console":
            assert how.startswith("from the ") and "enable-aws-service-access is not the way" in how, how
        elif catalog[resource.name].current_principals:
            assert how == ("aws organizations enable-aws-service-access --service-principal "
                           f"{catalog[resource.name].current_principals[0]}")


def test_delegated_administrators_are_matched_by_any_of_the_integrations_principals() -> None:
    case = {
        "delegated_administrators": [{"id": "333333333333"}, {"id": "444444444444", "status": "SUSPENDED"}],
        "delegated_services": {"333333333333": ["CONFIG-MULTIACCOUNTSETUP.amazonaws.com"],
                               "444444444444": ["config.amazonaws.com", "guardduty.amazonaws.com"]},
    }
    policy = IntegrationPolicy(delegated_administrators={"config": "333333333333"})
    config = integration(case, "config", policy=policy).facts["delegated_administrator"]
    assert config == {"supported": True, "expected": "333333333333", "expected_registered": True,
                      "accounts": ["333333333333", "444444444444"], "inactive_accounts": ["444444444444"],
                      "unexpected_accounts": ["444444444444"]}
    security_hub = integration(case, "security-hub", policy=policy).facts["delegated_administrator"]
    assert security_hub["accounts"] == [] and security_hub["expected_registered"] is None


@pytest.mark.parametrize(
    "case",
    [
        pytest.param({"delegated_administrators": None}, id="list-unread"),
        pytest.param({"delegated_services": None}, id="services-unread"),
        pytest.param({"delegated_administrators": [{"id": "333333333333"}], "delegated_services": {}},
                     id="one-account-unread"),
    ],
)
def test_unread_delegated_administrators_are_unknown_never_empty(case: dict[str, Any]) -> None:
    resource = integration(case, "security-hub")
    assert set(resource.facts["delegated_administrator"]) == {"supported", "expected"}
    assert {k for k in resource.unknown if k.startswith("delegated_administrator.")} == {
        "delegated_administrator.accounts", "delegated_administrator.inactive_accounts",
        "delegated_administrator.unexpected_accounts", "delegated_administrator.expected_registered"}


def test_one_unread_account_leaves_integrations_the_catalog_says_cannot_have_one_known() -> None:
    case = {"delegated_administrators": [{"id": "333333333333"}], "delegated_services": {},
            "organization_errors": [{"api": "organizations:ListDelegatedServicesForAccount",
                                     "code": "AccessDenied", "message": "denied", "resource": "333333333333"}]}
    ram = integration(case, "ram")  # the catalog: no delegated administrator for RAM
    assert ram.facts["delegated_administrator"]["accounts"] == []
    assert "AccessDenied" in integration(case, "security-hub").unknown["delegated_administrator.accounts"]


def test_unread_trusted_access_makes_trusted_access_and_roles_unknown() -> None:
    resource = integration({"enabled": None}, "security-hub")
    assert "trusted_access" not in resource.facts and "service_linked_roles" not in resource.facts
    assert {"trusted_access", "service_linked_roles"} <= set(resource.unknown)


def test_roles_of_an_integration_the_snapshot_was_not_collected_for_are_unknown() -> None:
    snapshot = build_snapshot({"enabled": ["securityhub.amazonaws.com"]})
    snapshot = replace(snapshot, metadata=replace(snapshot.metadata, integrations=("artifact",)))
    resource = next(r for r in build_inventory(snapshot, EVERY).resources[INTEGRATION] if r.name == "security-hub")
    assert resource.facts["trusted_access"]["enabled"] is True  # always read
    assert "not collected for integration security-hub" in resource.unknown["service_linked_roles"]


def test_unknown_principals_on_the_organization() -> None:
    case = {"enabled": ["ssm.amazonaws.com", "AWSArtifactAccountSync", "example-unknown.amazonaws.com"]}
    organization = build_inventory(build_snapshot(case), EVERY).resources[ORGANIZATION][0]
    assert organization.facts["trusted_access"]["unknown_principals"] == ["example-unknown.amazonaws.com"]


# --- the engine: an unread member of an object is needed only by a rule that reads it ----------------


@pytest.mark.parametrize(
    ("schema", "needed"),
    [
        ({"properties": {"delegated_administrator": {"properties": {"expected": {"type": "string"}}}}}, False),
        ({"required": ["delegated_administrator"]}, False),
        ({"properties": {"delegated_administrator": {"required": ["accounts"]}}}, True),
        ({"properties": {"delegated_administrator": {"properties": {"accounts": {"maxItems": 0}}}}}, True),
        ({"properties": {"delegated_administrator": {"const": {}}}}, True),
        ({"properties": {"delegated_administrator": {"minProperties": 3}}}, True),
        ({"properties": {"delegated_administrator": {"additionalProperties": False}}}, True),
        ({"anyOf": [{"properties": {"delegated_administrator": {"not": {"const": None}}}}]}, True),
    ],
)
def test_an_unknown_member_is_needed_only_by_a_schema_that_reads_it(schema: dict[str, Any], needed: bool) -> None:
    paths = engine.referenced_paths(schema)
    assert engine._mentions(schema, paths, "delegated_administrator.accounts") is needed


# --- integration: "*" in the rule loader and the rule set ---------------------------------------------


def test_the_rule_set_collects_every_integration_and_names_the_dedicated_ones() -> None:
    ruleset = load_rules()
    assert ruleset.integrations == EVERY
    assert ruleset.dedicated == ("artifact", "ssm")
    assert {r.integration for r in ruleset.rules if r.pack == "organizations"} == {"*"}
    alone = load_rules([builtin_packs_dir() / "artifact"], builtin=False)
    assert (alone.integrations, alone.dedicated) == (("artifact",), ("artifact",))


def write_pack(folder: Path, rule: str, integration: str = '"*"') -> Path:
    folder.mkdir()
    (folder / "pack.yaml").write_text(f"id: mine\ntitle: Mine\nversion: 1.0.0\nintegration: {integration}\n")
    (folder / "MY-001.yaml").write_text(rule)
    return folder


RULE = """\
id: MY-001
title: A rule of every integration
severity: low
resource: {resource}
description: A rule that applies to each integration.
rationale: It shows how the loader treats such rules.
remediation: {{text: do something about it, command: aws organizations list-aws-service-access-for-organization}}
expect: {expect}
"""


def test_a_rule_of_every_integration_loads_and_applies_to_each(tmp_path: Path) -> None:
    rule = RULE.format(resource=INTEGRATION, expect="{properties: {trusted_access: {properties: {enabled: {const: true}}}}}")
    ruleset = load_rules([write_pack(tmp_path / "mine", rule)], builtin=False)
    assert ruleset.integrations == EVERY and ruleset.dedicated == ()
    results = engine.evaluate_rules(ruleset.rules, build_inventory(build_snapshot({}), ruleset.integrations))
    assert len(results) == len(EVERY)
    assert {r.resource_name for r in results if r.status is Status.PASS} == {"artifact", "ssm"}


def test_a_rule_of_every_integration_may_not_use_one_integrations_facts(tmp_path: Path) -> None:
    expect = "{properties: {trusted_access: {properties: {integrations: {properties: {ssm: {required: [enabled]}}}}}}}"
    rule = RULE.format(resource=ORGANIZATION, expect=expect)
    with pytest.raises(RuleError) as caught:
        load_rules([write_pack(tmp_path / "mine", rule)], builtin=False)
    assert "uses the facts of integration 'ssm' but it applies to every integration" in str(caught.value)


def test_a_rule_of_one_integration_sees_only_that_integrations_resource(tmp_path: Path) -> None:
    rule = RULE.format(resource=INTEGRATION, expect="{properties: {trusted_access: {properties: {enabled: {const: true}}}}}")
    ruleset = load_rules([write_pack(tmp_path / "mine", rule, integration="ram")], builtin=False)
    results = engine.evaluate_rules(ruleset.rules, build_inventory(build_snapshot({}), ruleset.integrations))
    assert [(r.resource_name, r.status) for r in results] == [("ram", Status.FAIL)]


# --- configuration ----------------------------------------------------------------------------------


def test_the_default_of_others_is_allow() -> None:
    assert load_config(None).integrations == IntegrationPolicy(others="allow")


def test_ids_are_checked_against_the_catalog_with_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("fail_on: high\nintegrations:\n  require:\n    - security-hub\n    - guard-duty\n"
                    "  forbid: [ram, security-hub]\n  delegated_administrators:\n    securityhub: '111122223333'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"{path}:5: $.integrations.require[1]: unknown integration 'guard-duty' (not in the catalog); " \
           "did you mean 'guardduty'?" in text
    assert f"{path}:6: $.integrations.forbid[1]: integration 'security-hub' is both required and forbidden" in text
    assert (f"{path}:8: $.integrations.delegated_administrators.securityhub: unknown integration 'securityhub' "
            "(not in the catalog); did you mean 'security-hub'?") in text


def test_a_valid_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("integrations:\n  require: [security-hub]\n  forbid: [ram]\n  others: deny\n"
                    "  delegated_administrators: {security-hub: '111122223333'}\n")
    assert load_config(path).integrations == IntegrationPolicy(
        ("security-hub",), ("ram",), "deny", {"security-hub": "111122223333"})


# --- settings.json: the policy a run used is re-derived from it -------------------------------------------


def inputs(settings: dict[str, Any], case: dict[str, Any]) -> dict[str, bytes]:
    files = {f"rules/{p.parent.name}/{p.name}": p.read_bytes() for p in builtin_packs_dir().glob("*/*.yaml")}
    return {**files, "snapshot.json": snapshots.dumps(build_snapshot(case)),
            "settings.json": json.dumps({"run": {"run_id": "r1", "evaluated_at": "2026-01-01T00:00:00Z"},
                                         **settings}).encode()}


def test_derive_uses_the_recorded_policy() -> None:
    case = {"enabled": ["aws-artifact-account-sync.amazonaws.com", "ssm.amazonaws.com", "ram.amazonaws.com"]}
    forbidding = run.derive(inputs({"integrations": {"forbid": ["ram"]}}, case), ["json"]).scan
    silent = run.derive(inputs({}, case), ["json"]).scan  # a run recorded before the section existed
    org_002 = [(r.resource_name, r.status) for r in forbidding.results if r.rule_id == "ORG-002"]
    assert org_002 == [("ram", Status.FAIL)]
    assert [r.status for r in silent.results if r.rule_id == "ORG-002"] == [Status.SKIPPED]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ([], "$.integrations: expected an object"),
        ({"require": "ram"}, "$.integrations.require: expected a list of integration ids"),
        ({"others": "maybe"}, "$.integrations.others: expected one of allow, deny, report"),
        ({"delegated_administrators": {"ram": "12"}}, "$.integrations.delegated_administrators: expected"),
        ({"require": ["rma"]}, "$.integrations.require[0]: unknown integration 'rma'"),
        ({"require": ["ram"], "forbid": ["ram"]}, "$.integrations.forbid[0]: integration 'ram' is both"),
    ],
)
def test_a_bad_recorded_policy_is_refused(section: Any, message: str) -> None:
    with pytest.raises(run.DerivationError) as caught:
        run.derive(inputs({"integrations": section}, {}), ["json"])
    assert str(caught.value).startswith("settings.json: ") and message in str(caught.value)


def test_errors_name_the_failed_read() -> None:
    error = CollectionError("organizations:ListDelegatedAdministrators", "AccessDenied", "no")
    resource = integration({"delegated_administrators": None, "organization_errors": [
        {"api": error.api, "code": error.code, "message": error.message}]}, "security-hub")
    assert resource.unknown["delegated_administrator.accounts"] == error.describe()
