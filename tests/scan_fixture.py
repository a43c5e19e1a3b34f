"""One fixed, deterministic ScanResult for writer tests and golden files.

It holds every status (pass, fail, error, suppressed, skipped), every severity the pack uses, a trust
policy as evidence, a collection error, a skipped account, and attacker-controlled text (markup in a
role description and a tag value) so that every writer is tested on hostile input.
"""

from __future__ import annotations

from scanner.model import (
    AccountSummary,
    CollectionError,
    Evidence,
    Result,
    RunInfo,
    ScanResult,
    Severity,
    Status,
    Suppression,
)
from scanner.rules import load_rules

MANAGEMENT = "111111111111"
MEMBER = "222222222222"
LOCKED = "333333333333"
SUSPENDED = "444444444444"
ORG = "o-exampleorg1"
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)">'

WIDENED_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"},
    ],
}
SLR_ARN = f"arn:aws:iam::{MEMBER}:role/aws-service-role/artifact.amazonaws.com/AWSServiceRoleForArtifact"


def _result(rule_id: str, status: Status, severity: Severity, account: str, name: str, arn: str,
            message: str, **extra: object) -> Result:
    names = {MANAGEMENT: "management", MEMBER: f"member {HOSTILE}", LOCKED: "locked"}
    resource_type = extra.pop("resource_type", "aws.iam.role")
    return Result(rule_id=rule_id, status=status, severity=severity, account_id=account,
                  account_name=names.get(account, ""), resource_type=str(resource_type), resource_arn=arn,
                  resource_name=name, message=message, **extra)  # type: ignore[arg-type]


def build_scan() -> ScanResult:
    ruleset = load_rules()
    locked_error = CollectionError("sts:AssumeRole", "AccessDenied",
                                   "User is not authorized to perform: sts:AssumeRole", LOCKED)
    results = (
        _result("ART-002", Status.PASS, Severity.HIGH, MANAGEMENT, ORG,
                f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG}",
                "Trusted access for AWS Artifact is enabled", resource_type="aws.organizations.organization"),
        _result("ART-006", Status.FAIL, Severity.CRITICAL, MEMBER, "AWSServiceRoleForArtifact", SLR_ARN,
                '$.trust.allowed_principals: expected exactly ["service:artifact.amazonaws.com"], found '
                '["aws:999999999999", "service:artifact.amazonaws.com"]',
                evidence=(Evidence("$.trust.allowed_principals", 'exactly ["service:artifact.amazonaws.com"]',
                                   ["aws:999999999999", "service:artifact.amazonaws.com"]),),
                document=WIDENED_TRUST),
        _result("ART-010", Status.FAIL, Severity.HIGH, MANAGEMENT, "AWSServiceRoleForArtifact",
                f"arn:aws:iam::{MANAGEMENT}:role/AWSServiceRoleForArtifact",
                f"$: expected no such resource, found a role described as {HOSTILE}",
                evidence=(Evidence("$", "no such resource",
                                   {"name": "AWSServiceRoleForArtifact", "path": "/", "description": HOSTILE,
                                    "tags": {"owner": HOSTILE}}),)),
        _result("ART-011", Status.SUPPRESSED, Severity.MEDIUM, MEMBER, "AWSArtifactAccountSync",
                f"arn:aws:iam::{MEMBER}:role/service-role/AWSArtifactAccountSync",
                "$: expected no such resource, found the legacy role",
                suppression=Suppression("ART-011", "Decommissioning in ticket SEC-42", "cloud-security@example.com",
                                        "2027-01-31", account_id=MEMBER)),
        _result("ART-012", Status.ERROR, Severity.HIGH, LOCKED, "locked", f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{LOCKED}",
                "could not be evaluated: sts:AssumeRole: AccessDenied: User is not authorized to perform: sts:AssumeRole",
                causes=(locked_error,)),
        _result("ART-012", Status.PASS, Severity.HIGH, MEMBER, "ArtifactReader",
                f"arn:aws:iam::{MEMBER}:role/ArtifactReader", "no matching resource found"),
        _result("ART-014", Status.SKIPPED, Severity.HIGH, SUSPENDED, "suspended",
                f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{SUSPENDED}", "account state is SUSPENDED",
                resource_type="aws.account"),
    )
    return ScanResult(
        info=RunInfo(
            run_id="20260101T000000Z-abcdef",
            tool_version="0.0.0-test",
            started_at="2026-01-01T00:00:00Z",
            finished_at="2026-01-01T00:00:05Z",
            organization_id=ORG,
            management_account_id=MANAGEMENT,
            caller_arn=f"arn:aws:sts::{MANAGEMENT}:assumed-role/Auditor/alice",
            rules_sha256=ruleset.sha256,
            config_sha256="0" * 64,
            rule_packs=tuple((pack.id, pack.version) for pack in ruleset.packs),
            complete=False,
        ),
        rules=tuple(sorted(ruleset.rules, key=lambda r: r.id)),
        results=results,
        accounts=(
            AccountSummary(MANAGEMENT, "management", "ACTIVE", True, True, None, 0),
            AccountSummary(MEMBER, f"member {HOSTILE}", "ACTIVE", False, True, None, 0),
            AccountSummary(LOCKED, "locked", "ACTIVE", False, True, None, 1),
            AccountSummary(SUSPENDED, "suspended", "SUSPENDED", False, False, "account state is SUSPENDED", 0),
        ),
        errors=(locked_error,),
    )
