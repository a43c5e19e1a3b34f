"""The collector against moto: real AssumeRole into member accounts, paging, scope, failures recorded.

Failures moto cannot produce (AccessDenied, transport errors, odd pages) are injected with botocore
event handlers on the session, the same way scanner.demo simulates them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from scanner import demo
from scanner.collect import collect
from scanner.collect import session as collect_session
from scanner.config import Collection, Config, ManagementAccess, MemberAccess, Scope
from scanner.errors import CredentialsError
from scanner.model import AccountSnapshot, Snapshot
from tests.conftest import FAKE_SECRET_ACCESS_KEY, MANAGEMENT_ACCOUNT_ID, CallLog

FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
PINNED_TRUST = demo.service_trust("artifact.amazonaws.com", {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT_ID}})


def build_org(session: boto3.Session, members: dict[str, list[demo.RoleSpec]], *, trusted: bool = True) -> dict[str, str]:
    """An organization with one member account per name, each holding the given roles: name -> id."""
    orgs = session.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    if trusted:
        orgs.enable_aws_service_access(ServicePrincipal=demo.TRUSTED_ACCESS_PRINCIPAL)
    ids = {}
    for name, roles in members.items():
        account_id = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        ids[name] = account_id
        if roles:
            demo.create_roles(member_client(session, account_id, "iam"), account_id, roles)
    return ids


def member_client(session: boto3.Session, account_id: str, service: str) -> Any:
    role_arn = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="fixture")["Credentials"]
    return session.client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def scan(session: boto3.Session, config: Config | None = None, **kwargs: Any) -> Snapshot:
    return collect(config or Config(), rules_sha256="r" * 64, session=session, clock=lambda: FIXED, **kwargs)


def account(snapshot: Snapshot, account_id: str) -> AccountSnapshot:
    return next(a for a in snapshot.accounts if a.id == account_id)


def role_names(snapshot: Snapshot, account_id: str) -> list[str]:
    return [str(r.role["RoleName"]) for r in account(snapshot, account_id).roles]


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


def test_scans_every_account_through_assume_role(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"alpha": [demo.LEGACY_ROLE], "beta": [], "gamma": [demo.SERVICE_LINKED_ROLE]})
    demo.create_roles(aws.client("iam"), MANAGEMENT_ACCOUNT_ID, [demo.SERVICE_LINKED_ROLE])
    config = Config(member_accounts=MemberAccess(external_id="ext-1234", session_name="audit", session_duration_seconds=900))
    call_log.clear()

    snapshot = scan(aws, config)

    assert [a.id for a in snapshot.accounts] == sorted([MANAGEMENT_ACCOUNT_ID, *ids.values()])
    assert snapshot.metadata.complete and snapshot.errors == ()
    management = account(snapshot, MANAGEMENT_ACCOUNT_ID)
    assert management.is_management and management.scanned and role_names(snapshot, MANAGEMENT_ACCOUNT_ID) == [
        "AWSServiceRoleForArtifact"
    ]
    assert role_names(snapshot, ids["alpha"]) == ["AWSArtifactAccountSync"]
    assert role_names(snapshot, ids["beta"]) == []
    assert account(snapshot, ids["beta"]).roles_listed == 1  # OrganizationAccountAccessRole
    slr = account(snapshot, ids["gamma"]).roles[0]
    assert slr.detail_read and slr.role["Description"].startswith("Allows AWS Artifact")
    assert slr.attached_policies == ({"PolicyName": "AWSArtifactServiceRolePolicy",
                                      "PolicyArn": demo.SERVICE_LINKED_ROLE.managed_policies[0]},)
    assert slr.inline_policies == {}
    assert slr.role["AssumeRolePolicyDocument"] == demo.SERVICE_LINKED_ROLE.trust
    # Each member was read with its own credentials, through the configured role and settings.
    assume = call_log.of(MANAGEMENT_ACCOUNT_ID, "sts:AssumeRole")
    assert sorted(c.params["RoleArn"] for c in assume) == sorted(
        f"arn:aws:iam::{i}:role/OrganizationAccountAccessRole" for i in ids.values()
    )
    assert {(c.params["ExternalId"], c.params["RoleSessionName"], c.params["DurationSeconds"]) for c in assume} == {
        ("ext-1234", "audit", 900)
    }
    for account_id in ids.values():
        assert call_log.count(account_id, "iam:ListRoles") == 1
    assert call_log.count(MANAGEMENT_ACCOUNT_ID, "iam:ListRoles") == 1


def test_metadata_records_the_run(aws: boto3.Session) -> None:
    build_org(aws, {})
    snapshot = scan(aws, Config())
    meta = snapshot.metadata
    assert meta.started_at == meta.finished_at == "2026-01-02T03:04:05Z"
    assert meta.caller is not None and meta.caller.account == MANAGEMENT_ACCOUNT_ID
    assert meta.rules_sha256 == "r" * 64 and meta.config_sha256 == Config().sha256()
    assert meta.tool_version and meta.shard is None and meta.endpoint_url is None
    assert snapshot.organization.description is not None
    assert snapshot.organization.description["MasterAccountId"] == MANAGEMENT_ACCOUNT_ID
    assert [p["ServicePrincipal"] for p in snapshot.organization.enabled_service_principals or ()] == [
        demo.TRUSTED_ACCESS_PRINCIPAL
    ]
    assert snapshot.organization.customer_agreements == ()


def test_unassumable_account_is_recorded_and_the_others_are_read(aws: boto3.Session) -> None:
    ids = build_org(aws, {"open": [demo.LEGACY_ROLE], "locked": []})
    demo.deny_assume_role(aws, [ids["locked"]])

    snapshot = scan(aws)

    locked = account(snapshot, ids["locked"])
    assert locked.scanned and locked.roles_listed is None and locked.roles == ()
    (error,) = locked.errors
    assert (error.api, error.code, error.account_id) == ("sts:AssumeRole", "AccessDenied", ids["locked"])
    assert error.resource == f"arn:aws:iam::{ids['locked']}:role/OrganizationAccountAccessRole"
    assert "not authorized" in error.message
    assert role_names(snapshot, ids["open"]) == ["AWSArtifactAccountSync"]
    assert not snapshot.metadata.complete
    assert snapshot.errors == (error,)


def test_suspended_account_is_listed_as_skipped(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"closing": []})
    aws.client("organizations").close_account(AccountId=ids["closing"])
    call_log.clear()

    snapshot = scan(aws)

    closed = account(snapshot, ids["closing"])
    assert (closed.scanned, closed.state, closed.skip_reason) == (False, "SUSPENDED", "account state is SUSPENDED")
    assert closed.listing["Status"] == "SUSPENDED"
    assert call_log.count(ids["closing"]) == 0
    assert not any(c.params.get("RoleArn", "").split(":")[4:5] == [ids["closing"]] for c in call_log.of(api="sts:AssumeRole"))
    assert snapshot.metadata.complete


def test_status_stands_in_when_state_is_missing() -> None:
    from scanner.collect import organizations

    assert organizations.account_state({"Status": "SUSPENDED"}) == "SUSPENDED"
    assert organizations.account_state({"State": "CLOSED", "Status": "SUSPENDED"}) == "CLOSED"


def test_lists_every_page_of_a_large_organization(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {f"member-{n:02d}": [] for n in range(45)})
    seen: list[tuple[int, int]] = []
    call_log.clear()

    snapshot = scan(aws, Config(collection=Collection(concurrency=8)), progress=lambda done, total: seen.append((done, total)))

    assert len(snapshot.accounts) == 46 and all(a.scanned and a.roles_listed == int(not a.is_management)
                                                for a in snapshot.accounts)
    assert {a.id for a in snapshot.accounts} == {MANAGEMENT_ACCOUNT_ID, *ids.values()}
    assert call_log.count(MANAGEMENT_ACCOUNT_ID, "organizations:ListAccounts") == 3  # 20 + 20 + 6
    assert all(c.params["MaxResults"] == 20 for c in call_log.of(api="organizations:ListAccounts"))
    assert [done for done, _ in seen] == list(range(1, 47)) and seen[-1] == (46, 46)
    assert all(done <= total for done, total in seen)


def fake_pages(session: boto3.Session, api: str, pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer `api` with `pages`, one per call (the last one repeated); returns the params of each call."""
    service, operation = api.split(":")
    calls: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    def answer(**_: Any) -> Any:
        page = pages[min(len(calls), len(pages)) - 1]
        # A copy each time: botocore's after-call handlers edit the parsed answer in place.
        parsed = {**copy.deepcopy(page), "ResponseMetadata": {"HTTPStatusCode": 200}}
        return AWSResponse("https://fake.invalid/", 200, {}, None), parsed

    session.events.register(f"before-parameter-build.{service}.{operation}", remember)
    session.events.register(f"before-call.{service}.{operation}", answer)
    return calls


