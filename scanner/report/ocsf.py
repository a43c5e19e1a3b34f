"""results.ocsf.jsonl: OCSF 1.8.0 Compliance Finding events (class_uid 2003), one JSON object per line.

One event per result that is not a pass (`fail`, `suppressed`, `error`, `skipped`); the `ocsf-all` format
writes the passes too, so a data lake sees a control go from Fail to Pass. JSON Lines because that is what
SIEM and data-lake ingestion (Splunk HEC, OpenSearch, Security Lake's transformations) read one record at a
time; each line is an event valid against OCSF 1.8.0's JSON Schema for the class with the `cloud` profile
(tests/data/ocsf/).

Mapping:

- `compliance`: the rule id as `control`, its compliance mappings as `standards` (framework names) and
  `requirements` ("SOC 2 CC6.1"), the result as `status_id`/`status` (fail and suppressed: Fail; pass:
  Pass; error: Unknown, it could not be evaluated; skipped: Other, not applicable) and its message as
  `status_detail`;
- `finding_info.uid`: the SARIF fingerprint (a hash of rule id, account id and resource ARN), so one
  resource's finding keeps its uid from run to run and matches its SARIF alert; `uid_alt` holds the three
  inputs in clear;
- the finding's own `status_id`: New (fail), Suppressed, Resolved (pass), Other (error, skipped), with
  the suppression in `status_detail` when one accepted the failure or has expired (scanner.report.wording);
  `activity_id` is Update for a finding the baseline run already had, Create otherwise;
- `resources`: the resource (ARN, name, type, the account as owner); `cloud`: AWS, the account, the
  organization;
- times are the run's, in milliseconds since the epoch (OCSF's timestamp_t): `time` is when the results
  were evaluated, `finding_info.first_seen_time` the baseline's first sighting;
- `metadata`: product artifact-scan and its version, the run id as `correlation_uid`, the organization as
  `tenant_uid`; the run's hashes, caller and completeness are in `unmapped["artifact-scan"]`, with the
  evidence (JSON path, expected, found) of the result.

Pure and deterministic: no clock, no randomness; events sorted as SARIF sorts results; keys sorted.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from scanner.model import Result, Rule, ScanResult, Severity, Status
from scanner.report import wording, writer
from scanner.report.sarif import INFORMATION_URI, TOOL_NAME, fingerprint, order_key
from scanner.report.textsafe import scrub, unicode_only

OCSF_VERSION = "1.8.0"
CLASS_UID = 2003
CATEGORY_UID = 2  # Findings
PROFILES = ("cloud",)

_SEVERITY_ID = {Severity.INFO: 1, Severity.LOW: 2, Severity.MEDIUM: 3, Severity.HIGH: 4, Severity.CRITICAL: 5}
_SEVERITY_NAME = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
# compliance.status_id: 0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other
_COMPLIANCE = {
    Status.PASS: (1, "Pass"),
    Status.FAIL: (3, "Fail"),
    Status.SUPPRESSED: (3, "Fail"),
    Status.ERROR: (0, "Unknown"),
    Status.SKIPPED: (99, "Not Applicable"),
}
# the finding's status_id: 1 New, 3 Suppressed, 4 Resolved, 99 Other
_FINDING_STATUS = {
    Status.PASS: (4, "Resolved"),
    Status.FAIL: (1, "New"),
    Status.SUPPRESSED: (3, "Suppressed"),
    Status.ERROR: (99, "Not Evaluated"),
    Status.SKIPPED: (99, "Not Applicable"),
}
_ACTIVITY = {1: "Create", 2: "Update"}
_ACCOUNT_TYPE_AWS = 10  # account.type_id: AWS Account

_EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/artifact-scan/ocsf-event")


def epoch_ms(text: str | None) -> int | None:
    """An ISO 8601 time of the run as OCSF's timestamp_t (ms since the epoch), or None if it is not one."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def requirements(rule: Rule | None) -> list[str]:
    """"<framework> <control>" for every compliance mapping of the rule, sorted."""
    if rule is None:
        return []
    return sorted(f"{framework} {control}" for framework, ids in rule.compliance.items() for control in ids)


def _run_properties(scan: ScanResult) -> dict[str, Any]:
    info = scan.info
    return {
        "run_id": info.run_id,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "evaluated_at": info.evaluated_at,
        "complete": info.complete,
        "shard": info.shard,
        "caller_arn": info.caller_arn,
        "management_account_id": info.management_account_id,
        "rules_sha256": info.rules_sha256,
        "config_sha256": info.config_sha256,
        "rule_packs": [{"id": pack, "version": version} for pack, version in info.rule_packs],
        "baseline_run_id": scan.baseline_run_id,
    }


