"""A simulated organization for `artifact-scan demo` and the tests, built with moto.

`simulated_organization(scenario)` runs moto in process, builds an organization with problems planted
on purpose, and yields a boto3 session for its management account plus the list of planted problems,
so that a scan of it can be checked: every planted problem found, and nothing else.

moto lacks a few things that the real AWS side has (docs/aws-facts.md, section 8); this module is
the one place that makes up for them, and the tests reuse it:

- the real shape of AWSServiceRoleForArtifact is built by hand (`SERVICE_LINKED_ROLE`), because
  moto's CreateServiceLinkedRole gives another name and no policy;
- the AWS managed policies the roles need are installed into moto's in-process IAM backend
  (`install_aws_managed_policies`), because moto loads either none or all ~1,300 of them;
- the AWS Artifact API, which moto does not implement, is answered by a `before-send` handler
  (`stub_customer_agreements`);
- an account whose access role cannot be assumed is simulated by a `before-call` handler
  (`deny_assume_role`), because moto's AssumeRole never checks that the role exists;
- moto accepts trusted access and delegated administrators for a fixed, short list of services:
  `moto_accepts_catalog_principals` widens both to every principal the catalog names;
- other integrations' service-linked roles are built by hand from their catalog entries
  (`catalog_service_linked_role`), as Artifact's is.

The handlers are registered on the returned session, so they apply only in process. `populate()`
builds the same organization through the API alone, for a moto server; see `Population`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

from scanner.catalog import load_catalog
from scanner.catalog.model import Integration
from scanner.config import Config, IntegrationPolicy
from scanner.model import Result, Status

SCENARIOS = ("drifted", "disabled", "healthy")
REGION = "us-east-1"
ACCESS_ROLE = "OrganizationAccountAccessRole"  # moto creates it in every account made with CreateAccount
TRUSTED_ACCESS_PRINCIPAL = "aws-artifact-account-sync.amazonaws.com"  # the one moto accepts unpatched
UNKNOWN_PRINCIPAL = "example-unknown.amazonaws.com"  # enabled by the drifted scenario; no catalog entry knows it
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
UNREADABLE_ACCOUNT_RULE = "ART-014"

# --------------------------------------------------------------------------------------------
# Role shapes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """One IAM role to create: its trust, description and attached managed policies."""

    name: str
    path: str
    trust: Mapping[str, Any]
    description: str = ""
    managed_policies: tuple[str, ...] = ()


def service_trust(
    principal: str, condition: Mapping[str, Any] | None = None, *extra: Mapping[str, Any]
) -> dict[str, Any]:
    """A trust policy allowing one service principal sts:AssumeRole, as AWS writes it: scalar strings,
    no Sid; plus any extra statements."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = dict(condition)
    return {"Version": "2012-10-17", "Statement": [statement, *extra]}


# The demo plants problems for the Artifact rule pack: it names that integration on purpose, and takes its
# identifiers from the catalog like everything else.
_ARTIFACT = load_catalog()["artifact"]
_SLR = _ARTIFACT.service_linked_roles[0]
_LEGACY = _ARTIFACT.legacy_roles[0]


def _known(value: str | None) -> str:
    if value is None:  # the catalog marks this value unverified: the demo needs it stated
        raise AssertionError("the catalog's artifact entry lacks a value the demo needs")
    return value


class artifact:
    SERVICE_LINKED_ROLE_NAME = _known(_SLR.name)
    SERVICE_LINKED_ROLE_PATH = _known(_SLR.path)
    SERVICE_LINKED_ROLE_TRUSTED_SERVICE = _known(_SLR.trusted_principal)
    SERVICE_LINKED_ROLE_POLICY_ARN = _SLR.managed_policy_arns[0]
    LEGACY_ROLE_NAME = _LEGACY.name
    LEGACY_ROLE_PATH = _LEGACY.path
    LEGACY_ROLE_POLICY_ARN = _LEGACY.managed_policy_arns[0]


def catalog_service_linked_role(integration_id: str, description: str | None = None) -> RoleSpec:
    """An integration's (first) service-linked role as AWS creates it, from its catalog entry alone: its
    name and path, a trust for the principal its path names, and its AWS managed policies."""
    entry = load_catalog()[integration_id]
    role = entry.service_linked_roles[0]
    return RoleSpec(
        name=_known(role.name),
        path=_known(role.path),
        trust=service_trust(_known(role.trusted_principal)),
        description=description if description is not None else f"Service-linked role for {entry.name}",
        managed_policies=role.managed_policy_arns,
    )


