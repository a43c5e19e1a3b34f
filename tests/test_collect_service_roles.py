"""A member account's genuine service-linked roles cost nothing beyond its listing (moto, real collector).

With every integration in scope, a healthy member holding GuardDuty's and Config's service-linked roles (both
created in member accounts) still costs sts:AssumeRole plus one iam:ListRoles page; the roles are kept from the
listing (RoleRecord.listing_only), the snapshot counts no gap for them, and the role rules still judge their
trust (which the listing carries). Anything unlike AWS's role is read in full.

So do the member's own roles: an EC2 instance role (ec2.amazonaws.com is a catalog `customer_role_principals`
entry) is of no interest, and a role trusting Config's principal, which no pack of its own covers, is kept from
the listing for ORG-035 to judge its trust. A role trusting a dedicated integration's principal (SSM's) is read
in full, since that pack's rules may need more.
"""

from __future__ import annotations

import boto3
import jsonschema

from scanner import demo
from scanner.evaluate import evaluate
from scanner.evaluate.resources import FACT_SCHEMAS, ROLE, build_inventory
from scanner.model import Status
from scanner.rules import load_rules
from scanner.snapshot import dumps, gaps, loads
from tests.conftest import MANAGEMENT_ACCOUNT_ID, CallLog
from tests.test_collect_moto import account, build_org, scan

GUARDDUTY = demo.RoleSpec(
    "AWSServiceRoleForAmazonGuardDuty",
    "/aws-service-role/guardduty.amazonaws.com/",
    demo.service_trust("guardduty.amazonaws.com"),
)
CONFIG = demo.RoleSpec(
    "AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/", demo.service_trust("config.amazonaws.com")
)
# The same name and path, but its trust lets an outside account in as well: not AWS's role, read in full.
TAMPERED = demo.RoleSpec(
    GUARDDUTY.name,
    GUARDDUTY.path,
    demo.service_trust("guardduty.amazonaws.com", None, {
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}),
)
LOOK_ALIKE = demo.RoleSpec(CONFIG.name, "/", demo.service_trust("config.amazonaws.com"))
INSTANCE_ROLE = demo.RoleSpec("WebServerInstanceRole", "/", demo.service_trust("ec2.amazonaws.com"))
CONFIG_HELPER = demo.RoleSpec("ConfigDeliveryRole", "/", demo.service_trust("config.amazonaws.com"))  # unpinned
AUTOMATION = demo.RoleSpec("AutomationRole", "/", demo.service_trust("ssm.amazonaws.com"))
DETAIL_APIS = ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies")


def test_a_healthy_member_with_service_linked_roles_costs_two_calls(aws: boto3.Session, call_log: CallLog) -> None:
    ruleset = load_rules()
    assert {"guardduty", "config", "ec2"} <= set(ruleset.integrations)
    assert "config" not in ruleset.dedicated and "ssm" in ruleset.dedicated
    ids = build_org(aws, {
        "healthy": [GUARDDUTY, CONFIG, INSTANCE_ROLE, CONFIG_HELPER],
        "tampered": [TAMPERED],
        "lookalike": [LOOK_ALIKE],
        "artifact": [demo.SERVICE_LINKED_ROLE],  # created in the management account only: read in full as before
        "automation": [AUTOMATION],
    })
    # The management account's roles of interest are read in full, the genuine member-created ones too;
    # its instance role is of no interest there either.
    demo.create_roles(aws.client("iam"), MANAGEMENT_ACCOUNT_ID, [GUARDDUTY, INSTANCE_ROLE])
    call_log.clear()

    snapshot = scan(aws, integrations=ruleset.integrations, dedicated=ruleset.dedicated)

    healthy_calls = [
        c.api for c in call_log.calls
        if c.account_id == ids["healthy"] or ids["healthy"] in str(c.params.get("RoleArn"))
    ]
    assert healthy_calls == ["sts:AssumeRole", "iam:ListRoles"]
    healthy = account(snapshot, ids["healthy"])
    # The instance role is of no interest; the Config-trusting one is kept for its trust alone.
    assert sorted(str(r.role["RoleName"]) for r in healthy.roles) == sorted(
        [GUARDDUTY.name, CONFIG.name, CONFIG_HELPER.name]
    )
    assert all(r.listing_only and not r.detail_read and r.attached_policies is None for r in healthy.roles)
    assert all(r.role["AssumeRolePolicyDocument"] for r in healthy.roles)  # the listing's trust is kept
    for name in ("tampered", "lookalike", "artifact", "automation"):
        (record,) = account(snapshot, ids[name]).roles
        assert not record.listing_only and record.detail_read and record.attached_policies is not None
        for api in DETAIL_APIS:
            assert call_log.count(ids[name], api) == 1, (name, api)
    # Kept from the listing by design is no gap, and survives a round trip through the snapshot file.
    assert gaps(snapshot) == ()
    assert loads(dumps(snapshot), "snapshot") == snapshot

    # Every role's facts, listing-only ones included, are what the schema the rule loader checks against says.
    inventory = build_inventory(snapshot, ruleset.integrations, dedicated=ruleset.dedicated)
    validator = jsonschema.Draft202012Validator(FACT_SCHEMAS[ROLE])
    for role in inventory.resources[ROLE]:
        validator.validate(role.facts)
    listed = {r.name: r for r in inventory.resources[ROLE] if r.account_id == ids["healthy"]}
    assert listed[GUARDDUTY.name].facts["catalog_role"]["listing_only"] is True
    assert "attached_policy_arns" in listed[GUARDDUTY.name].unknown

    results = evaluate(ruleset, snapshot, run_id="test").results

    def statuses(rule_id: str, account_id: str) -> set[Status]:
        """Of the rule's results on a role (an account where it matched none has one result of its own)."""
        return {
            r.status for r in results
            if r.rule_id == rule_id and r.account_id == account_id and ":role/" in r.resource_arn
        }

    assert statuses("ORG-030", ids["healthy"]) == {Status.PASS}  # trust judged from the listing
    org_035 = {r.resource_arn.rsplit("/", 1)[-1]: r.status for r in results
               if r.rule_id == "ORG-035" and r.account_id == ids["healthy"]}
    assert org_035 == {CONFIG_HELPER.name: Status.FAIL}  # the instance role is no resource; SLRs are exempt
    assert statuses("SSM-009", ids["automation"]) == {Status.FAIL}  # the dedicated pack judges its own
    assert statuses("ORG-030", ids["tampered"]) == {Status.FAIL}
    assert statuses("ORG-034", ids["lookalike"]) == {Status.FAIL}
    for rule_id in ("ORG-031", "ORG-131", "ORG-032", "ORG-033"):  # need policies the listing lacks: not applied
        assert statuses(rule_id, ids["healthy"]) == set(), rule_id
    assert statuses("ORG-131", ids["tampered"]) == {Status.FAIL}  # moto attached no policy to the copy
    assert not [r for r in results if r.status is Status.ERROR]
    (management,) = account(snapshot, MANAGEMENT_ACCOUNT_ID).roles
    assert management.role["RoleName"] == GUARDDUTY.name
    assert not management.listing_only and management.detail_read and management.attached_policies is not None


def test_every_integration_is_read_from_the_catalog_files_as_the_catalog_reads_them() -> None:
    # integration_ids reads the `kind:` lines only (a scope decided before the collection starts)
    from scanner import integrations
    from scanner.catalog import load_catalog

    assert integrations.integration_ids() == tuple(sorted(e.id for e in load_catalog().integrations))
    assert "organizations" not in integrations.integration_ids()  # the baseline entry
