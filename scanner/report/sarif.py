"""results.sarif: SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

Which results are SARIF results: only findings, that is `fail` and `suppressed`. A suppressed result
is kept, with an external `suppressions` entry (reason, owner, expiry), so that a consumer shows it as
dismissed instead of losing it. `pass` and `skipped` results are not findings and are left out (the
counts of every status are in `run.properties["artifact-scan/summary"]`). `error` results are not
findings either: they are reported, with every collection error, as tool execution notifications of
the single invocation, whose `executionSuccessful` is then false.

GitHub code scanning checks more than the SARIF schema does, and this writer keeps to it:

- every result has a physical location whose URI is relative and has no scheme. An AWS resource is
  not a file and an ARN reads as a URI with the scheme `arn:`, so the physical location is the rule
  file that produced the finding (line 1) and the resource's ARN is a logical location (and is in the
  message text);
- `partialFingerprints.primaryLocationLineHash` is a hash of rule id, account id and resource ARN, so
  an alert tracks one resource from run to run whatever else changes;
- every rule has the help, tags, precision and `security-severity` GitHub shows and ranks by;
- one run per file, at most `MAX_RESULTS` results, at most `MAX_TAGS` tags per rule and at most
  `MAX_GZIP_BYTES` once compressed. Past a limit the most severe results are kept (severity, then
  rule id, account, ARN), and the run says how many were dropped: a configuration notification and
  `run.properties["artifact-scan/truncated"]`. GitHub never gets a file it would reject whole.

Audit workflow (suppressions and a baseline):

- with `--baseline`, every result has `baselineState` "new" or "unchanged" (SARIF §3.27.24) and its
  `first_seen` in `properties`; `run.baselineGuid` is the `automationDetails.guid` of the baseline
  run's own results.sarif (both derived from run ids). Resolved findings are NOT `baselineState: "absent"` results: GitHub
  code scanning reads only the result properties it documents (baselineState is not one of them, "the
  rest ... are ignored") and closes an alert when a new analysis of its category no longer contains
  it, so an absent result would keep the alert open instead. They are listed, with the fingerprint
  their alert had, in `run.properties["artifact-scan/resolved"]` (most severe first, at most
  `MAX_RESOLVED`);
- a `fail` whose suppression expired says so in its message (which entry, when) and carries the
  entry in `properties["artifact-scan/expiredSuppression"]`; a suppressed result's message says until
  when and by whom it is accepted, and its `suppressions` entry names the file:line that matched (the
  sentences are scanner.report.wording's, as in every writer);
- expired and unused suppressions and drift since the baseline are warning-level configuration
  notifications of the invocation, and lists in run properties.

The writer is pure and deterministic: no clock is read (the invocation's times are the run's), rules
are sorted by id, results by severity, rule, account and ARN, and keys are sorted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from scanner.model import (
    CollectionError,
    Drift,
    Reference,
    Remediation,
    ResolvedFinding,
    Result,
    Rule,
    ScanResult,
    Severity,
    Status,
    Suppression,
)
from scanner.report import wording, writer
from scanner.report.json_report import rule_document, summary

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "artifact-scan"
# The project has no home page of its own yet; the AWS guide to what is scanned stands in for it.
INFORMATION_URI = "https://docs.aws.amazon.com/artifact/latest/ug/what-is-aws-artifact.html"

# GitHub code scanning's limits (module constants so that tests can make them small).
MAX_RESULTS = 25_000
MAX_GZIP_BYTES = 10 * 1024 * 1024
MAX_TAGS = 20
MAX_RESOLVED = 1_000  # resolved findings listed in run properties (all are counted in the summary)

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
PRECISION = "very-high"  # a rule is a deterministic check of recorded configuration, not a heuristic
FINDINGS = (Status.FAIL, Status.SUPPRESSED)
PROPERTY = "artifact-scan/"  # prefix of this tool's keys in property bags
# The notifications this tool raises besides a rule's own (whose descriptor is the rule id).
NOTIFICATIONS = {
    f"{PROPERTY}collection-error": "An AWS API call failed: what it would have read is unknown.",
    f"{PROPERTY}truncated": "Results were left out to stay within GitHub code scanning's limits.",
    f"{PROPERTY}truncated-notifications": "Error notifications were left out to stay within the size limit.",
    f"{PROPERTY}truncated-tags": "A rule's tags were cut to GitHub code scanning's limit.",
    f"{PROPERTY}truncated-resolved": "Resolved findings were left out of the run properties to stay within limits.",
    f"{PROPERTY}expired-suppression": "A suppression has expired: the failures it covered fail again.",
    f"{PROPERTY}unused-suppression": "A suppression matched no failure of this run.",
    f"{PROPERTY}drift": "A change since the baseline that no rule can see in one run.",
}

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
_HTTPS_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")


def order_key(result: Result) -> tuple[Any, ...]:
    """Most severe first, then rule id, account and ARN: the order of results and of truncation."""
    return (-result.severity, result.rule_id, result.account_id, result.resource_arn, result.status.value,
            result.resource_name, result.message)


def fingerprint(rule_id: str, account_id: str, resource_arn: str) -> str:
    """Stable for one rule on one resource of one account, and different otherwise."""
    # surrogatepass: an ARN read from hostile JSON may hold a lone surrogate; valid text hashes as before.
    inputs = f"{rule_id}\0{account_id}\0{resource_arn}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(inputs).hexdigest()
    return f"{digest[:32]}:1"


def plain(text: str) -> str:
    """User text in a SARIF plain-text message: escape what would read as an embedded link (§3.11.6)."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def artifact_uri(rule: Rule) -> str:
    """The rule file as a relative URI reference with no scheme, for the result's physical location."""
    source = rule.source.replace("\\", "/")
    while source.startswith("./"):
        source = source[2:]
    parts = source.split("/")
    absolute = (
        not source
        or source.startswith("/")
        or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", source) is not None  # a drive letter or a scheme
        or ".." in parts
        or "" in parts
    )
    if absolute:
        source = "/".join(p for p in ("rules", rule.pack, f"{rule.id}.yaml") if p)
    # Percent-encode everything but unreserved characters and "/": no ":" is left to read as a scheme.
    return quote(source, safe="/-._~")