_SSM = load_catalog()["ssm"]
SSM_SERVICE_LINKED_ROLE = catalog_service_linked_role(
    "ssm", "Allows Systems Manager to discover the organization's accounts"
)
"""Every scenario's second integration, AWS Systems Manager, is healthy: trusted access on and its role as
AWS creates it, so that its pack (SSM-001 is informational) plants nothing."""


SERVICE_LINKED_ROLE = RoleSpec(
    name=artifact.SERVICE_LINKED_ROLE_NAME,
    path=artifact.SERVICE_LINKED_ROLE_PATH,
    trust=service_trust(artifact.SERVICE_LINKED_ROLE_TRUSTED_SERVICE),
    description="Allows AWS Artifact to gather information about an organization via AWS Organizations",
    managed_policies=(artifact.SERVICE_LINKED_ROLE_POLICY_ARN,),
)
"""AWSServiceRoleForArtifact as AWS creates it (aws-facts.md sections 1 and 8)."""

LEGACY_ROLE = RoleSpec(
    name=artifact.LEGACY_ROLE_NAME,
    path=artifact.LEGACY_ROLE_PATH,
    trust=service_trust("aws-artifact-account-sync.amazonaws.com"),
    description="AWS Artifact role used to support integration with AWS Organizations.",
    managed_policies=(artifact.LEGACY_ROLE_POLICY_ARN,),
)
"""AWSArtifactAccountSync as the Artifact console created it before 2021 (aws-facts.md section 4)."""

LOOKALIKE_SERVICE_LINKED_ROLE = RoleSpec(
    name=artifact.SERVICE_LINKED_ROLE_NAME,
    path="/",
    trust=service_trust(artifact.SERVICE_LINKED_ROLE_TRUSTED_SERVICE),
    description="Created by hand for the Artifact integration",
)
"""A customer role squatting the service-linked role's name: it blocks the real role's creation."""


def widened_service_linked_role(extra_account: str = "999999999999") -> RoleSpec:
    """The service-linked role with another account added to its trust (moto allows the edit; AWS refuses it)."""
    extra = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{extra_account}:root"}, "Action": "sts:AssumeRole"}
    trust = service_trust(artifact.SERVICE_LINKED_ROLE_TRUSTED_SERVICE, None, extra)
    return replace(SERVICE_LINKED_ROLE, trust=trust)


def pinned_reader(management_account_id: str) -> RoleSpec:
    """A customer role trusting Artifact only on behalf of the management account: no finding."""
    condition = {"StringEquals": {"aws:SourceAccount": management_account_id}}
    return RoleSpec("ArtifactAgreementsReader", "/", service_trust("artifact.amazonaws.com", condition))


WILDCARD_READER = RoleSpec(
    "ArtifactReportsReader",
    "/",
    service_trust("artifact.amazonaws.com", {"StringLike": {"aws:SourceAccount": "*"}}),
    description="Reads AWS Artifact reports for the compliance dashboard",
)
"""A customer role whose source condition matches any account: open to the confused deputy."""


def create_roles(iam: Any, account_id: str, specs: Iterable[RoleSpec]) -> None:
    """Create each role with `iam` (a client for `account_id`) and attach its managed policies."""
    for spec in specs:
        iam.create_role(
            RoleName=spec.name,
            Path=spec.path,
            AssumeRolePolicyDocument=json.dumps(spec.trust),
            Description=spec.description,
        )
        install_aws_managed_policies(account_id, spec.managed_policies)
        for arn in spec.managed_policies:
            try:
                iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)
            except iam.exceptions.NoSuchEntityException:
                raise RuntimeError(
                    f"moto does not know the AWS managed policy {arn}: start the moto server with "
                    "MOTO_IAM_LOAD_MANAGED_POLICIES=true, or run it in this process"
                ) from None