def test_empty_account_page_with_a_token_is_not_the_end(aws: boto3.Session) -> None:
    ids = build_org(aws, {"alpha": [], "beta": []})
    listing = aws.client("organizations").list_accounts()["Accounts"]
    calls = fake_pages(aws, "organizations:ListAccounts", [
        {"Accounts": [], "NextToken": "t1"},
        {"Accounts": listing[:1], "NextToken": "t2"},
        {"Accounts": [], "NextToken": "t3"},
        {"Accounts": listing[1:]},
    ])

    snapshot = scan(aws)

    assert [c.get("NextToken") for c in calls] == [None, "t1", "t2", "t3"]
    assert {a.id for a in snapshot.accounts} == {MANAGEMENT_ACCOUNT_ID, *ids.values()}
    assert snapshot.metadata.complete


def test_a_repeated_account_token_stops_the_listing_with_an_error(aws: boto3.Session) -> None:
    build_org(aws, {"alpha": []})
    listing = aws.client("organizations").list_accounts()["Accounts"]
    calls = fake_pages(aws, "organizations:ListAccounts", [{"Accounts": listing, "NextToken": "again"}])

    snapshot = scan(aws)

    assert len(calls) == 2
    assert len(snapshot.accounts) == 2 and all(a.scanned for a in snapshot.accounts)
    (error,) = snapshot.organization.errors
    assert (error.api, error.code) == ("organizations:ListAccounts", "RepeatedPageToken")
    assert not snapshot.metadata.complete


