"""report.html: one self-contained page for people, and for the PDF an auditor prints as evidence.

The layout is in templates/report.html.j2, the behaviour in templates/report.js and the looks in
templates/report.css; this module only shapes the data. The header, the summary, skipped accounts and
collection errors are plain HTML (they read without script and print). The matrix and the findings
travel as one compact JSON block that the page renders a page at a time: one short string of status
codes per account and a document only for results that are not `pass`, so 10,000 accounts stay a
few MB and the page is interactive at once.

With a baseline, each finding carries a "new" or "unchanged" badge and its first_seen (the findings
list filters on it), and a "Since the baseline" section lists the resolved findings and the drift
(with before and after); without one, that section says no comparison was made. A fail whose
suppression expired shows which entry expired and when, and a "Suppressions" section lists expired and
unused entries. Both sections are plain HTML, so they read without script and print.

Everything that came from AWS is attacker-controlled: Jinja escapes it in HTML, `script_json` escapes
it inside the data block, and the script only ever writes it with textContent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import jinja2
from markupsafe import Markup, escape

from scanner import integrations
from scanner.model import Drift, ResolvedFinding, Result, ScanResult, Severity, Status, Suppression
from scanner.report import grouping, wording, writer
from scanner.report.json_report import result_document, rule_document, summary

# Worst first: the order of the findings list and of a matrix cell's status when several results
# share an (account, rule) pair.
STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.SUPPRESSED, Status.SKIPPED, Status.PASS)
# One character per matrix cell. Pass outranks skipped in a cell: a rule that passed on one role and
# did not apply to another has been checked, which is the more useful thing to show.
CELL_CODES = {
    Status.FAIL: "F",
    Status.ERROR: "E",
    Status.SUPPRESSED: "S",
    Status.PASS: "P",
    Status.SKIPPED: "K",
}
_CELL_RANK = {".": 0, "K": 1, "P": 2, "S": 3, "E": 4, "F": 5}
NO_RESULT = "."

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("scanner.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["num"] = "{:,}".format  # 10,000 reads better than 10000 in a summary
_RULE_ID = re.compile(r"\b[A-Z][A-Z0-9]*-\d{3,}\b")


def _is_identifier(word: str) -> bool:
    """A word holding an ARN, an API name or a rule id (as report.js's prose() decides). Words are tested
    one by one, so hostile text without spaces costs linear time, never a regex's backtracking."""
    return any(mark in word[:-1] for mark in ":/") or _RULE_ID.search(word) is not None


def keep_whole(text: object) -> Markup:
    """Prose with each word that holds an identifier in a nowrap span, so a line never breaks inside it;
    every piece is escaped (the spans are the only markup)."""
    return Markup("").join(
        Markup('<span class="nb">{}</span>').format(part) if part and not part.isspace() and _is_identifier(part)
        else escape(part)
        for part in re.split(r"(\s+)", str(text)) if part
    )


_ENV.filters["keep_whole"] = keep_whole

# `<`, `>` and `&` could close the data block or open a comment inside it; U+2028/2029 are line
# terminators to older JavaScript parsers. JSON only has them inside strings, where \uXXXX means the same.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(value: Any) -> Markup:
    """`value` as JSON that is safe verbatim inside `<script type="application/json">`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    return Markup(text.translate(_SCRIPT_ESCAPES))


def csp_hash(text: str) -> str:
    """The CSP source expression that allows exactly this inline script or style, byte for byte."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _asset(name: str) -> str:
    """A script or stylesheet shipped beside the template, inlined so the page needs no network."""
    source, _, _ = _ENV.loader.get_source(_ENV, name)  # type: ignore[union-attr]
    # Either would end the inline element early (or keep it from ending); the tests check the files too.
    if "</" in source or "<!--" in source:
        raise ValueError(f"{name} must not contain '</' or '<!--'")
    return source


def _statement_principals(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) for each principal a statement names, kind lower-cased ("aws", "service", "*")."""
    principal = statement.get("Principal")
    if "NotPrincipal" in statement or not isinstance(principal, Mapping):
        return [("*", "*")]  # "*", NotPrincipal (everyone but...) or unreadable: grants anyone
    pairs: list[tuple[str, str]] = []
    for kind, values in principal.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(kind).lower(), str(value)))
    return pairs


def _grants(statement: Mapping[str, Any], principal: str) -> bool:
    """Whether `statement` grants `principal`, an evidence string such as "aws:999999999999".

    Evidence spells principals canonically (scanner.policy: "arn:aws:iam::999999999999:root" becomes
    "aws:999999999999", "CanonicalUser" becomes "canonical"), so within the same kind the value is
    matched case-insensitively as a part of the policy's own spelling.
    """
    kind, _, value = principal.lower().partition(":")
    kind = {"canonical": "canonicaluser"}.get(kind, kind)
    for their_kind, their_value in _statement_principals(statement):
        if their_value == "*":  # grants everyone, so also the unexpected principal
            return True
        if their_kind == kind and value and value in their_value.lower():
            return True
    return False


def offending_statements(result: Result) -> set[int]:
    """Indexes of the document's statements to highlight.

    The statements a witness names (the Allow that lets an outside request through); else the Allow
    statements that grant a principal the evidence found but did not expect; when none can
    be told apart (other kinds of evidence, or a spelling this cannot match), every statement, so the
    reader still looks at the whole policy rather than at none of it.
    """
    statements = _statements(result.document or {})
    # A trust fact that carries a witness (scanner.iam_eval's search) names the statement that lets the
    # request through: that one is marked, from the evaluator's answer rather than from any prose.
    witnessed = {
        evidence.found["statement"]
        for evidence in result.evidence
        if evidence.path.endswith(".witness")
        and isinstance(evidence.found, Mapping)
        and isinstance(evidence.found.get("statement"), int)
        and 0 <= evidence.found["statement"] < len(statements)
    }
    if witnessed:
        return witnessed
    extra: list[str] = []
    for evidence in result.evidence:
        if isinstance(evidence.found, list):
            # `expected` is prose ('exactly ["service:artifact.amazonaws.com"]'): look for the quoted form.
            extra += [
                f for f in evidence.found if isinstance(f, str) and json.dumps(f) not in evidence.expected
            ]
    chosen = {
        index
        for index, statement in enumerate(statements)
        if statement.get("Effect", "Allow") == "Allow" and any(_grants(statement, p) for p in extra)
    }
    return chosen or set(range(len(statements)))


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = document.get("Statement")
    items = statement if isinstance(statement, list) else [statement] if statement is not None else []
    return [item if isinstance(item, Mapping) else {} for item in items]


def document_parts(document: Mapping[str, Any], offending: set[int]) -> list[tuple[str, bool]]:
    """The document pretty-printed as (text, highlighted) runs, one run per offending statement.

    Pretty-printed here rather than in the page so the runs' boundaries are exact statement
    boundaries and the page only concatenates text.
    """
    parts: list[tuple[str, bool]] = []
    plain: list[str] = ["{\n"]

    def emit(text: str, highlighted: bool) -> None:
        if highlighted:
            parts.append(("".join(plain), False))
            plain.clear()
            # The page shows a highlighted run as a block, which already ends the line.
            parts.append((text.removesuffix("\n"), True))
        else:
            plain.append(text)

    def pretty(value: Any, indent: str) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str).replace("\n", "\n" + indent)

    keys = list(document)
    for position, key in enumerate(keys):
        comma = "," if position < len(keys) - 1 else ""
        value = document[key]
        if key == "Statement" and isinstance(value, list) and value:
            plain.append(f"  {json.dumps(key)}: [\n")
            for index, statement in enumerate(value):
                separator = "," if index < len(value) - 1 else ""
                emit(f"    {pretty(statement, '    ')}{separator}\n", index in offending)
            plain.append(f"  ]{comma}\n")
        elif key == "Statement" and isinstance(value, Mapping):
            plain.append(f"  {json.dumps(key)}: ")
            emit(pretty(value, "  "), 0 in offending)
            plain.append(f"{comma}\n")
        else:
            plain.append(f"  {json.dumps(key)}: {pretty(value, '  ')}{comma}\n")
    plain.append("}")
    parts.append(("".join(plain), False))
    return [part for part in parts if part[0]]


def _order(result: Result) -> tuple[int, int, str, str, str]:
    return (
        STATUS_ORDER.index(result.status),
        -result.severity,
        result.rule_id,
        result.account_id,
        result.resource_arn,
    )


def page_data(scan: ScanResult) -> dict[str, Any]:
    """The JSON the page renders from: rules, the matrix, findings, and skipped results.

    `accounts` rows are [id, name, cells, is_management, skip_reason], `cells` one character per rule
    in `rules` order (see CELL_CODES; "." = no result). `findings` are results_document()s of fail,
    error and suppressed results with indexes into `accounts` and `rules`. Skipped results can be one
    per account and rule, so they are [account, rule, severity, message] with interned messages.
    """
    rule_index = {rule.id: index for index, rule in enumerate(scan.rules)}
    account_index = {account.id: index for index, account in enumerate(scan.accounts)}
    accounts: list[list[Any]] = [
        [a.id, a.name, [NO_RESULT] * len(scan.rules), a.is_management, a.skip_reason or ""]
        for a in scan.accounts
    ]
    for result in scan.results:  # results may name an account the listing lacks; keep them visible
        if result.account_id not in account_index:
            account_index[result.account_id] = len(accounts)
            accounts.append(
                [result.account_id, result.account_name, [NO_RESULT] * len(scan.rules), False, ""]
            )
    rules = [rule_document(rule) for rule in scan.rules]
    for result in scan.results:
        if result.rule_id not in rule_index:  # a result of a rule the scan does not list: still shown
            rule_index[result.rule_id] = len(rules)
            rules.append({"id": result.rule_id, "title": result.rule_id, "severity": result.severity.label})
            for row in accounts:
                row[2].append(NO_RESULT)

    findings: list[dict[str, Any]] = []
    skipped: list[list[Any]] = []
    messages: dict[str, int] = {}
    for result in sorted(scan.results, key=_order):
        a, r = account_index[result.account_id], rule_index[result.rule_id]
        cells = accounts[a][2]
        code = CELL_CODES[result.status]
        if _CELL_RANK[code] > _CELL_RANK[cells[r]]:
            cells[r] = code
        if result.status is Status.PASS:
            continue
        if result.status is Status.SKIPPED:
            message = messages.setdefault(result.message, len(messages))
            skipped.append([a, r, result.severity.label, message])
            continue
        finding: dict[str, Any] = {"a": a, "r": r, "doc": result_document(result)}
        says = _sentences(result)
        if says:
            finding["says"] = says
        if result.document is not None:
            finding["doc"].pop("document", None)  # shown as `parts`, not twice
            finding["parts"] = document_parts(result.document, offending_statements(result))
        findings.append(finding)
    for row in accounts:
        row[2] = "".join(row[2])
    return {
        "rules": rules,
        "accounts": accounts,
        "findings": findings,
        "skipped": skipped,
        "messages": list(messages),
        "baseline": scan.baseline_run_id,
    }


def _suppression_order(suppression: Suppression) -> tuple[str, ...]:
    return (suppression.source, suppression.rule_id, suppression.account_id or "", suppression.resource or "",
            suppression.expires, suppression.owner, suppression.reason)


def _sentences(result: Result) -> dict[str, str]:
    """The sentences a finding's suppression and baseline state are shown with (scanner.report.wording):
    the page's script shows them as given, so the page says what every other writer says."""
    says = {}
    if result.suppression is not None:
        says["accepted"] = wording.accepted(result.suppression)
        says["scope"] = wording.scope(result.suppression)
    if result.expired_suppression is not None:
        says["expired"] = wording.expired(result.expired_suppression)
        says["scope"] = wording.scope(result.expired_suppression)
    if result.baseline is not None:
        says["baseline"] = wording.baseline_state(result.baseline, None)
    return says


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def audit_sections(scan: ScanResult) -> dict[str, Any]:
    """What the "Since the baseline" and "Suppressions" sections list, sorted, as plain values."""
    names = {account.id: account.name for account in scan.accounts}

    def account(account_id: str) -> str:
        name = names.get(account_id, "")
        return f"{account_id} ({name})" if name else account_id

    def resolved_row(item: ResolvedFinding) -> dict[str, str]:
        key = item.key
        return {"severity": item.severity.label, "rule_id": key.rule_id, "account": account(key.account_id),
                "resource_name": item.resource_name, "resource_arn": key.resource_arn, "message": item.message,
                "first_seen": _utc(item.first_seen) if item.first_seen else "unknown"}

    def drift_row(item: Drift) -> dict[str, str]:
        return {"kind": item.kind, "account": account(item.account_id) if item.account_id else "unknown",
                "resource_arn": item.resource_arn, "message": item.message,
                "before": _pretty(item.before), "after": _pretty(item.after)}

    def suppression_row(item: Suppression, failing: int = 0) -> dict[str, Any]:
        return {"source": item.source or "–", "rule_id": item.rule_id, "scope": wording.scope(item), "owner": item.owner,
                "reason": item.reason, "expires": item.expires, "failing": failing}

    expired: dict[Suppression, int] = {}
    for result in scan.results:
        if result.expired_suppression is not None:
            expired[result.expired_suppression] = expired.get(result.expired_suppression, 0) + 1
    resolved = sorted(scan.resolved, key=lambda r: (-r.severity, r.key.rule_id, r.key.account_id,
                                                    r.key.resource_arn, r.resource_name))
    drift = sorted(scan.drift, key=lambda d: (d.kind, d.account_id, d.resource_arn, d.message))
    return {
        "baseline_run_id": scan.baseline_run_id,
        "new": sum(1 for r in scan.results if r.baseline == "new"),
        "unchanged": sum(1 for r in scan.results if r.baseline == "unchanged"),
        "resolved": [resolved_row(r) for r in resolved],
        "drift": [drift_row(d) for d in drift],
        "expired": [suppression_row(s, expired[s]) for s in sorted(expired, key=_suppression_order)],
        "unused": [suppression_row(s) for s in sorted(scan.unused_suppressions, key=_suppression_order)],
    }


def _error_groups(scan: ScanResult) -> list[grouping.ErrorGroup]:
    errors = sorted((r for r in scan.results if r.status is Status.ERROR), key=_order)
    _, groups = grouping.group_errors(errors)
    return sorted(groups, key=lambda g: (-g.severity, g.account_id, g.short_reason))


def _utc(timestamp: str) -> str:
    """ "2026-01-01T00:00:05.123456Z" -> "2026-01-01 00:00:05 UTC" (a person reads seconds; results.json and
    the snapshot keep the full time); anything else unchanged."""
    if timestamp.endswith("Z") and "T" in timestamp:
        return timestamp[:-1].replace("T", " ").split(".")[0] + " UTC"
    return timestamp


LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "PR", "CL", "CO", "CR", "DO", "GT", "NI", "PA", "SV", "VE"})
"""Where Letter is the usual paper (as glibc's LC_PAPER data has it); everywhere else A4."""


