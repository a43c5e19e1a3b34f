"""Delegated administrators: read by the collector (moto, through scanner.demo's principal helper), kept by
snapshots and shard merges, a gap when a collection that needed them could not read them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scanner import demo, integrations
from scanner import snapshot as snapshots
from scanner.catalog import load_catalog
from scanner.collect import collect
from scanner.config import Config
from scanner.errors import SnapshotError
from scanner.model import Snapshot
from scanner.snapshot.merge import MergeError, merge
from scanner.snapshot.shard import Shard
from tests.conftest import MANAGEMENT_ACCOUNT_ID, CallLog

LIST = "organizations:ListDelegatedAdministrators"
SERVICES = "organizations:ListDelegatedServicesForAccount"
# Integrations whose catalog entry says whether a delegated administrator is possible: one that can, one that cannot.
CAN = "security-hub"
CANNOT = "artifact"


def test_the_catalog_decides_when_the_reads_are_needed() -> None:
    catalog = load_catalog()
    assert catalog[CAN].delegated_administrator.supported is True
    assert catalog[CANNOT].delegated_administrator.supported is False
    assert integrations.needs_delegated_administrators([CAN, CANNOT])
    assert not integrations.needs_delegated_administrators([CANNOT, None])
    assert not integrations.needs_delegated_administrators(["not-in-this-catalog"])


def build(session: boto3.Session, registrations: dict[str, list[str]], quiet: int = 1) -> dict[str, str]:
    """Members named in `registrations`, each registered for those integrations, plus `quiet` members
    registered for nothing: name -> id."""
    orgs = session.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    ids = {}
    with demo.moto_accepts_catalog_principals():
        for name in [*registrations, *(f"quiet-{n}" for n in range(quiet))]:
            status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
            ids[name] = str(status["AccountId"])
            for integration in registrations.get(name, []):
                principal = load_catalog()[integration].current_principals[0]
                orgs.enable_aws_service_access(ServicePrincipal=principal)
                orgs.register_delegated_administrator(AccountId=ids[name], ServicePrincipal=principal)
    return ids


def scan(session: boto3.Session, scope: tuple[str, ...] = (CAN,)) -> Snapshot:
    return collect(Config(), rules_sha256="r", session=session, integrations=scope)


def principal(integration: str) -> str:
    return load_catalog()[integration].current_principals[0]


def test_reads_every_delegated_administrator_and_its_services(aws: boto3.Session, call_log: CallLog) -> None:
    ids = build(aws, {"audit": ["security-hub", "cloudtrail"], "logs": ["guardduty"]}, quiet=2)
    call_log.clear()

    snapshot = scan(aws)

    organization = snapshot.organization
    assert sorted(str(a["Id"]) for a in organization.delegated_administrators or ()) == sorted(
        [ids["audit"], ids["logs"]])
    assert {a["Status"] for a in organization.delegated_administrators or ()} == {"ACTIVE"}
    services = organization.delegated_services or {}
    assert list(services) == sorted([ids["audit"], ids["logs"]])
    assert sorted(s["ServicePrincipal"] for s in services[ids["audit"]]) == sorted(
        [principal("security-hub"), principal("cloudtrail")])
    assert [s["ServicePrincipal"] for s in services[ids["logs"]]] == [principal("guardduty")]
    assert snapshots.is_complete(snapshot) and snapshot.errors == ()
    # The management account pays 1 + one per distinct administrator; nothing is read in the members for it.
    assert call_log.count(MANAGEMENT_ACCOUNT_ID, LIST) == 1
    assert sorted(c.params["AccountId"] for c in call_log.of(MANAGEMENT_ACCOUNT_ID, SERVICES)) == sorted(
        [ids["audit"], ids["logs"]])
    for account_id in ids.values():
        own = [c.api for c in call_log.calls
               if c.account_id == account_id or account_id in str(c.params.get("RoleArn"))]
        assert own == ["sts:AssumeRole", "iam:ListRoles"], (account_id, own)
    # ... and the snapshot file keeps them.
    assert snapshots.loads(snapshots.dumps(snapshot), "s").organization == organization


def test_no_administrator_costs_one_call(aws: boto3.Session, call_log: CallLog) -> None:
    build(aws, {})
    call_log.clear()
    snapshot = scan(aws)
    assert (snapshot.organization.delegated_administrators, snapshot.organization.delegated_services) == ((), {})
    assert (call_log.count(api=LIST), call_log.count(api=SERVICES)) == (1, 0)
    assert snapshots.is_complete(snapshot)


def test_not_read_when_no_integration_in_scope_can_have_one(aws: boto3.Session, call_log: CallLog) -> None:
    build(aws, {"audit": ["security-hub"]})
    call_log.clear()
    snapshot = scan(aws, (CANNOT,))
    assert (snapshot.organization.delegated_administrators, snapshot.organization.delegated_services) == (None, None)
    assert call_log.count(api=LIST) == call_log.count(api=SERVICES) == 0
    assert snapshots.gaps(snapshot) == ()


def test_a_failed_services_read_is_recorded_and_the_account_left_out(aws: boto3.Session) -> None:
    ids = build(aws, {"audit": ["security-hub"], "logs": ["cloudtrail"]})
    demo.deny_call(aws, SERVICES, lambda params: params.get("AccountId") == ids["logs"],
                   message=lambda params: f"not authorized to list the services of {params.get('AccountId')}")

    snapshot = scan(aws)

    organization = snapshot.organization
    assert len(organization.delegated_administrators or ()) == 2  # the list itself was read
    assert list(organization.delegated_services or {}) == [ids["audit"]]  # absent, never an empty list
    (error,) = organization.errors
    assert (error.api, error.code, error.resource, error.account_id) == (SERVICES, "AccessDenied", ids["logs"], None)
    assert snapshots.gaps(snapshot) == ("1 read failed",)
    reloaded = snapshots.loads(snapshots.dumps(snapshot), "s")
    assert reloaded.organization == organization and not snapshots.is_complete(reloaded)


def test_a_failed_listing_leaves_both_unread(aws: boto3.Session, call_log: CallLog) -> None:
    build(aws, {"audit": ["security-hub"]})
    demo.deny_call(aws, LIST, lambda _: True, message=lambda _: "denied")
    call_log.clear()

    snapshot = scan(aws)

    assert (snapshot.organization.delegated_administrators, snapshot.organization.delegated_services) == (None, None)
    assert [(e.api, e.code) for e in snapshot.organization.errors] == [(LIST, "AccessDenied")]
    assert call_log.count(api=SERVICES) == 0
    assert "the delegated administrators (organizations:ListDelegatedAdministrators) was not read" in (
        snapshots.gaps(snapshot))


def _document(snapshot: Snapshot) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(snapshots.dumps(snapshot))
    return document


def test_a_snapshot_from_before_the_fields_loads_as_not_read(aws: boto3.Session) -> None:
    build(aws, {"audit": ["security-hub"]})
    document = _document(scan(aws, (CAN, CANNOT)))
    del document["organization"]["delegated_administrators"], document["organization"]["delegated_services"]

    old = snapshots.loads(json.dumps(document).encode(), "old.json")

    assert (old.organization.delegated_administrators, old.organization.delegated_services) == (None, None)
    assert "the delegated administrators (organizations:ListDelegatedAdministrators) was not read" in (
        snapshots.gaps(old))
    # A snapshot of a collection that did not need them has no gap for them.
    document["metadata"]["integrations"] = [CANNOT]
    assert snapshots.gaps(snapshots.loads(json.dumps(document).encode(), "old.json")) == ()


def test_the_schema_refuses_a_misshapen_services_map(aws: boto3.Session) -> None:
    build(aws, {"audit": ["security-hub"]})
    document = _document(scan(aws))
    document["organization"]["delegated_services"] = {"not-an-account": []}
    with pytest.raises(SnapshotError, match="delegated_services"):
        snapshots.loads(json.dumps(document).encode(), "bad.json")


# --------------------------------------------------------------------------------------------
# Shards
# --------------------------------------------------------------------------------------------


def _shards(aws: boto3.Session) -> tuple[Snapshot, Snapshot, dict[str, str]]:
    ids = build(aws, {"audit": ["security-hub"], "logs": ["cloudtrail"]})
    whole = scan(aws)
    listed = tuple(sorted(a.id for a in whole.accounts))

    def shard(index: int) -> Snapshot:
        meta = replace(whole.metadata, shard=f"{index}/2", listed_accounts=listed)
        owns = Shard(index, 2).owns
        return replace(whole, metadata=meta, accounts=tuple(
            a for a in whole.accounts if owns(a.id) or a.is_management))

    return shard(1), shard(2), ids


def test_shards_merge_the_services_account_by_account(aws: boto3.Session) -> None:
    one, two, ids = _shards(aws)
    services = dict(one.organization.delegated_services or {})
    # The first shard failed to read one administrator's services: the second shard's read supplies it.
    partial = replace(one.organization, delegated_services={ids["audit"]: services[ids["audit"]]})
    merged = merge([("one", replace(one, organization=partial)), ("two", two)])
    assert merged.organization.delegated_services == services
    assert merged.organization.delegated_administrators == one.organization.delegated_administrators


def test_shards_that_read_different_services_do_not_merge(aws: boto3.Session) -> None:
    one, two, ids = _shards(aws)
    other = dict(one.organization.delegated_services or {})
    other[ids["logs"]] = ({"ServicePrincipal": principal("ram")},)
    changed = replace(one, organization=replace(one.organization, delegated_services=other))
    with pytest.raises(MergeError, match=rf"delegated_services\[{ids['logs']}\]"):
        merge([("one", changed), ("two", two)])


# --------------------------------------------------------------------------------------------
# The moto helper
# --------------------------------------------------------------------------------------------


def test_moto_accepts_every_catalog_principal_only_inside_the_helper(aws: boto3.Session) -> None:
    orgs = aws.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    member = orgs.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
    unknown = "example-made-up.amazonaws.com"
    # Without it moto refuses principals AWS takes (which is why the helper exists).
    with pytest.raises(ClientError, match="unrecognized service principal"):
        orgs.enable_aws_service_access(ServicePrincipal="artifact.amazonaws.com")
    with pytest.raises(ClientError, match="unrecognized service principal"):
        orgs.register_delegated_administrator(AccountId=member, ServicePrincipal=principal(CAN))
    with demo.moto_accepts_catalog_principals(unknown):
        for name in (*demo.catalog_principals(), unknown):
            orgs.enable_aws_service_access(ServicePrincipal=name)
        orgs.register_delegated_administrator(AccountId=member, ServicePrincipal=principal(CAN))
        orgs.register_delegated_administrator(AccountId=member, ServicePrincipal=unknown)
    enabled = {p["ServicePrincipal"] for p in orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]}
    assert enabled == {*demo.catalog_principals(), unknown}
    every = {p for entry in load_catalog().integrations for p in entry.principals()}
    assert every <= set(demo.catalog_principals())
    with pytest.raises(ClientError, match="unrecognized service principal"):
        orgs.enable_aws_service_access(ServicePrincipal="another-made-up.amazonaws.com")
