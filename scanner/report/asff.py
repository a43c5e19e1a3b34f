"""results.asff.json: AWS Security Finding Format (ASFF) findings, the `Findings` of BatchImportFindings.

The file is a JSON array that `aws securityhub batch-import-findings --findings file://results.asff.json`
takes as it is (up to 100 findings a call); `artifact-scan scan --security-hub` imports the same findings
itself (scanner.publish.securityhub), in batches, and archives the ones a later run resolved.

Which results: `fail` (Workflow NEW, Compliance FAILED), `suppressed` (Workflow SUPPRESSED, with the
suppression in Note; a fail whose suppression expired says so in Note too), `error` (Compliance NOT_AVAILABLE: the rule could not be evaluated), and
the baseline's resolved findings (RecordState ARCHIVED, Compliance PASSED, Workflow RESOLVED). `pass` and
`skipped` are not findings.

Identity: `Id` is `artifact-scan/<rule id>/<hash of rule id, account id, resource ARN>` (the SARIF
fingerprint's inputs), so the same result imported again updates its finding instead of adding one.

Accounts: Security Hub accepts a finding under a product's default ARN only from the account named in its
`AwsAccountId`, so every finding belongs to the importing (management) account; the account the result is
about is in `Resources[0]` (its ARN), `ProductFields` and `Resources[0].Details.Other`.

Region: a finding's `ProductArn` and `Region` name a region, which a ScanResult does not know; the file
names `DEFAULT_REGION` and the import builds its findings for its own region (`findings(..., region=)`).

Limits (Security Hub's, enforced here so that no finding is refused for its size): Title 256 characters,
Description 1024, Remediation text 512, Note 512, ProductFields values 2048, resource Id 512,
Details.Other values 1024, RelatedRequirements 32 entries; a finding is then well under 240 KB.
Hostile AWS text is made plain Unicode without control characters (scanner.report.textsafe).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from scanner.model import ResolvedFinding, Result, Rule, ScanResult, Severity, Status
from scanner.report import jsontext, wording, writer
from scanner.report.sarif import TOOL_NAME, order_key
from scanner.report.textsafe import block, clip, line, scrub

SCHEMA_VERSION = "2018-10-08"
DEFAULT_REGION = "us-east-1"
FINDING_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards"
GENERATOR_PREFIX = f"{TOOL_NAME}/"
PRODUCT_FIELD = f"{TOOL_NAME}/"  # ProductFields keys this tool writes (and reads back to archive findings)
UNKNOWN_ACCOUNT = "000000000000"

MAX_TITLE = 256
MAX_DESCRIPTION = 1024
MAX_REMEDIATION = 512
MAX_NOTE = 512
MAX_PRODUCT_FIELD = 2048
MAX_RESOURCE_ID = 512
MAX_DETAIL = 1024
MAX_REQUIREMENTS = 32
MAX_ID = 512

_LABEL = {Severity.INFO: "INFORMATIONAL", Severity.LOW: "LOW", Severity.MEDIUM: "MEDIUM", Severity.HIGH: "HIGH",
          Severity.CRITICAL: "CRITICAL"}
_RESOURCE_TYPE = {"aws.iam.role": "AwsIamRole"}


def finding_id(rule_id: str, account_id: str, resource_arn: str) -> str:
    inputs = f"{rule_id}\0{account_id}\0{resource_arn}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(inputs).hexdigest()[:32]
    return clip(f"{GENERATOR_PREFIX}{line(rule_id, 128)}/{digest}", MAX_ID)


def product_arn(partition: str, region: str, account_id: str) -> str:
    """The account's own default product: where a customer's custom integration imports findings."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def _partition(scan: ScanResult) -> str:
    for arn in (scan.info.caller_arn or "", *(r.resource_arn for r in scan.results)):
        parts = arn.split(":")
        if len(parts) > 2 and parts[0] == "arn" and parts[1]:
            return parts[1]
    return "aws"


def _requirements(rule: Rule | None) -> list[str]:
    if rule is None:
        return []
    found = sorted(f"{framework} {control}" for framework, ids in rule.compliance.items() for control in ids)
    return [line(text, 256) for text in found[:MAX_REQUIREMENTS]]


def _fields(values: dict[str, str | None]) -> dict[str, str]:
    return {PRODUCT_FIELD + key: line(value, MAX_PRODUCT_FIELD) for key, value in values.items() if value}