def install_aws_managed_policies(account_id: str, arns: Iterable[str]) -> None:
    """Make AWS managed policies attachable in one account of moto's in-process IAM backend.

    moto loads AWS managed policies only when configured to, and then all of them into every
    account: 0.6 s per account, which would make each scenario take seconds. This installs just the
    ones asked for, from moto's own copy of their documents. It reaches into moto's internals, so
    it does nothing when they are not there (a moto server in another process must then be started
    with MOTO_IAM_LOAD_MANAGED_POLICIES=true).
    """
    try:
        from moto.iam.models import AWSManagedPolicy, iam_backends  # noqa: PLC0415 - moto only when simulating

        backend = iam_backends[account_id]["aws"]
    except (ImportError, KeyError, AttributeError):
        return
    for arn in arns:
        name = arn.rsplit("/", 1)[-1]
        data = _aws_managed_policy_documents().get(name)
        if arn in backend.managed_policies or data is None or not arn.startswith("arn:aws:iam::aws:policy/"):
            continue
        policy = AWSManagedPolicy.from_data(name, account_id, backend.region_name, data)
        backend.managed_policies[policy.arn] = policy


@cache
def _aws_managed_policy_documents() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415 - moto only when simulating

    documents: dict[str, Any] = json.loads(aws_managed_policies_data)
    return documents


def catalog_principals() -> tuple[str, ...]:
    """Every principal the catalog names: trusted access (current, legacy, misspelt), the service-linked
    roles' and the delegated administrators' principals."""
    found: dict[str, None] = {}
    for entry in load_catalog().integrations:
        found.update(dict.fromkeys((*entry.principals(), *entry.service_principals,
                                    *entry.delegated_administrator.principals)))
    return tuple(found)


@contextmanager
def moto_accepts_catalog_principals(*extra: str) -> Iterator[None]:
    """While open, moto accepts EnableAWSServiceAccess and RegisterDelegatedAdministrator for every
    catalog principal and for `extra` (a principal a test makes up, such as UNKNOWN_PRINCIPAL).

    moto 5.x refuses trusted access for any principal outside a fixed list of 38 (it lacks, among others,
    artifact.amazonaws.com) and registers delegated administrators for six services only, while AWS takes
    them all: without this, the demo and the tests could not build the organizations the rules are about.
    It patches moto's class attributes, so it applies to the whole process: the in-process mock and a
    ThreadedMotoServer alike (a moto server in another process keeps its own lists). The lists are read
    only when a principal is enabled, registered or filtered by, so an organization built inside this
    block can be scanned after it."""
    from moto.organizations.models import (  # noqa: PLC0415 - moto only when simulating
        FakeDelegatedAdministrator,
        FakeServiceAccess,
    )

    wanted = (*catalog_principals(), *extra)
    trusted = [*FakeServiceAccess.TRUSTED_SERVICES, *(p for p in wanted if p not in FakeServiceAccess.TRUSTED_SERVICES)]
    delegated = [*FakeDelegatedAdministrator.SUPPORTED_SERVICES,
                 *(p for p in wanted if p not in FakeDelegatedAdministrator.SUPPORTED_SERVICES)]
    with (mock.patch.object(FakeServiceAccess, "TRUSTED_SERVICES", trusted),
          mock.patch.object(FakeDelegatedAdministrator, "SUPPORTED_SERVICES", delegated)):
        yield


# --------------------------------------------------------------------------------------------
# Botocore handlers standing in for what moto lacks (in process only)
# --------------------------------------------------------------------------------------------


