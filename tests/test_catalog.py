"""The integrations catalog: the shipped data against the facts it was taken from, and the loader against hostile files.

Expected values here are copied from the facts table (design notes, organizations-integrations.md), not from
the catalog, so that an edit to a catalog file that drifts from its source fails a test.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from scanner import integrations, yamlfile
from scanner.catalog import (
    Catalog,
    CatalogError,
    Integration,
    load_catalog,
    load_catalog_dir,
    service_linked_role_path,
)
from scanner.catalog.loader import catalog_dir
from scanner.errors import ScannerError

CATALOG = load_catalog()
FILES = sorted(catalog_dir().glob("*.yaml"))


def test_every_file_loads_and_the_catalog_has_every_documented_integration() -> None:
    assert len(FILES) == 50
    assert len(CATALOG.integrations) == 49
    assert CATALOG.baseline.id == "organizations"
    assert CATALOG.baseline.service_linked_roles[0].name == "AWSServiceRoleForOrganizations"
    assert {e.id for e in CATALOG.entries} == {path.stem for path in FILES}
    assert load_catalog() is CATALOG  # cached: rules and reports ask often


def test_every_entry_was_checked_on_the_survey_date_and_names_its_sources() -> None:
    for entry in CATALOG.entries:
        assert entry.checked_on == "2026-11-30", entry.id
        assert entry.sources, entry.id
        # every entry rests on at least one Organizations page or the Organizations table
        assert any(s.kind.startswith("organizations") for s in entry.sources), entry.id


# (entry, role name, principal the role trusts by its path): the facts table's section 3 principal splits.
PRINCIPAL_SPLITS = [
    ("artifact", "AWSServiceRoleForArtifact", "artifact.amazonaws.com"),
    ("ssm", "AWSServiceRoleForAmazonSSM_AccountDiscovery", "accountdiscovery.ssm.amazonaws.com"),
    ("cloudformation", "AWSServiceRoleForCloudFormationStackSetsOrgAdmin", "stacksets.cloudformation.amazonaws.com"),
    ("cloudformation", "AWSServiceRoleForCloudFormationStackSetsOrgMember",
     "member.org.stacksets.cloudformation.amazonaws.com"),
    ("config", "AWSServiceRoleForConfig", "config.amazonaws.com"),
    ("config", "AWSServiceRoleForConfigMultiAccountSetup", "config-multiaccountsetup.amazonaws.com"),
    ("cloudwatch", "AWSServiceRoleForObservabilityAdmin", "observabilityadmin.amazonaws.com"),
    ("guardduty", "AWSServiceRoleForAmazonGuardDuty", "guardduty.amazonaws.com"),
    ("license-manager", "AWSLicenseManagerMemberAccountRole", "license-manager.member-account.amazonaws.com"),
    ("network-manager", "AWSServiceRoleForNetworkManager", "networkmanager.amazonaws.com"),
    ("network-manager", "AWSServiceRoleForCloudWatchCrossAccount", "cloudwatch-crossaccount.amazonaws.com"),
]


@pytest.mark.parametrize(("entry_id", "role_name", "principal"), PRINCIPAL_SPLITS)
def test_a_split_role_trusts_the_principal_of_its_path(entry_id: str, role_name: str, principal: str) -> None:
    entry = CATALOG[entry_id]
    role = entry.role(role_name)
    assert role.trusted_principal == principal
    assert role.path == f"/aws-service-role/{principal}/"
    assert role.is_verified("trusted_principal")
    # A split it is: trusted access and the roles involve more than one principal between them.
    assert len(set(entry.current_principals) | {r.trusted_principal for r in entry.service_linked_roles}) > 1


def test_the_ssm_role_does_not_trust_the_trusted_access_principal() -> None:
    """The Organizations page says ssm.amazonaws.com; the role's path says otherwise, and the path wins."""
    ssm = CATALOG["ssm"]
    assert ssm.current_principals == ("ssm.amazonaws.com",)
    assert ssm.role("AWSServiceRoleForAmazonSSM_AccountDiscovery").trusted_principal != "ssm.amazonaws.com"


