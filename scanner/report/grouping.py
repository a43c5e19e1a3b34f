"""What every human-facing writer says the same way: how many findings there are, and one line for the
rules an unreadable account (or API) kept from being evaluated rather than one line per rule.

A finding is a fail, an error or a suppressed failure; a skipped result is "not applicable", not a
finding. Error results that share their account and their causes (the same failed reads) form one group;
an error with a cause of its own stays a result of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.model import CollectionError, Result, Rule, Severity, Status

FINDING_STATUSES = (Status.FAIL, Status.ERROR, Status.SUPPRESSED)


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Error results of one account with the same causes: one line in a report."""

    account_id: str
    account_name: str
    causes: tuple[CollectionError, ...]
    results: tuple[Result, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule_id for r in self.results}))

    @property
    def severity(self) -> Severity:
        return max(Severity(r.severity) for r in self.results)

    @property
    def short_reason(self) -> str:
        """ "sts:AssumeRole AccessDenied": the API and the code, what a reader acts on."""
        return "; ".join(dict.fromkeys(f"{c.api} {c.code}" for c in self.causes))

    @property
    def sentence(self) -> str:
        count = len(self.rule_ids)
        return f"{count} rule{'s' if count != 1 else ''} could not be evaluated: {self.short_reason}"

    @property
    def detail(self) -> str:
        return f"rules {', '.join(self.rule_ids)}; " + "; ".join(c.describe() for c in self.causes)


def group_errors(results: Sequence[Result]) -> tuple[list[Result], list[ErrorGroup]]:
    """(the results left as they are, the error groups of two results or more), both in the input's order."""
    by_key: dict[tuple[str, tuple[CollectionError, ...]], list[Result]] = {}
    for result in results:
        if result.status is Status.ERROR and result.causes:
            by_key.setdefault((result.account_id, result.causes), []).append(result)
    grouped = {key: members for key, members in by_key.items() if len({r.rule_id for r in members}) > 1}
    in_group = {id(r) for members in grouped.values() for r in members}
    groups = [ErrorGroup(account, members[0].account_name, causes, tuple(members))
              for (account, causes), members in grouped.items()]
    return [r for r in results if id(r) not in in_group], groups


def findings_line(by_status: Mapping[str, int]) -> str:
    """ "Findings: 4 (2 fail, 1 error, 1 suppressed) · 2 pass · 1 not applicable (skipped)" """
    findings = sum(by_status[s.value] for s in FINDING_STATUSES)
    parts = ", ".join(f"{by_status[s.value]} {s.value}" for s in FINDING_STATUSES)
    return (f"Findings: {findings} ({parts}) · {by_status[Status.PASS.value]} pass · "
            f"{by_status[Status.SKIPPED.value]} not applicable (skipped)")


@dataclass(frozen=True, slots=True)
class ControlRow:
    """One framework control with the rules mapped to it and their results' counts by status."""

    framework: str
    control: str
    rule_ids: tuple[str, ...]
    counts: Mapping[str, int]

    @property
    def verdict(self) -> str:
        """Worst first: a control with a failure or an unevaluated rule is not shown as met."""
        for status in (Status.FAIL, Status.ERROR, Status.SUPPRESSED, Status.PASS):
            if self.counts.get(status.value):
                return {"fail": "failing", "error": "not evaluated", "suppressed": "accepted risk",
                        "pass": "met"}[status.value]
        return "not applicable" if self.counts.get(Status.SKIPPED.value) else "no result"


def _control_key(control: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", control))


def compliance_view(rules: Sequence[Rule], results: Sequence[Result],
                    framework: str | None = None) -> list[ControlRow]:
    """Results grouped by framework control, from each rule's `compliance` mapping."""
    by_rule: dict[str, dict[str, int]] = {}
    for result in results:
        counts = by_rule.setdefault(result.rule_id, {s.value: 0 for s in Status})
        counts[result.status.value] += 1
    controls: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        for name, ids in rule.compliance.items():
            if framework is None or name.lower() == framework.lower():
                for control in ids:
                    controls.setdefault((name, control), []).append(rule.id)
    rows = []
    for (name, control), rule_ids in sorted(controls.items(), key=lambda i: (i[0][0], _control_key(i[0][1]))):
        counts = {s.value: sum(by_rule.get(r, {}).get(s.value, 0) for r in rule_ids) for s in Status}
        rows.append(ControlRow(name, control, tuple(sorted(rule_ids)), counts))
    return rows