class _Body:
    """The raw stream of a made-up HTTP response, as AWSResponse reads it."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _headers(values: Mapping[str, str]) -> HTTPHeaders:
    headers = HTTPHeaders()
    for name, value in values.items():
        headers[name] = value
    return headers


def error_response(status: int, code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    """What a `before-call` handler returns to make botocore raise ClientError(code, message)."""
    parsed = {
        "Error": {"Code": code, "Message": message, "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse("https://simulated.invalid/", status, _headers({}), _Body(b"")), parsed


def deny_call(
    session: boto3.Session,
    api: str,
    when: Callable[[Mapping[str, Any]], bool],
    *,
    code: str = "AccessDenied",
    message: Callable[[Mapping[str, Any]], str],
) -> None:
    """Make `api` ("service:Operation") fail with `code` whenever `when(request parameters)` holds.

    Applies to clients created from `session` after this call. The parameters are caught before
    botocore serialises them (`before-parameter-build`), so the check does not depend on the wire
    protocol, and answered at `before-call`, which skips the request (and its retries) entirely.
    """
    service, operation = api.split(":")
    key = f"artifact_scan_denial_params_{operation}"

    def remember(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[key] = dict(params)

    def answer(context: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get(key, {})
        return error_response(403, code, message(params)) if when(params) else None

    session.events.register(f"before-parameter-build.{service}.{operation}", remember)
    # botocore-stubs type every handler as returning None; a before-call handler returns the response.
    session.events.register(f"before-call.{service}.{operation}", answer)  # type: ignore[arg-type]


def deny_assume_role(session: boto3.Session, account_ids: Iterable[str]) -> None:
    """AccessDenied for AssumeRole into any role of these accounts (moto never refuses AssumeRole)."""
    denied = frozenset(account_ids)
    if not denied:
        return

    def role_account(params: Mapping[str, Any]) -> str:
        parts = str(params.get("RoleArn", "")).split(":")
        return parts[4] if len(parts) > 4 else ""

    deny_call(
        session,
        "sts:AssumeRole",
        lambda params: role_account(params) in denied,
        message=lambda params: f"User is not authorized to perform: sts:AssumeRole on resource: {params.get('RoleArn')}",
    )


def stub_customer_agreements(session: boto3.Session, agreements: Sequence[Mapping[str, Any]]) -> None:
    """Answer artifact:ListCustomerAgreements with `agreements` (one page), as the real API's JSON.

    Calling it again replaces the previous answer (for clients created afterwards).
    """
    body = json.dumps({"customerAgreements": list(agreements)}).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = _headers({"Content-Type": "application/json", "x-amzn-RequestId": "simulated-artifact"})
        return AWSResponse(request.url, 200, headers, _Body(body))

    event = "before-send.artifact.ListCustomerAgreements"
    session.events.unregister(event, unique_id=_AGREEMENTS_STUB)
    # botocore-stubs type every handler as returning None; a before-send handler returns the response.
    session.events.register(event, answer, unique_id=_AGREEMENTS_STUB)  # type: ignore[arg-type]


_AGREEMENTS_STUB = "artifact-scan-demo-customer-agreements"


def organization_agreement(management_account_id: str, organization_arn: str) -> dict[str, Any]:
    """One ACTIVE organization agreement, shaped like a ListCustomerAgreements item."""
    return {
        "name": "AWS Organizations Business Associate Addendum",
        "arn": f"arn:aws:artifact::{management_account_id}:customer-agreement/customer-agreement-DemoOrgBAA000001",
        "id": "customer-agreement-DemoOrgBAA000001",
        "agreementArn": "arn:aws:artifact:::agreement/agreement-DemoOrgBAA0000001",
        "awsAccountId": management_account_id,
        "organizationArn": organization_arn,
        "effectiveStart": "2024-03-01T09:30:00Z",
        "state": "ACTIVE",
        "description": "Business Associate Addendum accepted for every account of the organization",
        "acceptanceTerms": ["I have read and agree to the terms of the AWS Organizations BAA."],
        "terminateTerms": ["Terminating removes the BAA for every account of the organization."],
        "type": "DEFAULT",
    }


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class PlantedProblem:
    """A failing result a scan of the simulated organization must report."""

    rule_id: str
    account_id: str
    resource_name: str  # role name, account name (ART-014) or organization id

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.resource_name} in account {self.account_id}"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    name: str
    id: str
    state: str  # as Organizations reports it after the build
    is_management: bool = False


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    roles: tuple[RoleSpec, ...] = ()
    planted: tuple[tuple[str, str | None], ...] = ()  # (rule id, role name; None = the account itself)
    closed: bool = False
    assumable: bool = True


@dataclass(frozen=True, slots=True)
class _IntegrationPlant:
    """One catalog integration's state in the organization, and what the organizations pack must find."""

    integration: str  # catalog id
    enabled: bool  # this plant enables trusted access for its first current principal (else left as it is)
    role: bool  # its service-linked role in the management account, as AWS creates it
    delegated_administrator: str | None = None  # the member (by name) registered as its delegated administrator
    planted: tuple[str, ...] = ()  # rule ids failing on the integration resource