def test_guardduty_malware_role_keeps_its_principal_but_not_the_policy_name_as_its_name() -> None:
    malware = [r for r in CATALOG["guardduty"].service_linked_roles
               if r.trusted_principal == "malware-protection.guardduty.amazonaws.com"]
    assert len(malware) == 1
    assert malware[0].name is None and not malware[0].is_verified("name")


CONSOLE_ONLY = {"guardduty", "user-notifications", "q-developer", "eks"}


def test_services_enabled_only_from_their_own_console_say_so() -> None:
    assert {e.id for e in CATALOG.entries if e.enable_via == "service-console"} == CONSOLE_ONLY


UNVERIFIED_PRINCIPAL_ROWS = {"ec2-capacity-manager", "managed-services", "private-marketplace", "procurement-insights"}


@pytest.mark.parametrize("entry_id", sorted(UNVERIFIED_PRINCIPAL_ROWS))
def test_an_unverified_trusted_access_principal_stays_unverified(entry_id: str) -> None:
    entry = CATALOG[entry_id]
    assert entry.trusted_access
    assert not any(p.verified for p in entry.trusted_access)
    assert not entry.fully_verified


def test_which_entries_have_an_unverified_principal() -> None:
    """The four UNVERIFIED rows, plus what this catalog could not confirm either (see each entry's note)."""
    unverified = {e.id for e in CATALOG.entries if any(not p.verified for p in e.trusted_access)}
    assert unverified == UNVERIFIED_PRINCIPAL_ROWS | {"user-notifications", "q-developer", "cloudwatch"}


def test_a_null_value_is_always_marked_unverified() -> None:
    for entry in CATALOG.entries:
        for principal in entry.trusted_access:
            assert principal.principal is not None or not principal.verified, entry.id
        for role in entry.service_linked_roles:
            for field in ("name", "trusted_principal"):
                assert getattr(role, field) is not None or not role.is_verified(field), (entry.id, field)


@pytest.mark.parametrize(
    ("entry_id", "role_name", "created_in"),
    [
        ("macie", "AWSServiceRoleForAmazonMacie", ("delegated_administrator",)),
        ("s3-storage-lens", "AWSServiceRoleForS3StorageLens", ("delegated_administrator",)),
        ("ipam", "AWSServiceRoleForIPAM", ("management", "members")),
        ("reachability-analyzer", "AWSServiceRoleForReachabilityAnalyzer", ("management", "members")),
        ("artifact", "AWSServiceRoleForArtifact", ("management",)),
        ("cloudformation", "AWSServiceRoleForCloudFormationStackSetsOrgMember", ("members",)),
    ],
)
def test_where_a_role_is_created(entry_id: str, role_name: str, created_in: tuple[str, ...]) -> None:
    assert CATALOG[entry_id].role(role_name).created_in == created_in


@pytest.mark.parametrize(("entry_id", "role_name"), [
    ("eks", "AWSServiceRoleForAmazonEKSDashboard"),
    ("private-marketplace", "AWSServiceRoleForPrivateMarketplaceAdmin"),
    ("q-developer", "AWSServiceRoleForAmazonQDeveloper"),
])
def test_roles_created_only_when_enabled_from_the_service_console(entry_id: str, role_name: str) -> None:
    assert CATALOG[entry_id].role(role_name).created_when == "on-service-console-enable"