class _Shared:
    """The parts every event of one export shares (the run, the product) or every event of one rule shares,
    built and made valid Unicode once: json.dumps writes a shared dict as often as it is referenced, so an
    event holds references to these instead of copies, and only its result's own text is scrubbed per event."""

    def __init__(self, scan: ScanResult) -> None:
        info = scan.info
        self.info = info
        self.run: dict[str, Any] = scrub(_run_properties(scan))
        self.rules = {rule.id: rule for rule in scan.rules}
        self.now = epoch_ms(info.evaluated_at) or epoch_ms(info.finished_at) or epoch_ms(info.started_at) or 0
        self.start, self.end = epoch_ms(info.started_at), epoch_ms(info.finished_at)
        self.run_id = unicode_only(info.run_id)
        self.organization_id = unicode_only(info.organization_id) if info.organization_id else None
        self.finding_product: dict[str, Any] = scrub(
            {"name": TOOL_NAME, "vendor_name": TOOL_NAME, "version": info.tool_version})
        self.metadata_product: dict[str, Any] = scrub({
            "name": TOOL_NAME, "vendor_name": TOOL_NAME, "version": info.tool_version, "url_string": INFORMATION_URI,
        })
        self._rule_parts: dict[str, dict[str, Any]] = {}
        self._checks: dict[tuple[str, Severity, Status], list[dict[str, Any]]] = {}
        self._first_seen: dict[str | None, int | None] = {}

    def rule_parts(self, rule: Rule) -> dict[str, Any]:
        """What an event takes from its rule alone, scrubbed."""
        parts = self._rule_parts.get(rule.id)
        if parts is None:
            remediation: dict[str, Any] = {"desc": f"{rule.remediation.text}\n\n{rule.remediation.command}".strip()}
            if rule.references:
                remediation["references"] = [ref.url for ref in rule.references]
            parts = scrub({
                "title": rule.title,
                "tags": [{"name": "tag", "value": tag} for tag in rule.tags],
                "standards": sorted(rule.compliance) if rule.compliance else [TOOL_NAME],
                "requirements": requirements(rule),
                "desc": rule.description,
                "remediation": remediation,
            })
            self._rule_parts[rule.id] = parts
        return parts

    def checks(self, result: Result, rule: Rule, compliance_id: int, compliance_status: str) -> list[dict[str, Any]]:
        key = (rule.id, result.severity, result.status)
        checks = self._checks.get(key)
        if checks is None:
            info = self.info
            checks = scrub([{
                "uid": result.rule_id,
                "name": rule.title,
                "desc": rule.rationale,
                "severity": result.severity.label,
                "severity_id": _SEVERITY_ID[result.severity],
                "status": compliance_status,
                "status_id": compliance_id,
                "standards": sorted(rule.compliance) or [TOOL_NAME],
                "version": next((version for pack, version in info.rule_packs if pack == rule.pack), None)
                or "unknown",
            }])
            self._checks[key] = checks
        return checks

    def first_seen(self, text: str | None) -> int | None:
        if text not in self._first_seen:
            self._first_seen[text] = epoch_ms(text)
        return self._first_seen[text]