@dataclass(frozen=True, slots=True)
class _Plan:
    trusted_access: bool
    management_roles: tuple[RoleSpec, ...]
    management_planted: tuple[tuple[str, str], ...]  # (rule id, role name)
    organization_planted: tuple[str, ...]
    members: tuple[_Member, ...]
    agreements: bool = True
    integrations: tuple[_IntegrationPlant, ...] = ()
    unknown_principals: tuple[str, ...] = ()  # enabled, and no catalog entry knows them
    # The demo config's `integrations` section, with members named (their ids are known once built).
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    delegated_to: tuple[tuple[str, str], ...] = ()  # (integration id, member name)


_CLOSED = _Member("closed-sandbox", closed=True)  # listed as skipped, never scanned: no planted problem


def _healthy_members(management_account_id: str) -> tuple[_Member, ...]:
    return (
        _Member("workload-healthy"),
        _Member("reporting-healthy", roles=(pinned_reader(management_account_id),)),
    )


_AUDIT = "legacy-audit"  # the drifted organization's audit account: its configured delegated administrator
_DRIFTED_INTEGRATIONS = (
    _IntegrationPlant("security-hub", enabled=True, role=True, delegated_administrator=_AUDIT),
    # Enabled with no delegated administrator, which it supports: CIS 2.1.6's question (ORG-014) too.
    _IntegrationPlant("iam-identity-center", enabled=True, role=False, planted=("ORG-020", "ORG-014")),
    _IntegrationPlant("trusted-advisor", enabled=False, role=True, planted=("ORG-021",)),
    _IntegrationPlant("ram", enabled=True, role=True, planted=("ORG-002",)),
    # Administered by another member than the configured audit account: the expected one is missing, and
    # an unexpected one is there.
    _IntegrationPlant("cloudtrail", enabled=True, role=False, delegated_administrator="shared-services",
                      planted=("ORG-010", "ORG-011")),
)
"""The drifted scenario's integrations (SPEC14's demo table): what the organizations pack is tried on."""

_SSM_DELEGATE = "workload-healthy"
# Systems Manager's trusted access is enabled in every scenario (its own pack's plants); it supports a
# delegated administrator, so every scenario registers one, as the config expects (no ORG-010..014).
_SSM_DELEGATION = _IntegrationPlant("ssm", enabled=False, role=False, delegated_administrator=_SSM_DELEGATE)


def _plan(scenario: str, management_account_id: str) -> _Plan:
    healthy = _healthy_members(management_account_id)
    slr = artifact.SERVICE_LINKED_ROLE_NAME
    if scenario == "healthy":
        return _Plan(True, (SERVICE_LINKED_ROLE,), (), (), (*healthy, _CLOSED), integrations=(_SSM_DELEGATION,),
                     delegated_to=(("ssm", _SSM_DELEGATE),))
    if scenario == "disabled":
        return _Plan(False, (SERVICE_LINKED_ROLE,), (), ("ART-002", "ART-005", "ART-013"), (*healthy, _CLOSED),
                     integrations=(_SSM_DELEGATION,), delegated_to=(("ssm", _SSM_DELEGATE),))
    if scenario == "drifted":
        drifted = (
            _Member("former-management", (widened_service_linked_role(),), (("ART-006", slr),)),
            _Member("shared-services", (replace(SERVICE_LINKED_ROLE, managed_policies=(
                artifact.SERVICE_LINKED_ROLE_POLICY_ARN, ADMINISTRATOR_ACCESS)),), (("ART-007", slr),)),
            _Member("legacy-audit", (LEGACY_ROLE,),
                    (("ART-011", LEGACY_ROLE.name), ("ART-012", LEGACY_ROLE.name))),
            _Member("reports-integration", (WILDCARD_READER,), (("ART-012", WILDCARD_READER.name),)),
            _Member("locked", planted=((UNREADABLE_ACCOUNT_RULE, None),), assumable=False),
        )
        return _Plan(
            trusted_access=True,
            management_roles=(LOOKALIKE_SERVICE_LINKED_ROLE,),
            management_planted=(("ART-010", slr), ("ART-012", slr)),
            organization_planted=("ART-004", "ORG-005"),
            members=(*healthy, *drifted, _CLOSED),
            integrations=(*_DRIFTED_INTEGRATIONS, _SSM_DELEGATION),
            unknown_principals=(UNKNOWN_PRINCIPAL,),
            require=("security-hub", "iam-identity-center", "cloudtrail"),
            forbid=("ram",),
            delegated_to=(("security-hub", _AUDIT), ("cloudtrail", _AUDIT), ("ssm", _SSM_DELEGATE)),
        )
    raise ValueError(f"unknown demo scenario {scenario!r} (choose from: {', '.join(SCENARIOS)})")