def test_the_artifact_entry_holds_what_scanner_artifact_held() -> None:
    """scanner/artifact.py's constants, now only in the catalog: the switch changed no value nor order."""
    entry = CATALOG["artifact"]
    assert entry.current_principals == ("aws-artifact-account-sync.amazonaws.com", "artifact.amazonaws.com")
    assert entry.legacy_principals == ("AWSArtifactAccountSync", "aws-artifact-acount-sync.amazonaws.com")
    assert entry.service_principals == (
        "artifact.amazonaws.com", "aws-artifact-account-sync.amazonaws.com", "aws-artifact-acount-sync.amazonaws.com"
    )
    (role,) = entry.service_linked_roles
    assert role.name == "AWSServiceRoleForArtifact"
    assert role.path == "/aws-service-role/artifact.amazonaws.com/"
    assert role.trusted_principal == "artifact.amazonaws.com"
    assert role.managed_policy_arns == ("arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy",)
    (legacy,) = entry.legacy_roles
    assert (legacy.name, legacy.path) == ("AWSArtifactAccountSync", "/service-role/")
    assert legacy.managed_policy_arns == ("arn:aws:iam::aws:policy/service-role/AWSArtifactAccountSync",)
    assert entry.delegated_administrator.supported is False
    known = integrations.known("artifact")
    assert known.service_linked_roles == (("AWSServiceRoleForArtifact", "/aws-service-role/artifact.amazonaws.com/"),)
    assert known.role_names == {"awsserviceroleforartifact", "awsartifactaccountsync"}


TYPOS = {"AWSServiceRoleRorAmazonMacie", "networkmanager.amazon.aws.com", "notifications.amazon.com"}


def test_documentation_typos_are_recorded_and_never_used_as_values() -> None:
    recorded = {t.value for t in CATALOG.documentation_typos}
    assert recorded >= TYPOS
    # Read the raw files, not the typed entries, so that a field the loader's check forgets is still covered.
    for path in FILES:
        document = yamlfile.load(path, what="catalog file", error=CatalogError)
        for json_path, value in yamlfile.walk(document.data):
            if not isinstance(value, str) or value.lower() not in {t.lower() for t in recorded}:
                continue
            if json_path[0] == "documentation_typos":
                continue
            misspelling = (json_path[0] == "trusted_access" and json_path[-1] == "principal"
                           and document.data["trusted_access"][json_path[1]]["status"] == "misspelling")
            assert misspelling, f"{path.name}: {yamlfile.format_json_path(json_path)} uses typo {value!r}"


def test_lookups_by_principal_and_by_role_name() -> None:
    assert CATALOG.integration_for_principal("aws-artifact-account-sync.amazonaws.com") is CATALOG["artifact"]
    assert CATALOG.integration_for_principal(" AWS-Artifact-Acount-Sync.amazonaws.com") is CATALOG["artifact"]
    assert CATALOG.integration_for_principal("config-multiaccountsetup.amazonaws.com") is CATALOG["config"]
    assert CATALOG.integration_for_principal("example.amazonaws.com") is None
    found = CATALOG.integration_for_role("awsserviceroleforamazonssm_accountdiscovery")
    assert found is not None and found[0] is CATALOG["ssm"]
    assert CATALOG.integration_for_role("AWSServiceRoleForArtifactX") is None
    assert CATALOG.get("nope") is None


def test_every_trusted_access_principal_and_role_leads_back_to_its_entry() -> None:
    for entry in CATALOG.entries:
        for principal in entry.principals():
            assert CATALOG.integration_for_principal(principal) is entry, principal
        for role in entry.service_linked_roles:
            if role.name is not None:
                assert CATALOG.integration_for_role(role.name) == (entry, role)
            if role.trusted_principal is not None:
                assert role.path == service_linked_role_path(role.trusted_principal)
            for arn in role.managed_policy_arns:
                assert arn.startswith("arn:aws:iam::aws:policy/aws-service-role/"), arn


def test_network_manager_uses_the_stacksets_roles_it_does_not_own() -> None:
    owners = {CATALOG.integration_for_role(name)[0].id for name in CATALOG["network-manager"].uses_roles_of}  # type: ignore[index]
    assert owners == {"cloudformation"}