# --------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------


def test_only_roles_of_interest_are_read_in_detail(aws: boto3.Session, call_log: CallLog) -> None:
    noise = [demo.RoleSpec(f"app-role-{n:03d}", "/apps/", demo.service_trust("lambda.amazonaws.com")) for n in range(120)]
    interesting = [
        demo.LEGACY_ROLE,
        demo.RoleSpec("awsserviceroleforartifact", "/", demo.service_trust("ec2.amazonaws.com")),  # name, any case
        demo.RoleSpec("ComplianceReader", "/", PINNED_TRUST),  # trust names Artifact
        demo.RoleSpec("Mixed", "/", demo.service_trust("lambda.amazonaws.com", None, {
            "Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "aws-artifact-account-sync.amazonaws.com"]},
            "Action": "sts:AssumeRole"})),
    ]
    ids = build_org(aws, {"busy": [*noise, *interesting], "quiet": []})
    call_log.clear()

    snapshot = scan(aws)

    busy = account(snapshot, ids["busy"])
    assert busy.roles_listed == 125
    assert sorted(role_names(snapshot, ids["busy"])) == sorted(r.name for r in interesting)
    assert all(r.detail_read and r.attached_policies is not None and r.inline_policies == {} for r in busy.roles)
    for api in ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"):
        assert call_log.count(ids["busy"], api) == 4
        assert {c.params["RoleName"] for c in call_log.of(ids["busy"], api)} == {r.name for r in interesting}
    assert call_log.count(ids["busy"], "iam:ListRoles") == 1
    assert call_log.of(ids["busy"], "iam:ListRoles")[0].params["MaxItems"] == 1000
    # A healthy member costs exactly AssumeRole plus one ListRoles page.
    quiet_calls = [c for c in call_log.calls if c.account_id == ids["quiet"] or ids["quiet"] in str(c.params.get("RoleArn"))]
    assert [c.api for c in quiet_calls] == ["sts:AssumeRole", "iam:ListRoles"]


