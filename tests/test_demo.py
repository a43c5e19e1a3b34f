"""The simulated organization: each scenario builds quickly, and a scan finds exactly what was planted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from scanner import demo, run
from scanner.catalog import load_catalog
from scanner.collect import collect
from scanner.config import Collection, Config, IntegrationPolicy
from scanner.evaluate import evaluate
from scanner.model import AccountSnapshot, Result, Severity, Snapshot, Status
from scanner.rules import load_rules
from tests.conftest import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY

ORG_RULES = {"ART-002", "ART-004", "ART-005", "ART-013", "ORG-005"}  # on the organization itself
Scanned = tuple[demo.SimulatedOrganization, Snapshot, float]  # the organization, its snapshot, build seconds


def scan(organization: demo.SimulatedOrganization) -> Snapshot:
    return collect(Config(), rules_sha256="r", session=organization.session)


def by_name(snapshot: Snapshot, population: demo.Population, name: str) -> AccountSnapshot:
    return next(a for a in snapshot.accounts if a.id == population.account_id(name))


@pytest.fixture(params=demo.SCENARIOS)
def scenario(request: pytest.FixtureRequest) -> Iterator[Scanned]:
    started = time.perf_counter()
    with demo.simulated_organization(request.param) as organization:
        built = time.perf_counter() - started
        yield organization, scan(organization), built


def test_each_scenario_builds_quickly_and_reads_completely_but_the_locked_account(scenario: Scanned) -> None:
    organization, snapshot, built = scenario
    population = organization.population
    assert built < 5, f"building {population.scenario} took {built:.1f}s"
    assert snapshot.organization.description is not None
    assert snapshot.organization.description["Id"] == population.organization_id
    assert {a.id for a in snapshot.accounts} == {a.id for a in population.accounts}
    assert [e.account_id for e in snapshot.errors] == list(population.unassumable_account_ids)
    closed = by_name(snapshot, population, "closed-sandbox")
    assert (closed.scanned, closed.state, closed.skip_reason) == (False, "SUSPENDED", "account state is SUSPENDED")


def test_planted_roles_are_in_the_snapshot(scenario: Scanned) -> None:
    organization, snapshot, _ = scenario
    population = organization.population
    accounts = {a.id: a for a in snapshot.accounts}
    for problem in organization.planted:
        if problem.rule_id in ORG_RULES:
            assert (problem.account_id, problem.resource_name) == (
                population.management_account_id, population.organization_id)
        elif problem.rule_id == demo.UNREADABLE_ACCOUNT_RULE:
            assert accounts[problem.account_id].roles_listed is None
        elif problem.rule_id.startswith("ORG-"):  # on an integration (its state: test_drifted_integrations_...)
            assert problem.account_id == population.management_account_id
            assert problem.resource_name in {entry.id for entry in load_catalog().integrations}, problem
        else:
            names = {r.role["RoleName"] for r in accounts[problem.account_id].roles}
            assert problem.resource_name in names, problem


def test_a_scan_finds_exactly_the_planted_problems(scenario: Scanned, tmp_path: Path) -> None:
    organization, _, _ = scenario
    rules = load_rules()
    # Scanned as the demo command does: with the organization's own `integrations` policy.
    outcome = run.scan(organization.config(Config()), rules, out_dir=tmp_path / "run", formats=["json"],
                       gate=run.Gate(), session=organization.session)
    missed, unexpected = demo.compare(organization.planted, outcome.scan.results)
    assert (missed, unexpected) == ([], [])


def test_drifted_organization_in_detail() -> None:
    with demo.simulated_organization("drifted") as organization:
        snapshot = scan(organization)
    population = organization.population
    management = next(a for a in snapshot.accounts if a.is_management)
    # Besides the planted look-alike, the management account holds the healthy Systems Manager role (and the
    # planted integrations' service-linked roles, test_drifted_integrations_...)
    by_role = {r.role["RoleName"]: r for r in management.roles}
    assert by_role[demo.SSM_SERVICE_LINKED_ROLE.name].role["Path"] == demo.SSM_SERVICE_LINKED_ROLE.path
    assert by_role["AWSServiceRoleForArtifact"].role["Path"] == "/"
    locked = by_name(snapshot, population, "locked")
    (error,) = locked.errors
    assert (error.api, error.code) == ("sts:AssumeRole", "AccessDenied")
    shared = by_name(snapshot, population, "shared-services").roles[0]
    assert {p["PolicyArn"] for p in shared.attached_policies or ()} == {
        demo.SERVICE_LINKED_ROLE.managed_policies[0], demo.ADMINISTRATOR_ACCESS}
    legacy = by_name(snapshot, population, "legacy-audit").roles[0]
    assert legacy.role["Description"] == "AWS Artifact role used to support integration with AWS Organizations."
    pinned = by_name(snapshot, population, "reporting-healthy").roles[0]
    condition = pinned.role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"aws:SourceAccount": population.management_account_id}}
    assert [p["ServicePrincipal"] for p in snapshot.organization.enabled_service_principals or ()][:2] == [
        "aws-artifact-account-sync.amazonaws.com", "ssm.amazonaws.com"]
    assert len(snapshot.organization.customer_agreements or ()) == 1


# SPEC14's demo table: integration -> (trusted access enabled, its service-linked role in the management account)
DRIFTED_INTEGRATIONS = {"security-hub": (True, True), "iam-identity-center": (True, False),
                        "trusted-advisor": (False, True), "ram": (True, True), "cloudtrail": (True, False)}


def test_drifted_integrations_are_planted_as_the_catalog_describes_them() -> None:
    catalog = load_catalog()
    every = tuple(entry.id for entry in catalog.integrations)
    with demo.simulated_organization("drifted") as organization:
        snapshot = collect(organization.config(Config()), rules_sha256="r", session=organization.session,
                           integrations=every)
    population = organization.population
    enabled = {p["ServicePrincipal"] for p in snapshot.organization.enabled_service_principals or ()}
    management = next(a for a in snapshot.accounts if a.is_management)
    roles = {(r.role["RoleName"], r.role["Path"]): r for r in management.roles}
    for integration, (on, has_role) in DRIFTED_INTEGRATIONS.items():
        entry = catalog[integration]
        assert (entry.current_principals[0] in enabled) is on, integration
        slr = entry.service_linked_roles[0]
        role = roles.get((slr.name, slr.path))
        assert (role is not None) is has_role, integration
        if role is not None:  # as AWS creates it: its path's principal, its AWS managed policies, nothing else
            assert role.detail_read and role.role["AssumeRolePolicyDocument"] == demo.service_trust(
                slr.trusted_principal)
            assert [p["PolicyArn"] for p in role.attached_policies or ()] == list(slr.managed_policy_arns)
            assert role.inline_policies == {} and "PermissionsBoundary" not in role.role
    assert demo.UNKNOWN_PRINCIPAL in enabled
    assert not any(demo.UNKNOWN_PRINCIPAL in entry.principals() for entry in catalog.integrations)
    audit, other = population.account_id("legacy-audit"), population.account_id("shared-services")
    ssm_delegate = population.account_id("workload-healthy")  # every scenario's Systems Manager administrator
    assert population.delegated_administrators == {"security-hub": audit, "cloudtrail": other, "ssm": ssm_delegate}
    assert {a["Id"]: a["Status"] for a in snapshot.organization.delegated_administrators or ()} == {
        audit: "ACTIVE", other: "ACTIVE", ssm_delegate: "ACTIVE"}
    services = {a: [s["ServicePrincipal"] for s in items] for a, items in (
        snapshot.organization.delegated_services or {}).items()}
    assert services == {audit: [catalog["security-hub"].current_principals[0]],
                        other: [catalog["cloudtrail"].current_principals[0]],
                        ssm_delegate: [catalog["ssm"].current_principals[0]]}
    assert population.integration_policy == IntegrationPolicy(
        require=("security-hub", "iam-identity-center", "cloudtrail"), forbid=("ram",), others="allow",
        delegated_administrators={"security-hub": audit, "cloudtrail": audit, "ssm": ssm_delegate})
    # The organization-level reads cost 1 + one per administrator; every readable healthy member still two.
    stats = snapshot.metadata.stats or {}
    assert stats["organizations:ListDelegatedAdministrators"]["calls"] == 1
    assert stats["organizations:ListDelegatedServicesForAccount"]["calls"] == 3
    assert [e.api for e in snapshot.errors] == ["sts:AssumeRole"]  # the locked account only


def test_other_scenarios_plant_no_integration() -> None:
    for scenario in ("healthy", "disabled"):
        with demo.simulated_organization(scenario) as organization:
            snapshot = scan(organization)
        # Only Systems Manager's delegated administrator, which the config names: nothing for the ORG rules
        ssm_delegate = organization.population.account_id("workload-healthy")
        assert organization.population.integration_policy == IntegrationPolicy(
            others="allow", delegated_administrators={"ssm": ssm_delegate})
        assert organization.population.delegated_administrators == {"ssm": ssm_delegate}
        assert [a["Id"] for a in snapshot.organization.delegated_administrators or ()] == [ssm_delegate]
        assert not any(p.rule_id.startswith("ORG-") for p in organization.planted)


def test_disabled_organization_keeps_its_role_and_agreement() -> None:
    with demo.simulated_organization("disabled") as organization:
        snapshot = scan(organization)
    # Artifact's trusted access is off; Systems Manager's, every scenario's healthy second integration, is on
    enabled = snapshot.organization.enabled_service_principals or ()
    assert [p["ServicePrincipal"] for p in enabled] == ["ssm.amazonaws.com"]
    (agreement,) = snapshot.organization.customer_agreements or ()
    assert agreement["state"] == "ACTIVE"
    assert agreement["organizationArn"] == organization.population.organization_arn
    ssm, slr = sorted(next(a for a in snapshot.accounts if a.is_management).roles, key=lambda r: r.role["RoleName"])
    assert ssm.role["RoleName"] == demo.SSM_SERVICE_LINKED_ROLE.name
    assert slr.role["Path"] == "/aws-service-role/artifact.amazonaws.com/"
    assert slr.attached_policies == ({"PolicyName": "AWSArtifactServiceRolePolicy",
                                      "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy"},)
    assert slr.inline_policies == {} and "PermissionsBoundary" not in slr.role
    assert snapshot.metadata.complete


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown demo scenario 'nope'"), demo.simulated_organization("nope"):
        pass


def test_compare_reports_missed_and_unexpected() -> None:
    planted = [demo.PlantedProblem("ART-010", "111111111111", "AWSServiceRoleForArtifact"),
               demo.PlantedProblem("ART-014", "222222222222", "locked")]

    def result(rule: str, status: Status, account: str, name: str) -> Result:
        return Result(rule, status, Severity.HIGH, account, name, "aws.iam.role", "arn", name, "message")

    results = [
        result("ART-014", Status.FAIL, "222222222222", "locked"),
        result("ART-012", Status.ERROR, "222222222222", "locked"),  # expected: the account is unreadable
        result("ART-011", Status.FAIL, "111111111111", "AWSArtifactAccountSync"),
        result("ART-012", Status.ERROR, "111111111111", "x"),
    ]
    missed, unexpected = demo.compare(planted, results)
    assert missed == ["ART-010 on AWSServiceRoleForArtifact in account 111111111111"]
    assert unexpected == ["ART-011 on AWSArtifactAccountSync in account 111111111111 (fail)",
                          "ART-012 on x in account 111111111111 (error: message)"]


def test_the_demo_never_uses_the_callers_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    with demo.simulated_organization("healthy") as organization:
        snapshot = scan(organization)
    assert snapshot.metadata.complete and snapshot.metadata.endpoint_url is None


def test_the_same_organization_builds_in_a_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        session = boto3.Session(FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, region_name="us-east-1")
        population = demo.populate(session, "drifted", endpoint_url=url)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # what the real command would be given
        # moto's server answers the Artifact API it lacks with HTTP 500, which botocore retries with
        # backoff: one attempt keeps the test fast.
        config = replace(Config(collection=Collection(max_attempts=1)), integrations=population.integration_policy)
        snapshot = collect(config, rules_sha256="r", session=boto3.Session(region_name="us-east-1"))
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=10)
        server.stop()
    assert snapshot.metadata.endpoint_url == url
    # Without the in-process handlers: the locked account is readable and the Artifact API is missing.
    assert all(a.roles_listed is not None for a in snapshot.accounts if a.scanned)
    (error,) = snapshot.errors
    assert (error.api, error.code, error.message) == (
        "artifact:ListCustomerAgreements", "NotAvailable", "not available at this endpoint (HTTP 500)")
    rules = load_rules()
    result = evaluate(rules, snapshot, run_id="server", policy=population.integration_policy)
    assert demo.compare(population.planted_without_handlers, result.results) == ([], [])