def test_entries_are_frozen() -> None:
    entry = CATALOG["artifact"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.service_linked_roles[0].name = "x"  # type: ignore[misc]


def test_catalog_error_is_a_scanner_error() -> None:
    assert issubclass(CatalogError, ScannerError)


# ---- hostile catalog files: every problem named by file, line and JSON path, all at once ----


def _copy(tmp_path: Path, *ids: str) -> Path:
    for entry_id in ids:
        shutil.copy(catalog_dir() / f"{entry_id}.yaml", tmp_path / f"{entry_id}.yaml")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _problems(directory: Path) -> tuple[str, ...]:
    with pytest.raises(CatalogError) as caught:
        load_catalog_dir(directory)
    return caught.value.problems


def _one(problems: tuple[str, ...], *needles: str) -> str:
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, (needles, problems)
    return hits[0]


HOSTILE = [
    # (entry to break, text to replace, replacement, what the error must say)
    ("artifact", "enable_via: either", "enable_via: sometimes", ("artifact.yaml:", "$.enable_via", '"sometimes"')),
    ("artifact", "kind: integration", "kind: integration\ncolour: blue", ("artifact.yaml:", "$.colour", "unknown key")),
    ("ssm", "checked_on: \"2026-11-30\"", "checked_on: \"2026-13-45\"", ("ssm.yaml:", "$.checked_on", "date")),
    ("ssm", "trusted_principal: accountdiscovery.ssm.amazonaws.com", "trusted_principal: accountdiscovery.ssm",
     ("ssm.yaml:", "$.service_linked_roles[0].trusted_principal")),
    ("ssm", "aws-service-role/AWSSystemsManagerAccountDiscoveryServicePolicy",
     "service-role/AWSSystemsManagerAccountDiscoveryServicePolicy",
     ("ssm.yaml:", "$.service_linked_roles[0].managed_policies[0].arn")),
    ("artifact", "    verified: true", "    verified: maybe", ("artifact.yaml:", "$.trusted_access[0].verified")),
    ("macie", "  - name: AWSServiceRoleForAmazonMacie", "  - name: null",
     ("macie.yaml:", "$.service_linked_roles[0].name", "unverified")),
    ("macie", "  - {principal: macie.amazonaws.com, status: current, verified: true}",
     "  - {principal: null, status: current, verified: true}", ("macie.yaml:", "$.trusted_access[0].verified")),
    ("macie", "  - {principal: macie.amazonaws.com, status: current, verified: true}",
     "  - {principal: AWSServiceRoleRorAmazonMacie, status: legacy, verified: true}",
     ("macie.yaml:", "$.trusted_access[0].principal", "documentation typo", "AWSServiceRoleForAmazonMacie")),
    ("network-manager", "  - {principal: networkmanager.amazonaws.com, status: current, verified: true}",
     "  - {principal: networkmanager.amazon.aws.com, status: current, verified: true}",
     ("network-manager.yaml:", "$.trusted_access[0].principal", "documentation typo")),
    ("ssm", "  - {principal: ssm.amazonaws.com, status: current, verified: true}",
     "  - {principal: macie.amazonaws.com, status: current, verified: true}",
     ("ssm.yaml:", "$.trusted_access[0].principal", "already claimed by 'macie'")),
    ("ssm", "  - name: AWSServiceRoleForAmazonSSM_AccountDiscovery", "  - name: AWSServiceRoleForAmazonMacie",
     ("ssm.yaml:", "$.service_linked_roles[0].name", "already listed by 'macie'", "uses_roles_of")),
    ("ssm", "id: ssm", "id: systems-manager", ("ssm.yaml:", "$.id", "differs from the file name")),
    ("ssm", "id: ssm", "id: macie", ("ssm.yaml:", "$.id", "duplicate id 'macie'")),
    ("macie", "delegated_administrator:\n  supported: true", "delegated_administrator:\n  supported: false",
     ("macie.yaml:", "$.delegated_administrator.register_via")),
    ("ssm", "    created_in: [management]", "    created_in: [everywhere]",
     ("ssm.yaml:", "$.service_linked_roles[0].created_in[0]")),
    ("ssm", "name: AWS Systems Manager", "name: [AWS Systems Manager", ("ssm.yaml:", "not valid YAML")),
]


@pytest.mark.parametrize(("entry_id", "old", "new", "needles"), HOSTILE)
def test_a_hostile_catalog_file_is_refused_with_file_and_path(
    tmp_path: Path, entry_id: str, old: str, new: str, needles: tuple[str, ...]
) -> None:
    directory = _copy(tmp_path, "ssm", "macie", "network-manager", "cloudformation", "artifact")
    assert isinstance(load_catalog_dir(directory), Catalog)  # the untouched copies load
    _edit(directory / f"{entry_id}.yaml", old, new)
    problem = _one(_problems(directory), *needles)
    assert str(directory) in problem  # the file is named in full


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    directory = _copy(tmp_path, "ssm", "macie", "artifact")
    _edit(directory / "ssm.yaml", "enable_via: organizations", "enable_via: nowhere")
    _edit(directory / "ssm.yaml", "kind: integration", "kind: integration\nextra: 1")
    _edit(directory / "macie.yaml", "id: macie", "id: amazon-macie")
    (directory / "empty.yaml").write_text("")
    problems = _problems(directory)
    _one(problems, "ssm.yaml:", "$.enable_via")
    _one(problems, "ssm.yaml:", "$.extra")
    _one(problems, "macie.yaml:", "$.id")
    _one(problems, "empty.yaml", "$: None is not of type 'object'")
    assert len(problems) == 4
    # The message a user reads names the count and then every problem.
    with pytest.raises(CatalogError, match=r"^4 problems in the integrations catalog:"):
        load_catalog_dir(directory)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    assert "no catalog files" in _problems(tmp_path)[0]


def test_a_role_another_entry_owns_must_exist(tmp_path: Path) -> None:
    directory = _copy(tmp_path, "network-manager")  # without cloudformation, whose roles it uses
    _one(_problems(directory), "network-manager.yaml:", "$.uses_roles_of[0]", "no entry lists")


def test_the_fully_verified_count_is_what_the_entries_say() -> None:
    """Fully verified: every principal, every role field, every policy attachment documented, and DA support known."""
    verified = {e.id for e in CATALOG.integrations if e.fully_verified}
    for entry_id in verified:
        entry: Integration = CATALOG[entry_id]
        assert all(p.verified for p in entry.trusted_access)
        assert all(p.attachment == "documented" for r in entry.service_linked_roles for p in r.managed_policies)
    assert "artifact" not in verified  # its role's creation moment is unconfirmed
    assert {"security-hub", "trusted-advisor", "well-architected", "iam-identity-center"} <= verified


def test_principals_customers_own_roles_trust_are_marked_and_left_out_of_trust() -> None:
    """Only where a principal is the usual trust of customers' roles unrelated to Organizations (EC2 instance
    roles, EKS cluster roles); the service-linked role still names it, and trusted access is untouched."""
    catalog = load_catalog()
    marked = {e.id: [c.principal for c in e.customer_role_principals] for e in catalog.entries
              if e.customer_role_principals}
    assert marked == {"ec2": ["ec2.amazonaws.com"], "eks": ["eks.amazonaws.com"]}
    assert catalog["ec2"].trust_principals == ()
    assert catalog["ec2"].service_linked_roles[0].trusted_principal == "ec2.amazonaws.com"
    assert catalog["eks"].trust_principals == ("dashboard.eks.amazonaws.com",)
    assert catalog["eks"].current_principals == ("eks.amazonaws.com",)
    for entry_id in marked:
        entry = catalog[entry_id]
        assert {c.source for c in entry.customer_role_principals} <= {s.url for s in entry.sources}


@pytest.mark.parametrize(("old", "new", "needles"), [
    ("  - principal: ec2.amazonaws.com\n", "  - principal: macie.amazonaws.com\n",
     ("$.customer_role_principals[0].principal", "none of this entry's principals")),
    ("    source: 'https://docs.aws.amazon.com/IAM/", "    source: 'https://example.com/IAM/",
     ("$.customer_role_principals[0].source", "sources")),
])
def test_a_customer_role_principal_belongs_to_its_entry(
    tmp_path: Path, old: str, new: str, needles: tuple[str, ...]
) -> None:
    directory = _copy(tmp_path, "ec2")
    assert isinstance(load_catalog_dir(directory), Catalog)
    _edit(directory / "ec2.yaml", old, new)
    _one(_problems(directory), "ec2.yaml:", *needles)
