"""Which listed roles the collector keeps, and how (scanner.collect.iam.how_to_read), for every integration in
scope with the built-in packs' dedicated ones: the knowledge is the catalog's, so these cases name principals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner import integrations
from scanner.collect.iam import Interest, Read, how_to_read
from scanner.rules import load_rules

RULES = load_rules()
INTEREST = Interest.of(integrations.scope(RULES.integrations), RULES.dedicated)


def item(name: str, *principals: str, path: str = "/", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": list(principals)}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"RoleName": name, "Path": path, "AssumeRolePolicyDocument": json.dumps({"Statement": [statement]})}


@pytest.mark.parametrize(("role", "member", "management"), [
    (item("WebServer", "ec2.amazonaws.com"), None, None),  # an EC2 instance role: no integration's concern
    (item("Cluster", "eks.amazonaws.com"), None, None),  # an EKS cluster role
    (item("Lambda", "lambda.amazonaws.com"), None, None),  # no catalog integration's principal
    (item("ConfigDelivery", "config.amazonaws.com"), Read.LISTING, Read.LISTING),  # ORG-035 needs its trust only
    (item("Both", "ec2.amazonaws.com", "guardduty.amazonaws.com"), Read.LISTING, Read.LISTING),
    (item("Automation", "ssm.amazonaws.com"), Read.FULL, Read.FULL),  # SSM's pack reads more
    (item("Mixed", "config.amazonaws.com", "ssm.amazonaws.com"), Read.FULL, Read.FULL),
    # the declarative-policies report's service-linked role: of interest by name (created in management only)
    (item("AWSServiceRoleForDeclarativePoliciesEC2Report", "ec2.amazonaws.com",
           path="/aws-service-role/ec2.amazonaws.com/"), Read.FULL, Read.FULL),
    # a member-created service-linked role: from the listing in a member, in full in the management account
    (item("AWSServiceRoleForAmazonGuardDuty", "guardduty.amazonaws.com",
          path="/aws-service-role/guardduty.amazonaws.com/"), Read.LISTING, Read.FULL),
    (item("AWSServiceRoleForAmazonGuardDuty", "guardduty.amazonaws.com"), Read.FULL, Read.FULL),  # look-alike
    ({"RoleName": "Broken", "Path": "/", "AssumeRolePolicyDocument": "not a policy"}, Read.FULL, Read.FULL),
])
def test_how_a_listed_role_is_kept(role: dict[str, Any], member: Read | None, management: Read | None) -> None:
    assert how_to_read(role, INTEREST) is member
    assert how_to_read(role, INTEREST, in_management_account=True) is management


def test_with_no_integration_in_scope_nothing_is_kept() -> None:
    assert how_to_read(item("ConfigDelivery", "config.amazonaws.com"), Interest.of(())) is None


def test_a_pack_of_its_own_makes_its_principals_read_in_full() -> None:
    dedicated = Interest.of(integrations.scope(["config"]), ["config"])
    assert how_to_read(item("ConfigDelivery", "config.amazonaws.com"), dedicated) is Read.FULL
