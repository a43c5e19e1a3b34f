"""results.json: the machine-readable results, validated by `schemas/results.schema.json`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from scanner.model import Result, Rule, ScanResult, Severity, Status
from scanner.report import writer

RESULTS_SCHEMA_VERSION = 1


def summary(scan: ScanResult) -> dict[str, Any]:
    """Counts by status, by severity and status, and of accounts; shared by every writer."""
    by_severity = {sev.label: {status.value: 0 for status in Status} for sev in sorted(Severity, reverse=True)}
    for result in scan.results:
        by_severity[result.severity.label][result.status.value] += 1
    return {
        "complete": scan.info.complete,
        "by_status": {status.value: count for status, count in scan.counts().items()},
        "by_severity": by_severity,
        "accounts": {
            "total": len(scan.accounts),
            "scanned": sum(1 for a in scan.accounts if a.scanned),
            "skipped": sum(1 for a in scan.accounts if not a.scanned),
            "with_errors": sum(1 for a in scan.accounts if a.error_count),
        },
        "collection_errors": len(scan.errors),
        "new_findings": sum(1 for r in scan.results if r.baseline == "new"),
        "resolved_findings": len(scan.resolved),
        "expired_suppressions": sum(1 for r in scan.results if r.expired_suppression is not None),
        "unused_suppressions": len(scan.unused_suppressions),
    }


def rule_document(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "severity": rule.severity.label,
        "resource": rule.resource,
        "pack": rule.pack,
        "source": rule.source,
        "description": rule.description,
        "rationale": rule.rationale,
        "remediation": {"text": rule.remediation.text, "command": rule.remediation.command},
        "references": [{"title": r.title, "url": r.url} for r in rule.references],
        "compliance": {framework: list(ids) for framework, ids in rule.compliance.items()},
        "tags": list(rule.tags),
    }


def result_document(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = {
        "rule_id": result.rule_id,
        "status": result.status.value,
        "severity": result.severity.label,
        "account_id": result.account_id,
        "account_name": result.account_name,
        "resource_type": result.resource_type,
        "resource_arn": result.resource_arn,
        "resource_name": result.resource_name,
        "message": result.message,
        "evidence": [asdict(e) for e in result.evidence],
        "causes": [asdict(e) for e in result.causes],
        "suppression": asdict(result.suppression) if result.suppression else None,
        "expired_suppression": asdict(result.expired_suppression) if result.expired_suppression else None,
        "baseline": result.baseline,
        "first_seen": result.first_seen,
    }
    if result.document is not None and result.status is not Status.PASS:
        document["document"] = result.document
    return document


def to_document(scan: ScanResult) -> dict[str, Any]:
    info = asdict(scan.info)
    info["rule_packs"] = [{"id": pack, "version": version} for pack, version in scan.info.rule_packs]
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "run": info,
        "summary": summary(scan),
        "rules": [rule_document(rule) for rule in scan.rules],
        "accounts": [asdict(account) for account in scan.accounts],
        "results": [result_document(result) for result in scan.results],
        "errors": [asdict(error) for error in scan.errors],
        "unused_suppressions": [asdict(s) for s in scan.unused_suppressions],
        "baseline": None if scan.baseline_run_id is None else {
            "run_id": scan.baseline_run_id,
            "resolved": [{**asdict(r), "severity": r.severity.label} for r in scan.resolved],
            "drift": [asdict(d) for d in scan.drift],
        },
        "markers": scan.markers.to_json(),
    }


@writer("json", "results.json")
def render(scan: ScanResult) -> bytes:
    text = json.dumps(to_document(scan), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    # A lone surrogate (JSON from AWS may carry "\ud800") cannot be UTF-8: written back as the same JSON escape.
    return (text + "\n").encode("utf-8", "backslashreplace")
