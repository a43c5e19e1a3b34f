"""`--security-hub`: import a run's ASFF findings into the management account's Security Hub.

What it does, in order:

1. reads the caller's account (sts:GetCallerIdentity): Security Hub takes findings under an account's
   default product only from that account, so the findings are the caller's (scanner.report.asff);
2. lists the active findings an earlier import left (GetFindings: this product, generator
   `artifact-scan/`, record state ACTIVE; filtered again here, since a simulator may ignore filters);
3. archives those this run resolved: the run checked the rule on that account (the account was scanned,
   the rule was loaded and gave no `error` there) and no longer reports the finding. A finding the run
   could not check (another shard's account, an unreadable account) is left as it was;
4. sends the run's findings and the archived ones with BatchImportFindings, in batches within the API's
   limits: at most `MAX_BATCH` findings and `MAX_REQUEST_BYTES` a request, `MAX_FINDING_BYTES` a finding.
   The same finding imported twice has the same Id: Security Hub updates it, never adds a second one.

Pacing and retries are the collector's (scanner.collect.session.Clients and scanner.collect.limits): a
rate limiter per API, shared by every call, that slows on throttling, and the bounded retry policy.
BatchImportFindings draws from `securityhub` (10 requests a second: Security Hub's published rate for it),
GetFindings from `securityhub-read` (3 a second, its published rate).

Every finding is checked against botocore's model of BatchImportFindings before it is sent; one that does
not fit is reported as failed and not sent. Findings Security Hub refuses (`FailedFindings`) are reported
one by one. A Security Hub that refuses the calls (access denied, not enabled, still throttling after the
retries) raises `SecurityHubError`. Either makes the command exit 3; the report files are written first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.validate import ParamValidator

from scanner.collect.calls import Calls
from scanner.collect.session import Clients, error_code_and_message, no_credentials
from scanner.config import Collection
from scanner.errors import ScannerError
from scanner.model import ScanResult, Status
from scanner.report import asff

if TYPE_CHECKING:
    from mypy_boto3_securityhub.type_defs import AwsSecurityFindingTypeDef

MAX_BATCH = 100  # findings per BatchImportFindings request
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # a request's size
MAX_FINDING_BYTES = 240 * 1024  # one finding's size
REQUEST_OVERHEAD = 64  # `{"Findings": [...]}` around the findings, with room to spare
GET_FINDINGS_PAGE = 100
RATES = {"securityhub": 10.0, "securityhub-read": 3.0}  # requests per second (Security Hub's quotas)

REFUSALS = {
    "AccessDeniedException": "the credentials may not call Security Hub here",
    "AccessDenied": "the credentials may not call Security Hub here",
    "InvalidAccessException": "Security Hub is not enabled in this account and region",
    "ResourceNotFoundException": "Security Hub is not enabled in this account and region",
}
# Every call the import makes but sts:GetCallerIdentity (needs no permission); printed by
# `artifact-scan permissions` as a policy of its own, apart from the read-only collection's.
CALLS = Calls("ImportFindings", ("securityhub:BatchImportFindings", "securityhub:GetFindings"), "management")
HINT = ("enable Security Hub in the management account's region (`aws securityhub enable-security-hub`) and "
        f"allow {' and '.join(CALLS.actions)} (`artifact-scan permissions --security-hub`); "
        "the report files were written")


class SecurityHubError(ScannerError):
    """Security Hub refused the import as a whole; the run's files are written, the import is incomplete."""


@dataclass(frozen=True, slots=True)
class FailedFinding:
    id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    region: str
    account_id: str
    sent: int  # findings sent (the run's own and the archived ones)
    archived: int  # earlier findings this run resolved
    failed: tuple[FailedFinding, ...]
    calls: Mapping[str, Mapping[str, int]]  # "securityhub:BatchImportFindings" -> calls, retries, throttled

    @property
    def ok(self) -> bool:
        return not self.failed


def finding_size(finding: Mapping[str, Any]) -> int:
    """The finding's size in a request body (botocore sends compact JSON)."""
    return len(json.dumps(finding, separators=(",", ":")).encode("utf-8"))