class _Context:
    """What every finding of one export shares."""

    def __init__(self, scan: ScanResult, account_id: str, region: str, partition: str) -> None:
        self.scan = scan
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.product_arn = product_arn(partition, region, account_id)
        self.rules = {rule.id: rule for rule in scan.rules}
        self.updated_at = scan.info.evaluated_at or scan.info.started_at

    def base(self, rule_id: str, account_id: str, account_name: str, resource_arn: str, resource_type: str,
             resource_name: str, severity: Severity, message: str, first_seen: str | None) -> dict[str, Any]:
        rule = self.rules.get(rule_id)
        info = self.scan.info
        title = f"{rule_id}: {rule.title}" if rule is not None else rule_id
        details = {
            "AccountId": account_id,
            "AccountName": account_name,
            "ResourceName": resource_name,
            "ResourceType": resource_type,
            "ResourceArn": resource_arn,
        }
        finding: dict[str, Any] = {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": finding_id(rule_id, account_id, resource_arn),
            "ProductArn": self.product_arn,
            "GeneratorId": clip(GENERATOR_PREFIX + line(rule_id, 128), MAX_ID),
            "AwsAccountId": self.account_id,
            "Types": [FINDING_TYPE],
            "CreatedAt": first_seen or info.started_at,
            "UpdatedAt": self.updated_at,
            "FirstObservedAt": first_seen or info.started_at,
            "LastObservedAt": info.started_at,
            "Severity": {"Label": _LABEL[severity], "Original": severity.label},
            "Title": line(title, MAX_TITLE),
            "Description": block(message, MAX_DESCRIPTION),
            "ProductFields": _fields({
                "RuleId": rule_id,
                "AccountId": account_id,
                "ResourceArn": resource_arn,
                "RunId": info.run_id,
                "OrganizationId": info.organization_id,
                "ToolVersion": info.tool_version,
                "RulesSha256": info.rules_sha256,
            }),
            "Resources": [{
                "Type": _RESOURCE_TYPE.get(resource_type, "Other"),
                "Id": line(resource_arn, MAX_RESOURCE_ID),
                "Partition": self.partition,
                "Region": self.region,
                "Details": {"Other": {key: line(value, MAX_DETAIL) for key, value in details.items() if value}},
            }],
        }
        if rule is not None:
            remediation = f"{rule.remediation.text} {rule.remediation.command}"
            recommendation: dict[str, str] = {"Text": line(remediation, MAX_REMEDIATION)}
            if rule.references:
                recommendation["Url"] = line(rule.references[0].url, 2048)
            finding["Remediation"] = {"Recommendation": recommendation}
        return finding

    def from_result(self, result: Result) -> dict[str, Any]:
        finding = self.base(result.rule_id, result.account_id, result.account_name, result.resource_arn,
                            result.resource_type, result.resource_name, result.severity, result.message,
                            result.first_seen)
        compliance: dict[str, Any] = {"Status": "NOT_AVAILABLE" if result.status is Status.ERROR else "FAILED"}
        requirements = _requirements(self.rules.get(result.rule_id))
        if requirements:
            compliance["RelatedRequirements"] = requirements
        finding["Compliance"] = compliance
        finding["RecordState"] = "ACTIVE"
        finding["Workflow"] = {"Status": "SUPPRESSED" if result.status is Status.SUPPRESSED else "NEW"}
        finding["ProductFields"].update(_fields({"Status": result.status.value, "Baseline": result.baseline}))
        # The Note says why the workflow is what it is: an accepted risk, or one no longer accepted.
        if result.suppression is not None:
            s = result.suppression
            finding["Note"] = {
                "Text": line(f"{wording.accepted(s)} ({wording.entry(s)})", MAX_NOTE),
                "UpdatedBy": line(s.owner, 512),
                "UpdatedAt": self.updated_at,
            }
        elif result.expired_suppression is not None:
            s = result.expired_suppression
            finding["Note"] = {
                "Text": line(wording.expired(s), MAX_NOTE),
                "UpdatedBy": line(s.owner, 512),
                "UpdatedAt": self.updated_at,
            }
        return finding

    def from_resolved(self, resolved: ResolvedFinding) -> dict[str, Any]:
        key = resolved.key
        rule = self.rules.get(key.rule_id)
        resource_type = rule.resource if rule is not None else ""
        finding = self.base(key.rule_id, key.account_id, "", key.resource_arn, resource_type,
                            resolved.resource_name, resolved.severity,
                            f"Resolved since run {self.scan.baseline_run_id}: {resolved.message}", resolved.first_seen)
        return resolve(finding, self.updated_at)


def resolve(finding: dict[str, Any], updated_at: str) -> dict[str, Any]:
    """The same finding, resolved: compliance PASSED, archived, workflow RESOLVED (Security Hub applies the
    workflow only when it creates a finding; archiving an active finding resolves its workflow itself)."""
    compliance = dict(finding.get("Compliance") or {})
    compliance["Status"] = "PASSED"
    fields = dict(finding.get("ProductFields") or {})
    fields[PRODUCT_FIELD + "Status"] = "resolved"
    return {**finding, "Compliance": compliance, "RecordState": "ARCHIVED", "Workflow": {"Status": "RESOLVED"},
            "UpdatedAt": updated_at, "ProductFields": fields}


REPORTED = (Status.FAIL, Status.SUPPRESSED, Status.ERROR)


def findings(scan: ScanResult, *, account_id: str | None = None, region: str = DEFAULT_REGION,
             partition: str | None = None) -> list[dict[str, Any]]:
    """Every ASFF finding of the run, most severe first: its failing, suppressed and unevaluable results,
    then the baseline's resolved findings. `account_id` is the importing account (default: management)."""
    context = _Context(scan, account_id or scan.info.management_account_id or UNKNOWN_ACCOUNT, region,
                       partition or _partition(scan))
    chosen: Iterable[Result] = sorted((r for r in scan.results if r.status in REPORTED), key=order_key)
    made = [context.from_result(result) for result in chosen]
    resolved = sorted(scan.resolved, key=lambda r: (-r.severity, r.key.rule_id, r.key.account_id, r.key.resource_arn))
    made.extend(context.from_resolved(r) for r in resolved)
    # One finding per Id: two results on one resource (never expected) must not collide within a batch.
    unique: dict[str, dict[str, Any]] = {}
    for finding in made:
        unique.setdefault(finding["Id"], finding)
    return [scrub(finding) for finding in unique.values()]


def dumps(documents: list[dict[str, Any]]) -> bytes:
    return (jsontext.dumps(documents) + "\n").encode("ascii")


@writer("asff", "results.asff.json")
def render(scan: ScanResult) -> bytes:
    return dumps(findings(scan))