def test_inline_policies_are_read_with_their_documents(aws: boto3.Session) -> None:
    ids = build_org(aws, {"member": [demo.SERVICE_LINKED_ROLE]})
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam = member_client(aws, ids["member"], "iam")
    iam.put_role_policy(RoleName="AWSServiceRoleForArtifact", PolicyName="extra", PolicyDocument=json.dumps(document))
    iam.put_role_permissions_boundary(RoleName="AWSServiceRoleForArtifact",
                                      PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.tag_role(RoleName="AWSServiceRoleForArtifact", Tags=[{"Key": "owner", "Value": "<b>team</b>"}])

    (record,) = account(scan(aws), ids["member"]).roles

    assert record.inline_policies == {"extra": document}
    assert record.role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith("AdministratorAccess")
    assert record.role["Tags"] == [{"Key": "owner", "Value": "<b>team</b>"}]


def test_many_pages_of_roles_and_a_repeated_marker(aws: boto3.Session) -> None:
    ids = build_org(aws, {"member": []})
    page = aws.client("iam").list_roles()["Roles"]  # empty in the management account
    # The made-up page names the member account: another account's roles would be refused before paging.
    role = {"RoleName": "AWSArtifactAccountSync", "Path": "/service-role/",
            "Arn": f"arn:aws:iam::{ids['member']}:role/service-role/AWSArtifactAccountSync",
            "RoleId": "AROA1", "CreateDate": FIXED,
            # As on the wire: botocore's after-call handler decodes it, also for this made-up page.
            "AssumeRolePolicyDocument": quote(json.dumps(demo.LEGACY_ROLE.trust))}
    fake_pages(aws, "iam:ListRoles", [{"Roles": [*page, role], "IsTruncated": True, "Marker": "m1"}])

    snapshot = scan(aws, Config(scope=Scope(include_accounts=(ids["member"],))))

    member = account(snapshot, ids["member"])
    assert member.roles_listed is None and member.roles == ()
    (error,) = member.errors
    assert (error.api, error.code, error.account_id) == ("iam:ListRoles", "RepeatedPageToken", member.id)


def test_access_denied_on_one_api_in_one_account_loses_nothing_else(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"denied": [demo.LEGACY_ROLE], "fine": [demo.LEGACY_ROLE]})
    def refuse(model: Any, request_signer: Any, **_: Any) -> Any:
        if call_log.account_of(request_signer) != ids["denied"]:
            return None
        return demo.error_response(403, "AccessDenied", "User: x is not authorized to perform: iam:ListAttachedRolePolicies")

    aws.events.register("before-call.iam.ListAttachedRolePolicies", refuse)

    snapshot = scan(aws)

    denied = account(snapshot, ids["denied"])
    (error,) = denied.errors
    assert (error.api, error.code, error.account_id, error.resource) == (
        "iam:ListAttachedRolePolicies", "AccessDenied", ids["denied"], "AWSArtifactAccountSync")
    assert error.message == "User: x is not authorized to perform: iam:ListAttachedRolePolicies"
    (record,) = denied.roles
    assert record.attached_policies is None
    assert record.detail_read and record.inline_policies == {} and denied.roles_listed == 2
    (fine,) = account(snapshot, ids["fine"]).roles
    assert fine.attached_policies == ({"PolicyName": "AWSArtifactAccountSync", "PolicyArn": demo.LEGACY_ROLE.managed_policies[0]},)
    assert account(snapshot, ids["fine"]).errors == ()
    assert not snapshot.metadata.complete


def test_get_role_failure_keeps_the_listing_item(aws: boto3.Session) -> None:
    build_org(aws, {})
    demo.create_roles(aws.client("iam"), MANAGEMENT_ACCOUNT_ID, [demo.SERVICE_LINKED_ROLE])
    demo.deny_call(aws, "iam:GetRole", lambda params: True, code="Throttling", message=lambda params: "Rate exceeded")

    (listed,) = aws.client("iam").list_roles()["Roles"]

    (record,) = account(scan(aws), MANAGEMENT_ACCOUNT_ID).roles

    assert not record.detail_read
    assert record.role == collect_session.jsonable(listed)
    assert record.role["AssumeRolePolicyDocument"] == demo.SERVICE_LINKED_ROLE.trust
    assert record.attached_policies is not None