def event(shared: _Shared, result: Result) -> dict[str, Any]:
    """The event of one result, with valid Unicode only (lone surrogates in AWS text replaced)."""
    rule = shared.rules.get(result.rule_id)
    parts = shared.rule_parts(rule) if rule is not None else None
    uid = fingerprint(result.rule_id, result.account_id, result.resource_arn)
    activity_id = 2 if result.baseline == "unchanged" else 1
    severity_id = _SEVERITY_ID[result.severity]
    compliance_id, compliance_status = _COMPLIANCE[result.status]
    status_id, status = _FINDING_STATUS[result.status]
    now = shared.now
    first_seen = shared.first_seen(result.first_seen)
    rule_id = unicode_only(result.rule_id)
    account_id = unicode_only(result.account_id)
    arn = unicode_only(result.resource_arn)
    message = unicode_only(result.message)
    title = f"{rule_id}: {parts['title']}" if parts is not None else rule_id

    finding_info: dict[str, Any] = {
        "uid": uid,
        "uid_alt": f"{rule_id}/{account_id}/{arn}",
        "title": title,
        "desc": message,
        "types": ["Compliance"],
        "analytic": {"uid": rule_id, "name": title, "type_id": 1, "type": "Rule"},
        "product": shared.finding_product,
        "last_seen_time": now,
    }
    if first_seen is not None:
        finding_info["first_seen_time"] = first_seen
        finding_info["created_time"] = first_seen
    if parts is not None and parts["tags"]:
        finding_info["tags"] = parts["tags"]

    compliance: dict[str, Any] = {
        "control": rule_id,
        "status_id": compliance_id,
        "status": compliance_status,
        "status_detail": message,
        "standards": parts["standards"] if parts is not None else [TOOL_NAME],
        "requirements": (parts["requirements"] if parts is not None else None) or [rule_id],
    }
    if rule is not None and parts is not None:
        compliance["desc"] = parts["desc"]
        compliance["checks"] = shared.checks(result, rule, compliance_id, compliance_status)

    partition = unicode_only(partition_of(result.resource_arn))
    account: dict[str, Any] = {"uid": account_id, "type": "AWS Account", "type_id": _ACCOUNT_TYPE_AWS}
    if result.account_name:
        account["name"] = unicode_only(result.account_name)
    cloud: dict[str, Any] = {"provider": "AWS", "account": account, "cloud_partition": partition}
    if shared.organization_id:
        cloud["org"] = {"uid": shared.organization_id}
    resource = {
        "uid": arn,
        "name": unicode_only(result.resource_name) if result.resource_name else arn,
        "type": unicode_only(result.resource_type),
        "cloud_partition": partition,
        "owner": {"account": account},
    }

    unmapped: dict[str, Any] = {"run": shared.run, "result_status": result.status.value}
    if result.evidence:
        unmapped["evidence"] = scrub([
            {"path": e.path, "expected": e.expected, "found": e.found, "note": e.note} for e in result.evidence
        ])
    if result.causes:
        unmapped["causes"] = scrub([
            {"api": c.api, "code": c.code, "message": c.message, "account_id": c.account_id, "resource": c.resource}
            for c in result.causes
        ])
    if result.suppression is not None:
        s = result.suppression
        unmapped["suppression"] = scrub({"reason": s.reason, "owner": s.owner, "expires": s.expires,
                                         "source": s.source})
    if result.expired_suppression is not None:
        s = result.expired_suppression
        unmapped["expired_suppression"] = scrub({"reason": s.reason, "owner": s.owner, "expires": s.expires,
                                                 "source": s.source})

    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "uid": str(uuid.uuid5(_EVENT_NAMESPACE, f"{shared.info.run_id}\0{uid}")),
        "correlation_uid": shared.run_id,
        "profiles": list(PROFILES),
        "product": shared.metadata_product,
        "log_name": "compliance",
    }
    if shared.organization_id:
        metadata["tenant_uid"] = shared.organization_id
    document: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": _ACTIVITY[activity_id],
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Compliance Finding: {_ACTIVITY[activity_id]}",
        "severity_id": severity_id,
        "severity": _SEVERITY_NAME[severity_id],
        "status_id": status_id,
        "status": status,
        "time": now,
        "message": message,
        "finding_info": finding_info,
        "compliance": compliance,
        "resources": [resource],
        "cloud": cloud,
        "metadata": metadata,
        "unmapped": {TOOL_NAME: unmapped},
    }
    if result.suppression is not None:
        document["status_detail"] = unicode_only(wording.accepted(result.suppression))
    elif result.expired_suppression is not None:
        document["status_detail"] = unicode_only(wording.expired(result.expired_suppression))
    if shared.start is not None:
        document["start_time"] = shared.start
    if shared.end is not None:
        document["end_time"] = shared.end
    if parts is not None:
        document["remediation"] = parts["remediation"]
    return document


def iter_events(scan: ScanResult, *, include_passes: bool = False) -> Iterator[dict[str, Any]]:
    """The events one at a time, in report order: a writer need not hold them all."""
    shared = _Shared(scan)
    chosen = (r for r in scan.results if include_passes or r.status is not Status.PASS)
    for result in sorted(chosen, key=order_key):
        yield event(shared, result)


def events(scan: ScanResult, *, include_passes: bool = False) -> list[dict[str, Any]]:
    return list(iter_events(scan, include_passes=include_passes))


def dumps_lines(documents: Iterable[dict[str, Any]]) -> bytes:
    # One line at a time into one growing buffer: neither every event nor every line is held at once, and
    # getvalue() hands over the buffer without a copy.
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode
    out = io.BytesIO()
    for document in documents:
        out.write(encode(document).encode("ascii"))
        out.write(b"\n")
    return out.getvalue()


@writer("ocsf", "results.ocsf.jsonl")
def render(scan: ScanResult) -> bytes:
    return dumps_lines(iter_events(scan))


@writer("ocsf-all", "results-all.ocsf.jsonl")
def render_all(scan: ScanResult) -> bytes:
    return dumps_lines(iter_events(scan, include_passes=True))