def batches(findings: Sequence[Mapping[str, Any]], *, max_count: int = MAX_BATCH,
            max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[list[Mapping[str, Any]]]:
    """Consecutive batches, each of at most `max_count` findings and `max_bytes` bytes of request. A finding
    over MAX_FINDING_BYTES is never in one (`oversized` finds those)."""
    batch: list[Mapping[str, Any]] = []
    size = REQUEST_OVERHEAD
    for finding in findings:
        length = finding_size(finding) + 1  # and its comma
        if batch and (len(batch) >= max_count or size + length > max_bytes):
            yield batch
            batch, size = [], REQUEST_OVERHEAD
        batch.append(finding)
        size += length
    if batch:
        yield batch


def _validator() -> Callable[[Mapping[str, Any]], str | None]:
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    if shape is None:  # botocore's model of the operation has its input; without it nothing can be checked
        raise RuntimeError("botocore has no input shape for securityhub:BatchImportFindings")

    def check(finding: Mapping[str, Any]) -> str | None:
        report = ParamValidator().validate({"Findings": [finding]}, shape)
        return report.generate_report() if report.has_errors() else None

    return check


def checkable(scan: ScanResult) -> Callable[[Mapping[str, Any]], bool]:
    """Whether this run checked what an earlier finding is about: its rule on its account."""
    scanned = {account.id for account in scan.accounts if account.scanned}
    rules = {rule.id for rule in scan.rules}
    unevaluated = {(r.rule_id, r.account_id) for r in scan.results if r.status is Status.ERROR}
    field = asff.PRODUCT_FIELD

    def check(finding: Mapping[str, Any]) -> bool:
        fields = finding.get("ProductFields") or {}
        rule_id, account_id = fields.get(field + "RuleId"), fields.get(field + "AccountId")
        return (rule_id in rules and account_id in scanned and (rule_id, account_id) not in unevaluated)

    return check


def _refused(operation: str, exc: Exception) -> SecurityHubError:
    code, message = error_code_and_message(exc)
    why = REFUSALS.get(code, "still throttled after every retry" if "Throttl" in code or "TooMany" in code
                       else "the call failed")
    return SecurityHubError(f"Security Hub refused {operation}: {code}: {message} ({why})", hint=HINT)


def _call(operation: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except NoCredentialsError:
        raise no_credentials() from None
    except (ClientError, BotoCoreError) as exc:
        raise _refused(operation, exc) from None


def _active_findings(client: Any, product: str) -> Iterator[Mapping[str, Any]]:
    filters = {
        "ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": asff.GENERATOR_PREFIX, "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    token: str | None = None
    seen: set[str] = set()
    while True:
        params: dict[str, Any] = {"Filters": filters, "MaxResults": GET_FINDINGS_PAGE}
        if token:
            params["NextToken"] = token
        page = _call("GetFindings", partial(client.get_findings, **params))
        for finding in page.get("Findings", []):
            if (finding.get("ProductArn") == product and str(finding.get("GeneratorId", "")).startswith(
                    asff.GENERATOR_PREFIX) and finding.get("RecordState") == "ACTIVE"):
                yield finding
        token = page.get("NextToken")
        if not token or token in seen:
            return
        seen.add(token)


_IMPORTABLE = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt",
               "FirstObservedAt", "Severity", "Title", "Description", "ProductFields", "Resources", "Compliance",
               "Remediation")


def archived(previous: Mapping[str, Any], updated_at: str) -> dict[str, Any]:
    """An earlier finding, resolved by this run: its own fields, archived (GetFindings answers fields an
    import may not set, such as ProductName and Region, which are left out)."""
    kept = {key: previous[key] for key in _IMPORTABLE if key in previous}
    resolved = asff.resolve(kept, updated_at)
    resolved["LastObservedAt"] = updated_at
    return resolved


def plan(scan: ScanResult, current: Sequence[Mapping[str, Any]],
         previous: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The earlier active findings this run resolved, archived."""
    ids = {finding["Id"] for finding in current}
    can_check = checkable(scan)
    updated_at = scan.info.evaluated_at or scan.info.started_at
    return [archived(f, updated_at) for f in previous if f.get("Id") not in ids and can_check(f)]


def publish(scan: ScanResult, session: boto3.Session, *, region: str | None = None,
            collection: Collection | None = None) -> ImportReport:
    collection = collection or Collection()
    rates = {**collection.max_requests_per_second, **RATES}
    region = region or session.region_name or asff.DEFAULT_REGION
    clients = Clients(session, replace(collection, max_requests_per_second=rates), region)
    sts = clients.client("sts", region=region)
    identity = _call("sts:GetCallerIdentity", sts.get_caller_identity)
    account_id, caller_arn = str(identity["Account"]), str(identity["Arn"])
    partition = caller_arn.split(":")[1] if caller_arn.count(":") >= 2 else "aws"
    writer_client = clients.client("securityhub", region=region)
    # A second client so that GetFindings draws from its own (slower) limiter.
    reader = session.client("securityhub", region_name=region, config=writer_client.meta.config)
    clients.instrumentation.attach(reader, "securityhub-read")

    current = asff.findings(scan, account_id=account_id, region=region, partition=partition)
    product = asff.product_arn(partition, region, account_id)
    resolved = plan(scan, current, _active_findings(reader, product))

    failed: list[FailedFinding] = []
    check = _validator()
    sendable: list[Mapping[str, Any]] = []
    for finding in [*current, *resolved]:
        problem = check(finding)
        if problem is None and finding_size(finding) > MAX_FINDING_BYTES:
            problem = f"{finding_size(finding)} bytes, over Security Hub's {MAX_FINDING_BYTES} a finding"
        if problem is not None:
            failed.append(FailedFinding(str(finding.get("Id", "?")), "InvalidInput", problem))
        else:
            sendable.append(finding)
    for batch in batches(sendable):
        answer = _call("BatchImportFindings", partial(writer_client.batch_import_findings,
                                                          # checked against botocore's model just above
                                                          Findings=cast("list[AwsSecurityFindingTypeDef]", batch)))
        for item in answer.get("FailedFindings", []):
            failed.append(FailedFinding(str(item.get("Id", "?")), str(item.get("ErrorCode", "?")),
                                        str(item.get("ErrorMessage", ""))))
    calls = {op: counts for op, counts in clients.stats.as_dict().items() if op.startswith("securityhub")}
    return ImportReport(region, account_id, len(sendable), len(resolved), tuple(failed), calls)