def test_transport_failures_are_recorded_by_class_name(aws: boto3.Session) -> None:
    ids = build_org(aws, {"member": []})

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")

    aws.events.register("before-call.iam.ListRoles", unreachable)
    snapshot = scan(aws)

    (error,) = account(snapshot, ids["member"]).errors
    assert (error.api, error.code) == ("iam:ListRoles", "EndpointConnectionError")
    assert "https://iam.amazonaws.com/" in error.message
    assert account(snapshot, ids["member"]).roles_listed is None


# --------------------------------------------------------------------------------------------
# Artifact
# --------------------------------------------------------------------------------------------


def test_artifact_agreements_are_recorded_as_json(aws: boto3.Session) -> None:
    build_org(aws, {})
    agreement = demo.organization_agreement(MANAGEMENT_ACCOUNT_ID, "arn:aws:organizations::123456789012:organization/o-x")
    demo.stub_customer_agreements(aws, [agreement])  # registered later, so it answers first

    snapshot = scan(aws)

    assert snapshot.organization.customer_agreements == (agreement,)
    assert snapshot.organization.customer_agreements[0]["effectiveStart"] == "2024-03-01T09:30:00Z"


def test_an_endpoint_without_the_artifact_api_is_recorded() -> None:
    with mock_aws():
        bare = boto3.Session(region_name="us-east-1")  # moto answers 404 "Not yet implemented"
        bare.client("organizations").create_organization(FeatureSet="ALL")
        snapshot = scan(bare)
    assert snapshot.organization.customer_agreements is None
    (error,) = snapshot.organization.errors
    assert (error.api, error.code, error.account_id) == ("artifact:ListCustomerAgreements", "NotAvailable", None)
    # Said plainly, never with the endpoint's page pasted in.
    assert error.message == "not available at this endpoint (HTTP 404)"
    assert account(snapshot, MANAGEMENT_ACCOUNT_ID).errors == ()


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


def test_member_account_credentials_are_refused(aws: boto3.Session) -> None:
    ids = build_org(aws, {"member": []})
    role_arn = f"arn:aws:iam::{ids['member']}:role/OrganizationAccountAccessRole"
    credentials = aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="fixture")["Credentials"]
    member = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )
    with pytest.raises(CredentialsError) as caught:
        scan(member)
    assert f"trusted access can only be read from the management account {MANAGEMENT_ACCOUNT_ID}" in str(caught.value)
    assert ids["member"] in str(caught.value) and caught.value.hint


def test_no_credentials_are_refused_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError) as caught:
        collect(Config(), rules_sha256="r")  # the default chain finds nothing, and fails before any request
    assert "no AWS credentials" in str(caught.value) and caught.value.hint


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(CredentialsError) as caught:
        collect(Config(management=ManagementAccess(profile="no-such-profile")), rules_sha256="r")
    assert "'no-such-profile' does not exist" in str(caught.value) and caught.value.hint


def test_an_account_outside_any_organization_is_refused(aws: boto3.Session) -> None:
    with pytest.raises(CredentialsError) as caught:
        scan(aws)
    assert "not in an AWS organization" in str(caught.value)


def test_management_role_is_assumed_first(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"member": []})
    role_arn = f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/Auditor"
    config = Config(management=ManagementAccess(role_arn=role_arn, external_id="mgmt-ext", session_name="auditor"))
    call_log.clear()

    snapshot = scan(aws, config)

    assert snapshot.metadata.caller is not None
    assert snapshot.metadata.caller.arn == f"arn:aws:sts::{MANAGEMENT_ACCOUNT_ID}:assumed-role/Auditor/auditor"
    first = call_log.calls[0]
    assert (first.api, first.params["RoleArn"], first.params["ExternalId"]) == ("sts:AssumeRole", role_arn, "mgmt-ext")
    # Everything after that uses the role's credentials, never the base ones.
    later = call_log.calls[1:]
    assert later and all(not c.account_id.startswith("unknown") and c.params.get("RoleArn") != role_arn for c in later)
    assert account(snapshot, ids["member"]).roles_listed == 1


