"""One fixed, deterministic ScanResult for writer tests and golden files.

It holds every status (pass, fail, error, suppressed, skipped), every severity the pack uses, a trust
policy as evidence, a collection error, a skipped account, and attacker-controlled text (markup in a
role description and a tag value) so that every writer is tested on hostile input.

It is also a run compared with a baseline (`BASELINE_RUN`): one finding is new, the others unchanged
with an earlier first_seen; one fail is a fail again because its suppression expired; one finding of
the baseline is resolved (its resource name is hostile text too); the service-linked role drifted
(deleted and re-created); and one suppression matched nothing.
"""

from __future__ import annotations

from scanner.model import (
    AccountSummary,
    CollectionError,
    Drift,
    Evidence,
    FindingKey,
    ResolvedFinding,
    Result,
    RunInfo,
    ScanResult,
    Severity,
    Status,
    Suppression,
)
from scanner.rules import builtin_packs_dir, load_rules

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
MANAGEMENT_SLR_ARN = (
    f"arn:aws:iam::{MANAGEMENT}:role/aws-service-role/artifact.amazonaws.com/AWSServiceRoleForArtifact"
)
STARTED = "2026-01-01T00:00:00Z"
BASELINE_RUN = "20251201T000000Z-123456"
# The suppression of ART-010 ended on the last day of 2025: the finding fails again.
EXPIRED = Suppression("ART-010", "Look-alike role kept until the migration in SEC-7", "platform@example.com",
                      "2025-12-31", account_id=MANAGEMENT, source="suppressions.yaml:9")
ACTIVE = Suppression("ART-011", "Decommissioning in ticket SEC-42", "cloud-security@example.com",
                     "2027-01-31", account_id=MEMBER, source="suppressions.yaml:3")
UNUSED = Suppression("ART-007", "Sandbox roles keep an extra policy", "alice@example.com", "2026-06-30",
                     resource="arn:aws:iam::*:role/Sandbox*", source="suppressions.yaml:15")
RESOLVED = (
    ResolvedFinding(FindingKey("ART-007", MEMBER, SLR_ARN), Severity.HIGH, "AWSServiceRoleForArtifact",
                    "$.attached_policies: expected only AWSArtifactServiceRolePolicy, found an extra policy",
                    "2025-10-01T00:00:00Z"),
    ResolvedFinding(FindingKey("ART-010", MEMBER, f"arn:aws:iam::{MEMBER}:role/AWSServiceRoleForArtifact"),
                    Severity.HIGH, f"look-alike {HOSTILE}",
                    f"$: expected no such resource, found a role described as {HOSTILE}", None),
)
DRIFT = (
    Drift(kind="service-linked-role-recreated", account_id=MANAGEMENT, resource_arn=MANAGEMENT_SLR_ARN,
          message="AWSServiceRoleForArtifact was deleted and re-created since the baseline (role_id "
                  "AROAOLDOLDOLDOLDOLD01 -> AROANEWNEWNEWNEWNEW2, create_date 2025-06-01T10:00:00Z -> "
                  "2025-12-20T09:30:00Z)",
          before={"create_date": "2025-06-01T10:00:00Z", "role_id": "AROAOLDOLDOLDOLDOLD01"},
          after={"create_date": "2025-12-20T09:30:00Z", "role_id": "AROANEWNEWNEWNEWNEW2"}),
)


def _result(rule_id: str, status: Status, severity: Severity, account: str, name: str, arn: str,
            message: str, **extra: object) -> Result:
    names = {MANAGEMENT: "management", MEMBER: f"member {HOSTILE}", LOCKED: "locked"}
    resource_type = extra.pop("resource_type", "aws.iam.role")
    return Result(rule_id=rule_id, status=status, severity=severity, account_id=account,
                  account_name=names.get(account, ""), resource_type=str(resource_type), resource_arn=arn,
                  resource_name=name, message=message, **extra)  # type: ignore[arg-type]


def build_scan() -> ScanResult:
    # The writers' goldens describe a scan of the Artifact pack: another built-in pack must not change them,
    # neither its rules nor the rules' hash (so it is loaded alone)
    ruleset = load_rules([builtin_packs_dir() / "artifact"], builtin=False)
    locked_error = CollectionError("sts:AssumeRole", "AccessDenied",
                                   "User is not authorized to perform: sts:AssumeRole", LOCKED)
    results = (
        _result("ART-002", Status.PASS, Severity.HIGH, MANAGEMENT, ORG,
                f"arn:aws:organizations::{MANAGEMENT}:organization/{ORG}",
                "Trusted access for AWS Artifact is enabled", resource_type="aws.organizations.organization"),
        _result("ART-006", Status.FAIL, Severity.CRITICAL, MEMBER, "AWSServiceRoleForArtifact", SLR_ARN,
                f"AWSServiceRoleForArtifact in {MEMBER} trusts aws:999999999999, service:artifact.amazonaws.com for "
                "sts:AssumeRole; only service:artifact.amazonaws.com for sts:AssumeRole is expected",
                evidence=(Evidence("$.trust.allowed_principals", 'exactly ["service:artifact.amazonaws.com"]',
                                   ["aws:999999999999", "service:artifact.amazonaws.com"]),),
                document=WIDENED_TRUST, baseline="new", first_seen=STARTED),
        _result("ART-010", Status.FAIL, Severity.HIGH, MANAGEMENT, "AWSServiceRoleForArtifact",
                f"arn:aws:iam::{MANAGEMENT}:role/AWSServiceRoleForArtifact",
                f"AWSServiceRoleForArtifact in {MANAGEMENT} is named like the service-linked role but sits at path /, "
                f"not the service-linked path (description: {HOSTILE})",
                evidence=(Evidence("$", "no such resource",
                                   {"name": "AWSServiceRoleForArtifact", "path": "/", "description": HOSTILE,
                                    "tags": {"owner": HOSTILE}}),),
                expired_suppression=EXPIRED, baseline="unchanged", first_seen="2025-09-15T06:00:00Z"),
        _result("ART-011", Status.SUPPRESSED, Severity.MEDIUM, MEMBER, "AWSArtifactAccountSync",
                f"arn:aws:iam::{MEMBER}:role/service-role/AWSArtifactAccountSync",
                f"The legacy role AWSArtifactAccountSync still exists in {MEMBER} "
                f"(arn:aws:iam::{MEMBER}:role/service-role/AWSArtifactAccountSync)",
                suppression=ACTIVE, baseline="unchanged", first_seen="2025-11-03T08:00:00Z"),
        _result("ART-012", Status.ERROR, Severity.HIGH, LOCKED, "locked", f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{LOCKED}",
                f"could not read the IAM roles of account {LOCKED} (locked): sts:AssumeRole: AccessDenied: User is not "
                "authorized to perform: sts:AssumeRole",
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
            started_at=STARTED,
            finished_at="2026-01-01T00:00:05Z",
            organization_id=ORG,
            management_account_id=MANAGEMENT,
            caller_arn=f"arn:aws:sts::{MANAGEMENT}:assumed-role/Auditor/alice",
            rules_sha256=ruleset.sha256,
            config_sha256="0" * 64,
            rule_packs=tuple((pack.id, pack.version) for pack in ruleset.packs),
            complete=False,
            evaluated_at="2026-01-01T00:00:05Z",
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
        unused_suppressions=(UNUSED,),
        baseline_run_id=BASELINE_RUN,
        resolved=RESOLVED,
        drift=DRIFT,
    )