@dataclass(frozen=True, slots=True)
class Population:
    """What `populate` built.

    `planted` is what a scan finds with the in-process handlers installed (`install_handlers`).
    Against a moto server they are missing: the locked account can be read, and the Artifact API
    fails (moto's server answers HTTP 500, which botocore retries with backoff: set
    collection.max_attempts to 1 there), so the scan is incomplete and ART-013 gives `error`;
    `planted_without_handlers` is the list for that case.
    """

    scenario: str
    organization_id: str
    organization_arn: str
    management_account_id: str
    accounts: tuple[DemoAccount, ...]
    planted: tuple[PlantedProblem, ...]
    unassumable_account_ids: tuple[str, ...]
    customer_agreements: tuple[Mapping[str, Any], ...]
    # The `integrations` section a config for this organization has: what the demo scans with.
    integration_policy: IntegrationPolicy
    # integration id -> the member account registered as its delegated administrator
    delegated_administrators: Mapping[str, str]

    def account_id(self, name: str) -> str:
        return next(account.id for account in self.accounts if account.name == name)

    @property
    def planted_without_handlers(self) -> tuple[PlantedProblem, ...]:
        return tuple(
            p
            for p in self.planted
            if p.account_id not in self.unassumable_account_ids and p.rule_id != "ART-013"
        )


def populate(session: boto3.Session, scenario: str = "drifted", *, endpoint_url: str | None = None) -> Population:
    """Build `scenario` through the AWS API with `session` (management-account credentials of an
    empty moto backend; `endpoint_url` for a moto server)."""
    client_options: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint_url}
    management_id = str(session.client("sts", **client_options).get_caller_identity()["Account"])
    plan = _plan(scenario, management_id)
    orgs = session.client("organizations", **client_options)
    organization = orgs.create_organization(FeatureSet="ALL")["Organization"]
    integrations = [(plant, load_catalog()[plant.integration]) for plant in plan.integrations]
    # Inside this block only: moto refuses most of these principals otherwise (see the helper).
    with moto_accepts_catalog_principals(*plan.unknown_principals):
        if plan.trusted_access:
            orgs.enable_aws_service_access(ServicePrincipal=TRUSTED_ACCESS_PRINCIPAL)
        orgs.enable_aws_service_access(ServicePrincipal=_SSM.current_principals[0])
        for principal in (*(e.current_principals[0] for p, e in integrations if p.enabled), *plan.unknown_principals):
            orgs.enable_aws_service_access(ServicePrincipal=principal)
        roles = tuple(catalog_service_linked_role(p.integration) for p, _ in integrations if p.role)
        create_roles(session.client("iam", **client_options), management_id,
                     (*plan.management_roles, SSM_SERVICE_LINKED_ROLE, *roles))
        members = [_build_member(session, orgs, member, client_options) for member in plan.members]
        ids = {account.name: account.id for account, _ in members}
        for plant, entry in integrations:
            if plant.delegated_administrator is not None:
                orgs.register_delegated_administrator(AccountId=ids[plant.delegated_administrator],
                                                      ServicePrincipal=_delegation_principal(entry))
    management = orgs.describe_account(AccountId=management_id)["Account"]
    accounts = (
        DemoAccount(str(management["Name"]), management_id, str(management.get("State", "ACTIVE")), True),
        *(account for account, _ in members),
    )
    planted = [PlantedProblem(rule, management_id, str(organization["Id"])) for rule in plan.organization_planted]
    planted += [PlantedProblem(rule, management_id, role) for rule, role in plan.management_planted]
    # An integration's results are on its own resource, named by its catalog id.
    planted += [PlantedProblem(rule, management_id, entry.id) for plant, entry in integrations for rule in plant.planted]
    for account, member in members:
        planted += [PlantedProblem(rule, account.id, role or account.name) for rule, role in member.planted]
    agreements = (organization_agreement(management_id, str(organization["Arn"])),) if plan.agreements else ()
    policy = IntegrationPolicy(
        require=plan.require, forbid=plan.forbid, others="allow",
        delegated_administrators={integration: ids[name] for integration, name in plan.delegated_to},
    )
    return Population(
        scenario=scenario,
        organization_id=str(organization["Id"]),
        organization_arn=str(organization["Arn"]),
        management_account_id=management_id,
        accounts=accounts,
        planted=tuple(sorted(planted)),
        unassumable_account_ids=tuple(account.id for account, member in members if not member.assumable),
        customer_agreements=agreements,
        integration_policy=policy,
        delegated_administrators={p.integration: ids[p.delegated_administrator]
                                  for p, _ in integrations if p.delegated_administrator is not None},
    )