def paper_from_locale(environ: Mapping[str, str]) -> Literal["A4", "Letter"]:
    """The paper of the locale's territory: LC_ALL, else LC_PAPER, else LANG ("en_US.UTF-8" -> US)."""
    for name in ("LC_ALL", "LC_PAPER", "LANG"):
        value = environ.get(name)
        if value:
            territory = value.split(".")[0].split("@")[0].partition("_")[2].upper()
            return "Letter" if territory in LETTER_TERRITORIES else "A4"
    return "A4"


def page_style(scan: ScanResult) -> str:
    """The printout's page: size, and in the margins the run id and "page N of M" on every page."""
    run_id = "".join(c for c in scan.info.run_id if c.isalnum() or c in "-_.:")  # a CSS string, no escapes
    size = "letter" if scan.paper == "Letter" else "A4"
    return (
        "@media print { @page { size: " + size + "; margin: 16mm 12mm 18mm; "
        '@bottom-left { content: "artifact-scan run ' + run_id + '"; font-size: 8pt; } '
        '@bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; } } }\n'
    )


@writer("html", "report.html")
def render(scan: ScanResult) -> bytes:
    """The report page; the same ScanResult always gives the same bytes (no clock, sorted JSON)."""
    script, style = _asset("report.js"), _asset("report.css") + page_style(scan)
    names = {account.id: account.name for account in scan.accounts}
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {csp_hash(script)}",
            f"style-src {csp_hash(style)}",
            "img-src data:",
            "font-src 'none'",
            "connect-src 'none'",
            "object-src 'none'",
            "frame-src 'none'",
            "worker-src 'none'",
            "manifest-src 'none'",
            "media-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
        ]
    )
    counts = summary(scan)
    text = _ENV.get_template("report.html.j2").render(
        info=scan.info,
        management_name=names.get(scan.info.management_account_id or "", ""),
        trusted_access=integrations.headers(scan.markers, (r.integration for r in scan.rules)),
        started=_utc(scan.info.started_at),
        finished=_utc(scan.info.finished_at),
        summary=counts,
        statuses=[s.value for s in STATUS_ORDER],
        severities=[s.label for s in sorted(Severity, reverse=True)],
        rule_count=len(scan.rules),
        skipped_accounts=[a for a in scan.accounts if not a.scanned],
        errors=sorted(scan.errors, key=lambda e: (e.account_id or "", e.api, e.resource or "", e.code)),
        not_evaluated=counts["by_status"][Status.ERROR.value],
        audit=audit_sections(scan),
        findings_line=grouping.findings_line(counts["by_status"]),
        error_groups=_error_groups(scan),
        compliance=grouping.compliance_view(scan.rules, scan.results),
        paper=scan.paper,
        csp=csp,
        script=Markup(script),  # our own files, checked above; the CSP hashes are of these exact texts
        style=Markup(style),
        data=script_json(page_data(scan)),
    )
    # A lone surrogate from AWS cannot be UTF-8: it becomes the text \udXXX (a JSON escape in the data block).
    return text.encode("utf-8", "backslashreplace")