def test_a_management_role_that_cannot_be_assumed_is_refused(aws: boto3.Session) -> None:
    build_org(aws, {})
    demo.deny_assume_role(aws, [MANAGEMENT_ACCOUNT_ID])
    config = Config(management=ManagementAccess(role_arn=f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/Auditor"))
    with pytest.raises(CredentialsError) as caught:
        scan(aws, config)
    assert "cannot assume management.role_arn" in str(caught.value) and "AccessDenied" in str(caught.value)


def test_snapshot_holds_no_credential_material(aws: boto3.Session, call_log: CallLog) -> None:
    build_org(aws, {"alpha": [demo.LEGACY_ROLE], "beta": [], "locked": []})
    ids = {a["Name"]: a["Id"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    demo.deny_assume_role(aws, [ids["locked"]])
    call_log.clear()

    snapshot = scan(aws)

    text = json.dumps(asdict(snapshot)) + repr(snapshot)
    assert len(call_log.issued_secrets) == 6  # two members assumed: key id, secret and token each
    for secret in [FAKE_SECRET_ACCESS_KEY, *call_log.issued_secrets]:
        assert secret not in text
    assert "Credentials" not in text and "ResponseMetadata" not in text


def test_error_messages_are_redacted() -> None:
    redactor = collect_session.Redactor()
    credentials = collect_session.AccountCredentials("ASIAEXAMPLEKEY123", "s3cr3t-value-long", "token-value-long")
    redactor.add(*credentials.secrets())
    assert redactor("key ASIAEXAMPLEKEY123 secret s3cr3t-value-long") == "key <redacted> secret <redacted>"
    assert "s3cr3t" not in repr(credentials) and "token-value" not in repr(credentials)


# --------------------------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------------------------


def test_include_and_exclude_accounts(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build_org(aws, {"alpha": [], "beta": [], "gamma": []})
    scope = Scope(include_accounts=(MANAGEMENT_ACCOUNT_ID, ids["alpha"], ids["beta"]), exclude_accounts=(ids["beta"],))
    call_log.clear()

    snapshot = scan(aws, Config(scope=scope))

    assert account(snapshot, ids["alpha"]).scanned and account(snapshot, MANAGEMENT_ACCOUNT_ID).scanned
    assert account(snapshot, ids["beta"]).skip_reason == "excluded by scope.exclude_accounts"
    assert account(snapshot, ids["gamma"]).skip_reason == "not in scope.include_accounts"
    assert {a.id for a in snapshot.accounts} == {MANAGEMENT_ACCOUNT_ID, *ids.values()}  # skipped ones still listed
    assert call_log.count(ids["beta"]) == call_log.count(ids["gamma"]) == 0
    assert call_log.count(api="organizations:ListOrganizationalUnitsForParent") == 0  # no OU filter, no OU walk


def test_include_and_exclude_ous_resolve_nested_units(aws: boto3.Session) -> None:
    ids = build_org(aws, {"prod-app": [], "prod-nested": [], "sandbox": [], "root-level": []})
    orgs = aws.client("organizations")
    root = orgs.list_roots()["Roots"][0]["Id"]
    prod = orgs.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    nested = orgs.create_organizational_unit(ParentId=prod, Name="prod-eu")["OrganizationalUnit"]["Id"]
    sandbox = orgs.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    for name, target in (("prod-app", prod), ("prod-nested", nested), ("sandbox", sandbox)):
        orgs.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=target)

    included = scan(aws, Config(scope=Scope(include_ous=(prod,))))
    assert {a.id for a in included.accounts if a.scanned} == {ids["prod-app"], ids["prod-nested"]}
    assert account(included, ids["sandbox"]).skip_reason == "not in scope.include_ous"

    excluded = scan(aws, Config(scope=Scope(exclude_ous=(sandbox,), include_accounts=(ids["sandbox"], ids["root-level"]))))
    assert {a.id for a in excluded.accounts if a.scanned} == {ids["root-level"]}
    assert account(excluded, ids["sandbox"]).skip_reason == f"excluded by scope.exclude_ous ({sandbox})"
    assert account(excluded, ids["prod-app"]).skip_reason == "not in scope.include_accounts"


def test_an_unknown_ou_is_recorded(aws: boto3.Session) -> None:
    build_org(aws, {"alpha": []})
    snapshot = scan(aws, Config(scope=Scope(include_ous=("ou-abcd-12345678",))))
    assert not any(a.scanned for a in snapshot.accounts)
    (error,) = snapshot.organization.errors
    assert error.api.startswith("organizations:ListAccountsForParent") and error.resource == "ou-abcd-12345678"


# --------------------------------------------------------------------------------------------
# Answers as JSON
# --------------------------------------------------------------------------------------------


def test_answers_are_plain_json_with_utc_timestamps(aws: boto3.Session) -> None:
    ids = build_org(aws, {"member": [demo.SERVICE_LINKED_ROLE]})
    snapshot = scan(aws)
    document = asdict(snapshot)
    json.dumps(document)  # no datetime or other non-JSON value anywhere
    (record,) = account(snapshot, ids["member"]).roles
    assert record.role["CreateDate"].endswith("Z") and "+" not in record.role["CreateDate"]
    assert account(snapshot, ids["member"]).listing["JoinedTimestamp"].endswith("Z")


def test_jsonable_converts_nested_datetimes() -> None:
    naive = datetime(2024, 5, 6, 7, 8, 9)
    value = {"a": [naive, {"b": naive.replace(tzinfo=timezone.utc)}], "ResponseMetadata": {"RequestId": "x"}}
    assert collect_session.jsonable(value) == {"a": ["2024-05-06T07:08:09Z", {"b": "2024-05-06T07:08:09Z"}]}


def test_endpoint_url_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert collect_session.endpoint_url() is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    assert collect_session.endpoint_url() == "http://127.0.0.1:5000"


def test_clients_use_the_configured_retries_and_timeouts(aws: boto3.Session) -> None:
    clients = collect_session.Clients(aws, Collection(concurrency=40, connect_timeout_seconds=2, read_timeout_seconds=7,
                                                      max_attempts=4), "eu-west-1")
    config = clients.client("iam").meta.config
    # botocore makes one attempt; the scanner's own retry policy makes up to max_attempts (scanner.collect.limits).
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert clients.instrumentation.retries.max_attempts == 4
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (2, 7, 40)
    assert clients.client("sts").meta.region_name == "eu-west-1"


@pytest.mark.parametrize("value", [
    "2026-01-01T00:00:00Z", "2019-08-22T15:30:06.123Z", "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00",
    1700000000.5, "1700000000", "Wed, 02 Oct 2002 08:00:00 GMT",
])
def test_the_fast_timestamp_parser_reads_what_botocores_reads(value: Any) -> None:
    from botocore.utils import parse_timestamp

    ours, theirs = collect_session.parse_timestamp(value), parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()
    assert collect_session.jsonable(ours) == collect_session.jsonable(theirs)


def test_clients_parse_timestamps_with_the_fast_parser(aws: boto3.Session) -> None:
    clients = collect_session.Clients(aws, Collection(), "us-east-1")
    iam = clients.client("iam")
    iam.create_role(RoleName="Dated", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    created = iam.get_role(RoleName="Dated")["Role"]["CreateDate"]
    # The standard library's UTC, where botocore's own parser gives dateutil's tzutc().
    assert isinstance(created, datetime) and created.tzinfo is timezone.utc


@pytest.mark.parametrize("answer", [
    {},
    {"Credentials": {"AccessKeyId": "ASIAEXAMPLE"}},
    {"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "soon"}},
])
def test_an_assume_role_answer_without_usable_credentials_is_a_recorded_failure(answer: dict[str, Any]) -> None:
    """Recorded for the one account (RECORDED_FAILURES), never an internal error that stops the scan."""
    with pytest.raises(collect_session.RECORDED_FAILURES) as raised:
        collect_session.assumed_role_credentials(answer, lambda: answer, collect_session.Redactor())
    assert collect_session.error_code_and_message(raised.value)[0] == "MalformedAnswer"