def rule_name(rule: Rule) -> str:
    """The rule's title in CamelCase, e.g. `AWSServiceRoleForArtifactTrustsOnly...`."""
    words = re.findall(r"[A-Za-z0-9]+", rule.title)
    return "".join(word[0].upper() + word[1:] for word in words) or re.sub(r"[^A-Za-z0-9]", "", rule.id) or "Rule"


def _markdown_code_block(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}sh\n{text}\n{fence}"


def _link_text(text: str) -> str:
    return re.sub(r"([\\\[\]])", r"\\\1", " ".join(text.split()))


def _link_target(url: str) -> str:
    return quote(url, safe="/:?#@!$&'*+,;=%-._~")


def _help(rule: Rule) -> dict[str, str]:
    lines = [rule.rationale.strip(), "", f"Remediation: {rule.remediation.text.strip()}"]
    if rule.remediation.command:
        lines += ["", rule.remediation.command.strip()]
    if rule.references:
        lines += ["", "References:", *(f"- {r.title}: {r.url}" for r in rule.references)]
    markdown = [rule.rationale.strip(), "", f"**Remediation:** {rule.remediation.text.strip()}"]
    if rule.remediation.command:
        markdown += ["", _markdown_code_block(rule.remediation.command.strip())]
    if rule.references:
        markdown += ["", "**References:**", "", *(f"- [{_link_text(r.title)}]({_link_target(r.url)})"
                                                  for r in rule.references)]
    return {"text": "\n".join(lines), "markdown": "\n".join(markdown)}


def _tags(rule: Rule) -> tuple[list[str], int]:
    """`security` first, then the rule's own tags; unique; at most MAX_TAGS. Returns (tags, dropped)."""
    tags: list[str] = []
    for tag in ("security", *rule.tags):
        if tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS], max(0, len(tags) - MAX_TAGS)


def _help_uri(rule: Rule) -> str:
    for reference in rule.references:
        if _HTTPS_URL.fullmatch(reference.url):
            return reference.url
    return INFORMATION_URI


def _stub_rule(rule_id: str, severity: Severity) -> Rule:
    """A rule a result names but the scan does not carry (should not happen): described minimally."""
    text = f"Rule {rule_id} (not among the rules loaded for this scan)."
    return Rule(id=rule_id, title=rule_id, severity=severity, resource="", description=text, rationale=text,
                remediation=Remediation(text="See the rule's documentation.", command=""), expect=True,
                references=(Reference(title="artifact-scan", url=INFORMATION_URI),))