def _delegation_principal(entry: Integration) -> str:
    """The principal an integration's delegated administrator is registered for: the one its catalog entry
    names for that, else its trusted-access principal (services registering through their own API)."""
    return (*entry.delegated_administrator.principals, *entry.current_principals)[0]


def _build_member(
    session: boto3.Session, orgs: Any, member: _Member, client_options: Mapping[str, Any]
) -> tuple[DemoAccount, _Member]:
    email = f"{member.name}@example.com"
    status = orgs.create_account(Email=email, AccountName=member.name)["CreateAccountStatus"]
    account_id = str(status["AccountId"])
    if member.roles:
        sts = session.client("sts", **client_options)
        role_arn = f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}"
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="demo-builder")["Credentials"]
        iam = session.client(
            "iam",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            **client_options,
        )
        create_roles(iam, account_id, member.roles)
    if member.closed:
        orgs.close_account(AccountId=account_id)
    state = str(orgs.describe_account(AccountId=account_id)["Account"].get("State", "ACTIVE"))
    return DemoAccount(member.name, account_id, state), member


def install_handlers(session: boto3.Session, population: Population) -> None:
    """Register the in-process stand-ins for what moto lacks: the Artifact API and the locked account."""
    stub_customer_agreements(session, population.customer_agreements)
    deny_assume_role(session, population.unassumable_account_ids)


# --------------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimulatedOrganization:
    """What the demo scans: a session for the management account (handlers installed) and what was built."""

    session: boto3.Session
    population: Population

    @property
    def planted(self) -> tuple[PlantedProblem, ...]:
        return self.population.planted

    def config(self, base: Config) -> Config:
        """`base` with this organization's `integrations` section: the policy its planted problems break."""
        return replace(base, integrations=self.population.integration_policy)


@contextmanager
def isolated_from_real_aws() -> Iterator[None]:
    """No profile, config file, credentials file or endpoint of the user's can leak into the demo:
    it must never reach a real account, whatever the environment says."""
    removed = [name for name in os.environ if name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
               or name.startswith("AWS_ENDPOINT_URL")]
    with mock.patch.dict(os.environ, {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}):
        for name in removed:
            del os.environ[name]
        yield


@contextmanager
def simulated_organization(scenario: str = "drifted") -> Iterator[SimulatedOrganization]:
    """Build `scenario` in an in-process moto and yield its management account's session."""
    with isolated_from_real_aws(), mock_aws():
        session = boto3.Session(
            aws_access_key_id="demo-access-key-id",
            aws_secret_access_key="demo-secret-access-key",
            region_name=REGION,
        )
        population = populate(session, scenario)
        install_handlers(session, population)
        yield SimulatedOrganization(session, population)


def compare(planted: Iterable[PlantedProblem], results: Iterable[Result]) -> tuple[list[str], list[str]]:
    """(planted problems the scan missed, failures or errors it reported that were not planted).

    Accounts planted as unreadable are expected to give `error` on every rule that needs their data.
    """
    expected = set(planted)
    unreadable = {p.account_id for p in expected if p.rule_id == UNREADABLE_ACCOUNT_RULE}
    results = list(results)
    failed = {PlantedProblem(r.rule_id, r.account_id, r.resource_name) for r in results if r.status is Status.FAIL}
    errors = [r for r in results if r.status is Status.ERROR and r.account_id not in unreadable]
    missed = [str(p) for p in sorted(expected - failed)]
    unexpected = [f"{p} (fail)" for p in sorted(failed - expected)]
    unexpected += [f"{PlantedProblem(r.rule_id, r.account_id, r.resource_name)} (error: {r.message})" for r in errors]
    return missed, unexpected
