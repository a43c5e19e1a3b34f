"""results.oscal.json: the run as an OSCAL 1.2.3 assessment-results document.

One `result` for the run (start and end are the run's), holding:

- the assessment subjects as inventory items of its local definitions: every account of the run, and
  every other resource a rule was evaluated on (IAM roles, the organization), each with its ARN;
- the tool as a component, the actor of every observation and finding (`origins`);
- one observation per evaluated resource (method TEST), naming the resource as its subject and listing
  what each rule concluded there (pass, fail, error, suppressed, skipped) in its description and props;
- one finding per failing result: the rule as the objective (`target`, not-satisfied), the severity, and
  the observation it came from (`related-observations`).

Evidence: the back matter names the run's evidence bundle (`evidence-<run id>.tar`, written beside the run
folder by `--evidence`), the rule packs and the configuration, with the SHA-256 the run recorded for the
last two. Every observation points at the bundle as its relevant evidence. The bundle's own SHA-256 cannot
be in this document, which is one of the files the bundle holds; the bundle's manifest records this
document's SHA-256 instead, so each is bound to the other.

Identifiers are uuid5 of the run id and stable inputs (account id, ARN, rule id), so two exports of one
run are byte for byte identical and a resource keeps its subject UUID within a run. Text from AWS is made
valid for OSCAL's string types (no control characters, no leading or trailing whitespace; single-line
fields on one line): scanner.report.textsafe. Pure: no clock, no randomness; keys sorted.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from scanner.model import Result, ScanResult, Status
from scanner.report import jsontext, wording, writer
from scanner.report.sarif import TOOL_NAME, order_key
from scanner.report.textsafe import block, line, scrub

OSCAL_VERSION = "1.2.3"
NS = "urn:artifact-scan"  # the namespace of this tool's props (OSCAL's own names are constrained)
EPOCH = "1970-01-01T00:00:00Z"

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/artifact-scan/oscal")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_NOT_TOKEN = re.compile(r"[^\w.\-]")

_STATE = {Status.FAIL: "not-satisfied", Status.PASS: "satisfied"}


def stable_uuid(run_id: str, kind: str, *parts: str) -> str:
    """uuid5 of the parts; computed here because uuid.uuid5 cannot encode a lone surrogate (hostile text)."""
    name = "\0".join((run_id, kind, *parts)).encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def token(text: str) -> str:
    """An OSCAL token (an XML NCName): letters, digits, `.`, `-` and `_`, starting with a letter or `_`."""
    cleaned = _NOT_TOKEN.sub("_", text) or "_"
    return cleaned if cleaned[0].isalpha() or cleaned[0] == "_" else "_" + cleaned


def timestamp(text: str | None, fallback: str = EPOCH) -> str:
    if text and _DATETIME.fullmatch(text):
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return text
        except ValueError:
            pass
    return fallback


def prop(name: str, value: str, **extra: str) -> dict[str, str]:
    return {"name": token(name), "value": line(value, 4096), "ns": NS, **extra}


def _subject_kind(result: Result) -> str:
    return "aws-account" if result.resource_type == "aws.account" else line(result.resource_type, 256)


class _Document:
    def __init__(self, scan: ScanResult) -> None:
        self.scan = scan
        self.info = scan.info
        self.run_id = scan.info.run_id
        self.rules = {rule.id: rule for rule in scan.rules}
        self.start = timestamp(self.info.started_at)
        self.end = timestamp(self.info.finished_at, self.start)
        self.collected = timestamp(self.info.evaluated_at, self.end)
        self.tool = self.uuid("component", TOOL_NAME)
        self.bundle = self.uuid("resource", "evidence-bundle")
        self.rules_resource = self.uuid("resource", "rules")
        self.config_resource = self.uuid("resource", "configuration")

    def uuid(self, kind: str, *parts: str) -> str:
        return stable_uuid(self.run_id, kind, *parts)

    def account_item(self, account_id: str, name: str, state: str, management: bool, scanned: bool,
                     skip_reason: str | None) -> dict[str, Any]:
        role = "management account" if management else "member account"
        description = f"AWS account {account_id} ({name or 'no name'}), {role}, state {state or 'unknown'}"
        if not scanned:
            description += f"; not scanned: {skip_reason or 'out of scope'}"
        props = [prop("asset-kind", "aws-account"), prop("account-id", account_id),
                 prop("scanned", "true" if scanned else "false")]
        if name:
            props.append(prop("account-name", name))
        return {"uuid": self.uuid("subject", "account", account_id), "description": block(description),
                "props": props}

    def resource_item(self, result: Result) -> dict[str, Any]:
        description = f"{result.resource_type} {result.resource_name or result.resource_arn} in account " \
                      f"{result.account_id}: {result.resource_arn}"
        props = [prop("asset-kind", _subject_kind(result)), prop("arn", result.resource_arn),
                 prop("account-id", result.account_id)]
        if result.resource_name:
            props.append(prop("resource-name", result.resource_name))
        return {"uuid": self.uuid("subject", "resource", result.account_id, result.resource_arn),
                "description": block(description), "props": props}

    def subject_uuid(self, result: Result) -> str:
        if result.resource_type == "aws.account":
            return self.uuid("subject", "account", result.account_id)
        return self.uuid("subject", "resource", result.account_id, result.resource_arn)

    def origins(self) -> list[dict[str, Any]]:
        return [{"actors": [{"type": "tool", "actor-uuid": self.tool}]}]

    def observation(self, key: tuple[str, str], results: list[Result]) -> dict[str, Any]:
        account_id, arn = key
        first = results[0]
        lines = [f"{TOOL_NAME} evaluated {len(results)} rule(s) on {first.resource_arn}:"]
        props = [prop("account-id", account_id), prop("arn", arn)]
        for r in results:
            lines.append(f"- {r.rule_id} ({r.severity.label}): {r.status.value}: {r.message}")
            if r.suppression is not None:
                lines.append(f"  {wording.accepted(r.suppression)}")
            if r.expired_suppression is not None:
                lines.append(f"  {wording.expired(r.expired_suppression)}")
            props.append(prop("result", f"{r.rule_id} {r.status.value}", **{"class": token(r.status.value)}))
        return {
            "uuid": self.uuid("observation", account_id, arn),
            "title": line(f"{first.resource_name or arn} in account {account_id}", 1024),
            "description": block("\n".join(lines)),
            "methods": ["TEST"],
            "types": ["finding" if any(r.status is Status.FAIL for r in results) else "control-objective"],
            "origins": self.origins(),
            "subjects": [{"subject-uuid": self.subject_uuid(first), "type": "inventory-item",
                          "title": line(first.resource_name or arn, 1024)}],
            "relevant-evidence": [{
                "href": f"#{self.bundle}",
                "description": block(f"The evidence bundle of run {self.run_id}: the snapshot of what was read, "
                                     "the rules and settings as used, and every report."),
            }],
            "props": props,
            "collected": self.collected,
        }

    def finding(self, result: Result) -> dict[str, Any]:
        rule = self.rules.get(result.rule_id)
        title = f"{result.rule_id}: {rule.title}" if rule is not None else result.rule_id
        props = [prop("severity", result.severity.label), prop("rule-id", result.rule_id),
                 prop("account-id", result.account_id), prop("arn", result.resource_arn)]
        if result.baseline is not None:
            props.append(prop("baseline", result.baseline))
        finding: dict[str, Any] = {
            "uuid": self.uuid("finding", result.rule_id, result.account_id, result.resource_arn),
            "title": line(title, 1024),
            "description": block(f"{result.message}\n\nResource: {result.resource_arn} (account "
                                 f"{result.account_id})."),
            "props": props,
            "origins": self.origins(),
            "target": {
                "type": "objective-id",
                "target-id": token(result.rule_id),
                "title": line(title, 1024),
                "status": {"state": "not-satisfied", "reason": "fail"},
            },
            "related-observations": [{"observation-uuid": self.uuid("observation", result.account_id,
                                                                    result.resource_arn)}],
        }
        if rule is not None:
            finding["remarks"] = block(f"Remediation: {rule.remediation.text}\n\n{rule.remediation.command}")
        return finding

    def back_matter(self) -> dict[str, Any]:
        info = self.info
        resources: list[dict[str, Any]] = [
            {
                "uuid": self.bundle,
                "title": line(f"Evidence bundle of run {self.run_id}"),
                "description": block(
                    "The canonical tar `artifact-scan scan --evidence` writes beside the run folder. Its "
                    "manifest.json holds the SHA-256 of every file of the run, this document included; verify "
                    f"it with `artifact-scan evidence verify evidence-{self.run_id}.tar`."),
                "rlinks": [{"href": f"../evidence-{quote(self.run_id, safe='-._~')}.tar",
                            "media-type": "application/x-tar"}],
            },
        ]
        # The run records one SHA-256 over all rule files and one of the configuration file, not of a file in
        # the run folder, so they are props of the resource rather than hashes of its link.
        for uuid_, title, href, digest, of in (
            (self.rules_resource, "Rule packs evaluated", "rules/", info.rules_sha256,
             "SHA-256 over the bytes of every rule file loaded (the run's rules_sha256)"),
            (self.config_resource, "Configuration as used", "settings.json", info.config_sha256,
             "SHA-256 of the configuration file (the run's config_sha256); settings.json is its effective content"),
        ):
            resource: dict[str, Any] = {"uuid": uuid_, "title": line(title), "rlinks": [{"href": href}]}
            if digest:
                resource["props"] = [prop("sha256", digest, remarks=of)]
            resources.append(resource)
        return {"resources": resources}

    def build(self) -> dict[str, Any]:
        scan, info = self.scan, self.info
        accounts = sorted(scan.accounts, key=lambda a: a.id)
        items = [self.account_item(a.id, a.name, a.state, a.is_management, a.scanned, a.skip_reason)
                 for a in accounts]
        known = {a.id for a in accounts}
        grouped: dict[tuple[str, str], list[Result]] = defaultdict(list)
        for result in sorted(scan.results, key=order_key):
            grouped[(result.account_id, result.resource_arn)].append(result)
        seen_items: set[str] = {item["uuid"] for item in items}
        for (account_id, _), results in sorted(grouped.items()):
            first = results[0]
            if first.resource_type == "aws.account" and account_id in known:
                continue
            item = (self.account_item(account_id, first.account_name, "", False, True, None)
                    if first.resource_type == "aws.account" else self.resource_item(first))
            if item["uuid"] not in seen_items:
                seen_items.add(item["uuid"])
                items.append(item)
        observations = [self.observation(key, results) for key, results in sorted(grouped.items())]
        findings = [self.finding(r) for r in sorted(scan.results, key=order_key) if r.status is Status.FAIL]
        counts = scan.counts()
        summary = ", ".join(f"{count} {status.value}" for status, count in counts.items())
        organization = info.organization_id or "unknown organization"
        state = "complete" if info.complete else (
            "INCOMPLETE: some account or API could not be read, and the results that need what was not read "
            "are errors, never passes")
        run_result: dict[str, Any] = {
            "uuid": self.uuid("result"),
            "title": line(f"{TOOL_NAME} run {self.run_id} of {organization}"),
            "description": block(
                f"Every rule of the loaded packs evaluated on every account of {organization} that the run could "
                f"read ({summary}). The run is {state}."),
            "start": self.start,
            "end": self.end,
            "props": [prop(name, value) for name, value in (
                ("run-id", self.run_id), ("organization-id", info.organization_id or ""),
                ("management-account-id", info.management_account_id or ""), ("caller", info.caller_arn or ""),
                ("complete", "true" if info.complete else "false"), ("shard", info.shard or ""),
                ("rules-sha256", info.rules_sha256), ("config-sha256", info.config_sha256),
                ("baseline-run-id", scan.baseline_run_id or ""),
            ) if value],
            "local-definitions": {
                "components": [{
                    "uuid": self.tool,
                    "type": "software",
                    "title": line(f"{TOOL_NAME} {info.tool_version}"),
                    "description": block(f"{TOOL_NAME}, the policy-as-code scanner that ran the assessment."),
                    "props": [prop("version", info.tool_version)],
                    "status": {"state": "operational"},
                }],
                "inventory-items": items,
            },
            "reviewed-controls": {
                "description": block("The rules of the loaded packs: "
                                     + ", ".join(f"{pack} {version}" for pack, version in info.rule_packs)),
                "control-selections": [{"include-all": {}}],
            },
        }
        if observations:
            run_result["observations"] = observations
        if findings:
            run_result["findings"] = findings
        return {
            "assessment-results": {
                "uuid": self.uuid("assessment-results"),
                "metadata": {
                    "title": line(f"{TOOL_NAME} assessment results: {organization}, run {self.run_id}"),
                    "last-modified": self.end,
                    "version": line(self.run_id),
                    "oscal-version": OSCAL_VERSION,
                    "props": [prop("tool-version", info.tool_version)],
                },
                "import-ap": {
                    "href": f"#{self.rules_resource}",
                    "remarks": block("No separate assessment plan: the plan is the rule packs the run evaluated "
                                     "(see the back matter)."),
                },
                "results": [run_result],
                "back-matter": self.back_matter(),
            }
        }


def to_document(scan: ScanResult) -> dict[str, Any]:
    document: dict[str, Any] = scrub(_Document(scan).build())
    return document


@writer("oscal", "results.oscal.json")
def render(scan: ScanResult) -> bytes:
    # Every string of the document already went through line(), block(), token() or timestamp(), so the
    # scrub of the whole document changes nothing unless a lone surrogate slipped through some other field.
    # With ensure_ascii any surrogate is written as `\udXXX`: without that text (also absent for astral
    # characters, written as surrogate pairs) the unscrubbed document gives the scrubbed one's bytes, and
    # otherwise the scrubbed document is written, as before.
    text = jsontext.dumps(_Document(scan).build())
    if "\\ud" in text:
        text = jsontext.dumps(to_document(scan))
    return (text + "\n").encode("ascii")