def rule_descriptor(rule: Rule) -> tuple[dict[str, Any], int]:
    """The reportingDescriptor of one rule, and how many of its tags were dropped."""
    tags, dropped_tags = _tags(rule)
    document = rule_document(rule)
    return {
        "id": rule.id,
        "name": rule_name(rule),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": " ".join(rule.description.split())},
        "help": _help(rule),
        "helpUri": _help_uri(rule),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": tags,
            "precision": PRECISION,
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "problem.severity": PROBLEM_SEVERITY[LEVELS[rule.severity]],
            f"{PROPERTY}severity": rule.severity.label,
            f"{PROPERTY}resource": rule.resource,
            f"{PROPERTY}pack": rule.pack,
            f"{PROPERTY}compliance": document["compliance"],
        },
    }, dropped_tags


def _location(result: Result, uri: str) -> dict[str, Any]:
    logical: dict[str, Any] = {"fullyQualifiedName": result.resource_arn, "kind": "resource"}
    if result.resource_name:
        logical["name"] = result.resource_name
    return {
        "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}},
        "logicalLocations": [logical],
    }


def _message(result: Result) -> str:
    # The rule's sentence names the resource and what is wrong; the ARN and the evidence are in the
    # location and the properties.
    text = result.message
    if result.expired_suppression is not None:
        text += f" ({wording.expired(result.expired_suppression)})"
    if result.suppression is not None:
        text += f" ({wording.accepted(result.suppression)})"
    return plain(text)


def suppression_properties(suppression: Suppression) -> dict[str, Any]:
    return {
        "ruleId": suppression.rule_id,
        "account": suppression.account_id,
        "resource": suppression.resource,
        "reason": suppression.reason,
        "owner": suppression.owner,
        "expires": suppression.expires,
        "source": suppression.source,
    }


def result_object(result: Result, rule_index: int, uri: str) -> dict[str, Any]:
    sarif: dict[str, Any] = {
        "ruleId": result.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[result.severity],
        "kind": "fail",
        "message": {"text": _message(result)},
        "locations": [_location(result, uri)],
        "partialFingerprints": {
            "primaryLocationLineHash": fingerprint(result.rule_id, result.account_id, result.resource_arn)
        },
        "properties": {
            f"{PROPERTY}status": result.status.value,
            f"{PROPERTY}severity": result.severity.label,
            f"{PROPERTY}account": {"id": result.account_id, "name": result.account_name},
            f"{PROPERTY}resource": {
                "type": result.resource_type,
                "arn": result.resource_arn,
                "name": result.resource_name,
            },
            f"{PROPERTY}evidence": [asdict(e) for e in result.evidence],
        },
    }
    if result.baseline is not None:
        sarif["baselineState"] = result.baseline
        sarif["properties"][f"{PROPERTY}firstSeen"] = result.first_seen
    if result.expired_suppression is not None:
        sarif["properties"][f"{PROPERTY}expiredSuppression"] = suppression_properties(result.expired_suppression)
    if result.suppression is not None:
        suppression = result.suppression
        properties = {"owner": suppression.owner, "expires": suppression.expires}
        if suppression.source:
            properties["source"] = suppression.source
        sarif["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": suppression.reason,
                "properties": properties,
            }
        ]
    return sarif


def _suppression_key(suppression: Suppression) -> tuple[str, ...]:
    return (suppression.source, suppression.rule_id, suppression.account_id or "", suppression.resource or "",
            suppression.expires, suppression.owner, suppression.reason)


def audit_notifications(scan: ScanResult, rule_index: dict[str, int]) -> list[dict[str, Any]]:
    """Expired suppressions (one per entry), unused suppressions and drift: warning-level configuration
    notifications, each with its details in properties."""
    notes: list[dict[str, Any]] = []
    expired: dict[Suppression, list[Result]] = {}
    for result in sorted(scan.results, key=order_key):
        if result.expired_suppression is not None:
            expired.setdefault(result.expired_suppression, []).append(result)
    for suppression in sorted(expired, key=_suppression_key):
        failing = expired[suppression]
        note: dict[str, Any] = {
            "level": "warning",
            "message": {"text": plain(
                f"{wording.expired_entry(suppression, len(failing))} ({wording.details(suppression)})."
            )},
            "descriptor": {"id": f"{PROPERTY}expired-suppression"},
            "properties": {
                f"{PROPERTY}suppression": suppression_properties(suppression),
                f"{PROPERTY}results": [
                    {"ruleId": r.rule_id, "account": r.account_id, "resource": r.resource_arn} for r in failing
                ],
            },
        }
        if suppression.rule_id in rule_index:
            note["associatedRule"] = {"id": suppression.rule_id, "index": rule_index[suppression.rule_id]}
        notes.append(note)
    for suppression in sorted(scan.unused_suppressions, key=_suppression_key):
        notes.append({
            "level": "warning",
            "message": {"text": plain(
                f"{wording.unused(suppression)} ({wording.details(suppression)}): remove it or correct its pattern."
            )},
            "descriptor": {"id": f"{PROPERTY}unused-suppression"},
            "properties": {f"{PROPERTY}suppression": suppression_properties(suppression)},
        })
    for drift in sorted(scan.drift, key=_drift_key):
        notes.append({
            "level": "warning",
            "message": {"text": plain(f"drift ({drift.kind}) in account {drift.account_id or 'unknown'}: "
                                      f"{drift.message} (baseline run {scan.baseline_run_id or 'unknown'})")},
            "descriptor": {"id": f"{PROPERTY}drift"},
            "properties": {f"{PROPERTY}drift": drift_properties(drift)},
        })
    return notes


def _drift_key(drift: Drift) -> tuple[str, ...]:
    return (drift.kind, drift.account_id, drift.resource_arn, drift.message)


def drift_properties(drift: Drift) -> dict[str, Any]:
    return {"kind": drift.kind, "account": drift.account_id, "resource": drift.resource_arn,
            "message": drift.message, "before": drift.before, "after": drift.after}


def _resolved_key(resolved: ResolvedFinding) -> tuple[Any, ...]:
    key = resolved.key
    return (-resolved.severity, key.rule_id, key.account_id, key.resource_arn, resolved.resource_name,
            resolved.message)


def resolved_properties(resolved: ResolvedFinding) -> dict[str, Any]:
    key = resolved.key
    return {
        "ruleId": key.rule_id,
        "account": key.account_id,
        "resource": {"arn": key.resource_arn, "name": resolved.resource_name},
        "severity": resolved.severity.label,
        "message": resolved.message,
        "firstSeen": resolved.first_seen,
        "primaryLocationLineHash": fingerprint(key.rule_id, key.account_id, key.resource_arn),
    }


def _error_key(error: CollectionError) -> tuple[str, ...]:
    return (error.account_id or "", error.api, error.code, error.resource or "", error.message)


def _cause_properties(error: CollectionError) -> dict[str, Any]:
    return {"account": error.account_id, "api": error.api, "code": error.code, "message": error.message,
            "resource": error.resource}


def error_notifications(scan: ScanResult, rule_index: dict[str, int]) -> list[dict[str, Any]]:
    """Every `error` result, then every collection error, as a tool execution notification."""
    notes: list[dict[str, Any]] = []
    for result in sorted((r for r in scan.results if r.status is Status.ERROR), key=order_key):
        if result.causes:
            why = "; ".join(
                f"account {c.account_id or result.account_id}: {c.describe()}"
                for c in sorted(result.causes, key=_error_key)
            )
        else:
            why = f"account {result.account_id}: {result.message}"
        notes.append({
            "level": "error",
            "message": {"text": plain(f"{result.rule_id} could not be evaluated on {result.resource_arn}: {why}")},
            "descriptor": {"id": result.rule_id},
            "associatedRule": {"id": result.rule_id, "index": rule_index[result.rule_id]},
            "properties": {
                f"{PROPERTY}account": result.account_id,
                f"{PROPERTY}resource": result.resource_arn,
                f"{PROPERTY}causes": [_cause_properties(c) for c in sorted(result.causes, key=_error_key)],
            },
        })
    for error in sorted(scan.errors, key=_error_key):
        where = f"account {error.account_id}" if error.account_id else "organization"
        notes.append({
            "level": "error",
            "message": {"text": plain(f"could not read ({where}): {error.describe()}")},
            "descriptor": {"id": f"{PROPERTY}collection-error"},
            "properties": {f"{PROPERTY}causes": [_cause_properties(error)]},
        })
    return notes


def _timestamp(text: str) -> str | None:
    """The run's own time, if it is a valid date-time (the schema checks the format)."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return text if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text) else None


# Run GUIDs are derived from run ids, so that a run's `baselineGuid` is the `automationDetails.guid` its
# baseline run's own results.sarif has.
_RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/artifact-scan/run")


def run_guid(run_id: str) -> str:
    return str(uuid.uuid5(_RUN_NAMESPACE, run_id))


def automation_id(scan: ScanResult) -> str:
    """`artifact-scan/<organization>/`: one GitHub category per organization (and per shard)."""
    organization = quote(scan.info.organization_id or "unknown-organization", safe="-._~")
    category = f"{TOOL_NAME}/{organization}"
    if scan.info.shard:
        category += "/shard-" + quote(scan.info.shard.replace("/", "-of-"), safe="-._~")
    return category + "/"


@dataclass(frozen=True, slots=True)
class _Parts:
    """What every candidate document shares; `document()` picks how many results and notes to keep."""

    scan: ScanResult
    rules: list[dict[str, Any]]
    results: list[dict[str, Any]]  # sorted, most severe first
    notes: list[dict[str, Any]]
    tag_notes: list[dict[str, Any]]
    dropped_tags: int
    successful: bool
    audit_notes: list[dict[str, Any]]
    resolved: list[dict[str, Any]]  # most severe first

    def document(self, kept_results: int, kept_notes: int, kept_resolved: int | None = None) -> dict[str, Any]:
        scan, info = self.scan, self.scan.info
        dropped = len(self.results) - kept_results
        dropped_notes = len(self.notes) - kept_notes
        kept_resolved = min(len(self.resolved), MAX_RESOLVED) if kept_resolved is None else kept_resolved
        dropped_resolved = len(self.resolved) - kept_resolved
        configuration = [*self.tag_notes, *self.audit_notes]
        if dropped:
            configuration.append({
                "level": "warning",
                "message": {"text": (
                    f"{dropped} of {len(self.results)} results were left out to stay within GitHub code scanning's "
                    f"limits ({MAX_RESULTS} results per run, {MAX_GZIP_BYTES} bytes compressed); the "
                    f"{kept_results} most severe were kept. Every result is in results.json."
                )},
                "descriptor": {"id": f"{PROPERTY}truncated"},
            })
        if dropped_notes:
            configuration.append({
                "level": "warning",
                "message": {"text": (
                    f"{dropped_notes} of {len(self.notes)} error notifications were left out to stay within "
                    f"{MAX_GZIP_BYTES} bytes compressed. Every error is in results.json."
                )},
                "descriptor": {"id": f"{PROPERTY}truncated-notifications"},
            })
        if dropped_resolved:
            configuration.append({
                "level": "warning",
                "message": {"text": (
                    f"{dropped_resolved} of {len(self.resolved)} resolved findings were left out of the run "
                    f"properties (at most {MAX_RESOLVED}, {MAX_GZIP_BYTES} bytes compressed); the "
                    f"{kept_resolved} most severe were kept. Every one is in results.json."
                )},
                "descriptor": {"id": f"{PROPERTY}truncated-resolved"},
            })
        invocation: dict[str, Any] = {"executionSuccessful": self.successful}
        for key, value in (("startTimeUtc", info.started_at), ("endTimeUtc", info.finished_at)):
            stamp = _timestamp(value)
            if stamp:
                invocation[key] = stamp
        if self.notes[:kept_notes]:
            invocation["toolExecutionNotifications"] = self.notes[:kept_notes]
        if configuration:
            invocation["toolConfigurationNotifications"] = configuration
        driver: dict[str, Any] = {
            "name": TOOL_NAME,
            "version": info.tool_version,
            "informationUri": INFORMATION_URI,
            "rules": self.rules,
            "notifications": [
                {"id": key, "shortDescription": {"text": text}} for key, text in sorted(NOTIFICATIONS.items())
            ],
        }
        if _SEMVER.fullmatch(info.tool_version):
            driver["semanticVersion"] = info.tool_version
        run = {
            "tool": {"driver": driver},
            "automationDetails": {
                "id": automation_id(scan),
                "guid": run_guid(info.run_id),
                "description": {"text": f"artifact-scan of organization {info.organization_id or 'unknown'}"},
            },
            "invocations": [invocation],
            "results": self.results[:kept_results],
            "properties": {
                f"{PROPERTY}runId": info.run_id,
                f"{PROPERTY}organizationId": info.organization_id,
                f"{PROPERTY}managementAccountId": info.management_account_id,
                f"{PROPERTY}caller": info.caller_arn,
                f"{PROPERTY}rulesSha256": info.rules_sha256,
                f"{PROPERTY}configSha256": info.config_sha256,
                f"{PROPERTY}rulePacks": [{"id": pack, "version": version} for pack, version in info.rule_packs],
                f"{PROPERTY}complete": info.complete,
                f"{PROPERTY}shard": info.shard,
                f"{PROPERTY}summary": summary(scan),
                f"{PROPERTY}truncated": dropped,
                f"{PROPERTY}truncatedNotifications": dropped_notes,
                f"{PROPERTY}truncatedTags": self.dropped_tags,
                f"{PROPERTY}evaluatedAt": info.evaluated_at,
                f"{PROPERTY}baselineRunId": scan.baseline_run_id,
                f"{PROPERTY}resolved": self.resolved[:kept_resolved],
                f"{PROPERTY}truncatedResolved": dropped_resolved,
                f"{PROPERTY}drift": [drift_properties(d) for d in sorted(scan.drift, key=_drift_key)],
                f"{PROPERTY}unusedSuppressions": [
                    suppression_properties(s) for s in sorted(scan.unused_suppressions, key=_suppression_key)
                ],
            },
        }
        if scan.baseline_run_id is not None:
            run["baselineGuid"] = run_guid(scan.baseline_run_id)
        return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _parts(scan: ScanResult) -> _Parts:
    rules = {rule.id: rule for rule in scan.rules}
    for result in scan.results:
        if result.rule_id not in rules:
            rules[result.rule_id] = _stub_rule(result.rule_id, result.severity)
    ordered = sorted(rules.values(), key=lambda r: r.id)
    index = {rule.id: i for i, rule in enumerate(ordered)}
    descriptors, tag_notes, dropped_tags = [], [], 0
    for i, rule in enumerate(ordered):
        descriptor, dropped = rule_descriptor(rule)
        descriptors.append(descriptor)
        if dropped:
            dropped_tags += dropped
            tag_notes.append({
                "level": "note",
                "message": {"text": f"rule {rule.id}: {dropped} tags left out (GitHub reads at most {MAX_TAGS})"},
                "descriptor": {"id": f"{PROPERTY}truncated-tags"},
                "associatedRule": {"id": rule.id, "index": i},
            })
    findings = sorted((r for r in scan.results if r.status in FINDINGS), key=order_key)
    results = [result_object(r, index[r.rule_id], artifact_uri(rules[r.rule_id])) for r in findings]
    successful = scan.info.complete and not scan.errors and not any(r.status is Status.ERROR for r in scan.results)
    resolved = [resolved_properties(r) for r in sorted(scan.resolved, key=_resolved_key)]
    return _Parts(scan, descriptors, results, error_notifications(scan, index), tag_notes, dropped_tags, successful,
                  audit_notifications(scan, index), resolved)


def dumps(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True, default=str) + "\n").encode("ascii")


def _compressed_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def _largest_fitting(count: int, fits: Any) -> int:
    """The largest k in [0, count] with fits(k), given that fits is monotone (true up to some k)."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def to_sarif(scan: ScanResult) -> bytes:
    """Past the size limit, results go first (least severe first), then error notifications, then the
    list of resolved findings in the run properties."""
    parts = _parts(scan)
    notes = len(parts.notes)
    resolved = min(len(parts.resolved), MAX_RESOLVED)
    kept = min(len(parts.results), MAX_RESULTS)
    data = dumps(parts.document(kept, notes, resolved))
    if _compressed_size(data) <= MAX_GZIP_BYTES:
        return data

    def fits(results: int, notes: int, resolved: int) -> bool:
        return _compressed_size(dumps(parts.document(results, notes, resolved))) <= MAX_GZIP_BYTES

    kept = _largest_fitting(kept, lambda k: fits(k, notes, resolved))
    if kept == 0 and not fits(0, notes, resolved):
        notes = _largest_fitting(notes, lambda n: fits(0, n, resolved))
        if notes == 0 and not fits(0, 0, resolved):
            resolved = _largest_fitting(resolved, lambda n: fits(0, 0, n))
    return dumps(parts.document(kept, notes, resolved))


def left_out_by_the_result_limit(scan: ScanResult) -> int:
    """How many findings GitHub's per-run result limit keeps out of results.sarif (the least severe), for the
    command to say so; the file says so too. The size limit, rarely reached, is reported only in the file."""
    return max(0, sum(1 for r in scan.results if r.status in FINDINGS) - MAX_RESULTS)


@writer("sarif", "results.sarif")
def render(scan: ScanResult) -> bytes:
    return to_sarif(scan)

