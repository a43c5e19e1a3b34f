"""The fault matrix: AWS failing in every way the scanner must survive, injected at the botocore layer.

One simulated organization (scanner.demo's `drifted` scenario, with the locked account made readable so
that a clean scan is complete) is built once; each case scans it with a fresh session whose botocore
event handlers inject one fault, through the real collector, the engine and every writer. For every case:

- the scan finishes and writes every report;
- the accounts the fault touches are `error`, with the cause (the error code) in results.json, the SARIF
  notifications, the HTML report, JUnit, Markdown and the console table;
- every other result is identical to the clean scan's, byte for byte as results.json writes it;
- retries are bounded: no call is attempted more than `collection.max_attempts` times;
- the exit code is 3.

How the faults get in: `before-send` answers for HTTP errors and raises transport exceptions, which is
where botocore's retry loop sees them; `before-parse` cuts or replaces a real answer's body; page tokens
are added with `after-call` and taken out again with `before-parameter-build`, because moto refuses
tokens it did not issue. Retry sleeps and the adaptive rate limiter's waits are recorded, not slept.
Faults botocore or the collector gets past (a throttling burst within the retry budget, one 5xx, one
reset, an empty page that carries a token) must change nothing at all.

Then interrupts (SIGINT and SIGTERM mid-scan exit 130, keep a partial snapshot marked interrupted, and no report)
and output folders that cannot be written (permission denied, disk full) or belong to another run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from scanner import demo, output, run
from scanner import snapshot as snapshots
from scanner.cli import command as cli_module
from scanner.cli.command import main
from scanner.collect import pipeline
from scanner.config import Collection, Config
from scanner.errors import ScanInterrupted
from scanner.model import Result, RuleSet, Snapshot, Status
from scanner.report import WRITERS, markdown, table
from scanner.report.json_report import result_document
from scanner.rules import load_rules
from tests.test_rule_cases import build_snapshot

MAX_ATTEMPTS = 3
CONFIG = Config(collection=Collection(max_attempts=MAX_ATTEMPTS, concurrency=4, connect_timeout_seconds=1,
                                      read_timeout_seconds=1))
MANAGEMENT_KEY = "demo-access-key-id"  # scanner.demo's management credentials
PROTOCOLS = {"iam": "query", "sts": "query", "organizations": "json", "artifact": "rest-json"}
ORGANIZATION = "(organization)"  # `affected` entry for organization-level reads

# --------------------------------------------------------------------------------------------
# Injecting faults
# --------------------------------------------------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def http_error(api: str, status: int, code: str, message: str, url: str) -> AWSResponse:
    """An AWS error answer in the wire format of `api`'s protocol."""
    protocol = PROTOCOLS[api.split(":")[0]]
    if protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                "</Error><RequestId>fault-injected</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(url, status, {**headers, "x-amzn-RequestId": "fault-injected"}, _Body(body))


@dataclass
class Injector:
    """Counts every call and HTTP attempt per (api, account), answers the Artifact API (moto has none),
    and injects at most one fault.

    The account of a call is the one whose credentials signed it (the access key of the request's
    signature, learnt from AssumeRole's answers), except for sts:AssumeRole, whose account is the target
    role's: "AssumeRole denied in account X" is a fault of account X.
    """

    management_id: str
    agreements: tuple[Mapping[str, Any], ...] | None  # the Artifact API's answer; None = the API is absent
    send: Callable[[str, str, Any, int], AWSResponse | None] | None = None  # (api, account, request, attempt)
    parse: Callable[[str, str, dict[str, Any]], None] | None = None  # edits a real answer before parsing
    page_token: tuple[str, str, str] | None = None  # (api, account, token): every answer carries `token`
    empty_first_page: tuple[str, str] | None = None  # (api, token): the first answer is empty, with `token`
    expire_after: tuple[str, str] | None = None  # (api, account): its keys expire once that call answered
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)  # HTTP requests sent
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # API calls made
    keys: dict[str, str] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)  # access keys that no longer work
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def attach(self, session: boto3.Session) -> Injector:
        self.keys.setdefault(MANAGEMENT_KEY, self.management_id)
        session.events.register_first("before-parameter-build", self._params)
        session.events.register_first("before-call", self._call)
        session.events.register_first("before-send", self._send)
        session.events.register_first("before-parse", self._parse)
        session.events.register("after-call", self._after_call)
        return self

    # -- attribution --

    @staticmethod
    def _api(model: Any) -> str:
        service = model.service_model.metadata.get("signingName") or model.service_model.endpoint_prefix
        return f"{service}:{model.name}"

    @staticmethod
    def _key_of(request: Any) -> str:
        authorization = request.headers.get("Authorization", b"")
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        found = re.search(r"Credential=([^/]+)/", authorization)
        return found.group(1) if found else ""

    @staticmethod
    def _role_account(role_arn: object) -> str:
        parts = str(role_arn).split(":")
        return parts[4] if len(parts) > 5 else ""

    def _account_of(self, api: str, request: Any) -> str:
        if api == "sts:AssumeRole":
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
            return self._role_account(parse_qs(body).get("RoleArn", [""])[0])
        with self.lock:
            return self.keys.get(self._key_of(request), "unknown")

    # -- handlers --

    def _params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        api = self._api(model)
        context["fault_api"] = api
        if api == "sts:AssumeRole":
            context["fault_account"] = self._role_account(params.get("RoleArn"))
        for spec in (self.page_token, self.empty_first_page):
            if spec is not None and spec[0] == api:
                for name in ("NextToken", "Marker", "nextToken"):
                    if params.get(name) == spec[-1]:  # made up here: moto must not see it
                        del params[name]
                        context["fault_token_sent"] = True
        if self.empty_first_page and self.empty_first_page[0] == api and "fault_token_sent" not in context:
            context["fault_empty_page"] = True

    def _call(self, model: Any, context: dict[str, Any], request_signer: Any, **_: Any) -> None:
        api = self._api(model)
        if "fault_account" not in context:
            key = getattr(getattr(request_signer, "_credentials", None), "access_key", None) or ""
            with self.lock:
                context["fault_account"] = self.keys.get(key, "unknown")
        with self.lock:
            self.calls[(api, context["fault_account"])] += 1

    def _send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        _event, service, operation = event_name.split(".")
        api = f"{service}:{operation}"
        account = self._account_of(api, request)
        with self.lock:
            self.attempts[(api, account)] += 1
            attempt = self.attempts[(api, account)]
            expired = self._key_of(request) in self.expired
        self.local.parse = (api, account)
        if expired:
            code = "ExpiredToken" if PROTOCOLS[service] == "query" else "ExpiredTokenException"
            return http_error(api, 403, code, "The security token included in the request is expired", request.url)
        if self.send is not None:
            response = self.send(api, account, request, attempt)
            if response is not None:
                return response
        if api == "artifact:ListCustomerAgreements" and self.agreements is not None:
            body = json.dumps({"customerAgreements": list(self.agreements)}).encode()
            return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Body(body))
        return None

    def _parse(self, response_dict: dict[str, Any], **_: Any) -> None:
        target = getattr(self.local, "parse", None)
        self.local.parse = None
        if target is not None and self.parse is not None:
            api, account = target
            self.parse(api, account, response_dict)

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
                    **_: Any) -> None:
        api = self._api(model)
        account = context.get("fault_account", "unknown")
        if http_response.status_code >= 300:
            return
        if api == "sts:AssumeRole" and parsed.get("Credentials"):
            with self.lock:
                self.keys[parsed["Credentials"]["AccessKeyId"]] = parsed["AssumedRoleUser"]["Arn"].split(":")[4]
        if self.expire_after == (api, account):
            with self.lock:
                self.expired.update(key for key, owner in self.keys.items() if owner == account)
        if self.page_token is not None and self.page_token[:2] == (api, account):
            if "Roles" in parsed:
                parsed.update(IsTruncated=True, Marker=self.page_token[2])
            else:
                parsed["NextToken"] = self.page_token[2]
        if context.get("fault_empty_page") and self.empty_first_page is not None:
            for name in ("Accounts", "Roles", "EnabledServicePrincipals"):
                if name in parsed:
                    parsed[name] = []
            parsed["NextToken"] = self.empty_first_page[1]


# --------------------------------------------------------------------------------------------
# The organizations, their clean scans, and scans with a fault
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    """One simulated organization (built once per scenario) and its clean scan."""

    organization: demo.SimulatedOrganization
    ruleset: RuleSet
    clean: run.RunOutcome
    root: Path

    @property
    def population(self) -> demo.Population:
        return self.organization.population

    def id(self, name: str) -> str:
        if name == ORGANIZATION:
            return self.population.management_account_id
        return self.population.account_id(name)

    def injector(self) -> Injector:
        """No fault yet; the Artifact API answers with the scenario's agreements."""
        return Injector(self.population.management_account_id, tuple(self.population.customer_agreements))

    def scan(self, injector: Injector, name: str) -> run.RunOutcome:
        session = boto3.Session(aws_access_key_id=MANAGEMENT_KEY, aws_secret_access_key="demo-secret-access-key",
                                region_name=demo.REGION)
        injector.attach(session)
        return run.scan(CONFIG, self.ruleset, out_dir=self.root / name, formats=sorted(WRITERS), gate=run.Gate(),
                        session=session)


@dataclass
class Waits:
    retry_sleeps: list[float] = field(default_factory=list)
    rate_limited: int = 0


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    """botocore's retry backoff and the adaptive rate limiter's waits are counted instead of waited for."""
    recorded = Waits()

    class _Time:
        def sleep(self, seconds: float) -> None:
            recorded.retry_sleeps.append(seconds)

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    def acquire(self: Any, amount: int = 1, block: bool = True) -> bool:
        recorded.rate_limited += 1
        return True

    monkeypatch.setattr(botocore.endpoint, "time", _Time())
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", acquire)
    return recorded


class Labs:
    """The simulated organizations, built on demand and one at a time (each moto mock starts afresh)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ruleset = load_rules()
        self.active: Lab | None = None
        self.scenario: str | None = None
        self.stack = contextlib.ExitStack()

    def get(self, scenario: str) -> Lab:
        if self.active is not None and self.scenario == scenario:
            return self.active
        self.close()
        organization = self.stack.enter_context(demo.simulated_organization(scenario))
        # Not the demo's own session: its handlers lock one account, and a clean scan must be complete.
        building = Lab(organization, self.ruleset, None, self.root / scenario)  # type: ignore[arg-type]
        clean = building.scan(building.injector(), "clean")
        assert clean.scan.info.complete and not clean.scan.errors, clean.scan.errors
        assert not any(r.status is Status.ERROR for r in clean.scan.results)
        assert clean.exit_code == run.ExitCode.FINDINGS
        self.active, self.scenario = Lab(organization, self.ruleset, clean, self.root / scenario), scenario
        return self.active

    def close(self) -> None:
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.active = self.scenario = None


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Labs]:
    pool = Labs(tmp_path_factory.mktemp("faults"))
    yield pool
    pool.close()


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

Install = Callable[[Injector, Lab], None]


def answer(api: str, where: str, respond: Callable[[str, Any], AWSResponse], *, times: int | None = None) -> Install:
    """`respond` answers `api` in account `where` (every attempt, or only the first `times`)."""

    def install(injector: Injector, lab: Lab) -> None:
        account = lab.id(where)

        def send(call_api: str, call_account: str, request: Any, attempt: int) -> AWSResponse | None:
            if (call_api, call_account) == (api, account) and (times is None or attempt <= times):
                return respond(call_api, request)
            return None

        injector.send = send

    return install


def error(status: int, code: str, message: str) -> Callable[[str, Any], AWSResponse]:
    return lambda api, request: http_error(api, status, code, message, request.url)


def raising(exception: Callable[..., Exception]) -> Callable[[str, Any], AWSResponse]:
    def respond(api: str, request: Any) -> AWSResponse:
        raise exception(endpoint_url=request.url)

    return respond


def body(api: str, where: str, edit: Callable[[bytes], bytes]) -> Install:
    """The real answer's body of `api` in `where`, edited before botocore parses it."""

    def install(injector: Injector, lab: Lab) -> None:
        account = lab.id(where)

        def parse(call_api: str, call_account: str, response: dict[str, Any]) -> None:
            if (call_api, call_account) == (api, account):
                response["body"] = edit(response["body"])

        injector.parse = parse

    return install


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def gateway_page(_: bytes) -> bytes:
    return b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def repeating_token(api: str, where: str) -> Install:
    def install(injector: Injector, lab: Lab) -> None:
        injector.page_token = (api, lab.id(where), "the-same-token")

    return install


def empty_first_page(api: str) -> Install:
    def install(injector: Injector, lab: Lab) -> None:
        injector.empty_first_page = (api, "token-after-an-empty-page")

    return install


def expire(api: str, where: str) -> Install:
    def install(injector: Injector, lab: Lab) -> None:
        injector.expire_after = (api, lab.id(where))

    return install


def absent_artifact_api(injector: Injector, lab: Lab) -> None:
    injector.agreements = None  # moto then answers 404, as an endpoint without the API does


@dataclass(frozen=True)
class Case:
    id: str
    install: Install
    api: str  # the API whose read fails
    where: str  # the account it fails in (ORGANIZATION: organization-level reads)
    cause: str  # the error code every report must show
    affected: tuple[str, ...]  # accounts whose results may change, all to `error` (or failing ART-014)
    retried: bool  # botocore retries this fault (up to max_attempts), or it is final at once
    scenario: str = "drifted"


DENIED = "User: arn:aws:sts::123456789012:assumed-role/OrganizationAccountAccessRole/artifact-scan is not authorized"
EVERY_ACCOUNT = ("master", "former-management", "shared-services", "legacy-audit", "reports-integration", "locked",
                 "workload-healthy", "reporting-healthy")

CASES = (
    Case("throttling", answer("iam:ListRoles", "shared-services", error(400, "Throttling", "Rate exceeded")),
         "iam:ListRoles", "shared-services", "Throttling", ("shared-services",), retried=True),
    Case("throttling-organizations",
         answer("organizations:ListAWSServiceAccessForOrganization", ORGANIZATION,
                error(400, "TooManyRequestsException", "Rate exceeded")),
         "organizations:ListAWSServiceAccessForOrganization", ORGANIZATION, "TooManyRequestsException",
         (ORGANIZATION,), retried=True),
    Case("http-500", answer("iam:ListRolePolicies", "former-management",
                            error(500, "InternalFailure", "We encountered an internal error. Please try again.")),
         "iam:ListRolePolicies", "former-management", "InternalFailure", ("former-management",), retried=True),
    Case("http-503", answer("artifact:ListCustomerAgreements", ORGANIZATION,
                            error(503, "ServiceUnavailableException", "Service unavailable")),
         "artifact:ListCustomerAgreements", ORGANIZATION, "ServiceUnavailableException", (ORGANIZATION,),
         retried=True, scenario="disabled"),
    Case("connection-reset", answer("iam:ListRoles", "reporting-healthy", raising(ConnectionClosedError)),
         "iam:ListRoles", "reporting-healthy", "ConnectionClosedError", ("reporting-healthy",), retried=True),
    Case("read-timeout", answer("iam:GetRole", "former-management", raising(ReadTimeoutError)),
         "iam:GetRole", "former-management", "ReadTimeoutError", ("former-management",), retried=True),
    Case("endpoint-unreachable", answer("sts:AssumeRole", "workload-healthy", raising(EndpointConnectionError)),
         "sts:AssumeRole", "workload-healthy", "EndpointConnectionError", ("workload-healthy",), retried=True),
    Case("access-denied-one-api-one-account",
         answer("iam:ListAttachedRolePolicies", "shared-services",
                error(403, "AccessDenied", f"{DENIED} to perform: iam:ListAttachedRolePolicies")),
         "iam:ListAttachedRolePolicies", "shared-services", "AccessDenied", ("shared-services",), retried=False),
    Case("assume-role-denied",
         answer("sts:AssumeRole", "reports-integration",
                error(403, "AccessDenied", "User is not authorized to perform: sts:AssumeRole")),
         "sts:AssumeRole", "reports-integration", "AccessDenied", ("reports-integration",), retried=False),
    Case("member-credentials-expire-mid-scan", expire("iam:ListRoles", "shared-services"),
         "iam:GetRole", "shared-services", "ExpiredToken", ("shared-services",), retried=False),
    Case("management-credentials-expire-mid-scan", expire("organizations:ListAccounts", ORGANIZATION),
         "sts:AssumeRole", "shared-services", "ExpiredToken", EVERY_ACCOUNT, retried=False),
    Case("artifact-api-absent", absent_artifact_api,
         "artifact:ListCustomerAgreements", ORGANIZATION, "NotAvailable", (ORGANIZATION,), retried=False,
         scenario="disabled"),
    Case("repeated-account-token", repeating_token("organizations:ListAccounts", ORGANIZATION),
         "organizations:ListAccounts", ORGANIZATION, "RepeatedPageToken", ("master",), retried=False),
    Case("repeated-role-marker", repeating_token("iam:ListRoles", "legacy-audit"),
         "iam:ListRoles", "legacy-audit", "RepeatedPageToken", ("legacy-audit",), retried=False),
    Case("malformed-xml-body", body("iam:GetRole", "former-management", gateway_page),
         "iam:GetRole", "former-management", "ResponseParserError", ("former-management",), retried=False),
    Case("truncated-xml-body", body("iam:ListRoles", "workload-healthy", truncated),
         "iam:ListRoles", "workload-healthy", "ResponseParserError", ("workload-healthy",), retried=False),
    Case("malformed-json-body",
         body("organizations:ListAWSServiceAccessForOrganization", ORGANIZATION, gateway_page),
         "organizations:ListAWSServiceAccessForOrganization", ORGANIZATION, "ResponseParserError", (ORGANIZATION,),
         retried=False),
    Case("truncated-json-body", body("organizations:ListAccounts", ORGANIZATION, truncated),
         "organizations:ListAccounts", ORGANIZATION, "ResponseParserError", (*EVERY_ACCOUNT, "closed-sandbox"),
         retried=False),
    Case("truncated-artifact-body", body("artifact:ListCustomerAgreements", ORGANIZATION, truncated),
         "artifact:ListCustomerAgreements", ORGANIZATION, "ResponseParserError", (ORGANIZATION,), retried=False,
         scenario="disabled"),
)


@dataclass(frozen=True)
class Recovery:
    """A fault botocore or the collector gets past: the scan must equal the clean one exactly."""

    id: str
    install: Install
    api: str
    where: str
    extra_attempts: int  # requests beyond one per call


RECOVERIES = (
    Recovery("throttling-burst-within-the-retry-budget",
             answer("iam:ListRoles", "shared-services", error(400, "Throttling", "Rate exceeded"),
                    times=MAX_ATTEMPTS - 1),
             "iam:ListRoles", "shared-services", MAX_ATTEMPTS - 1),
    Recovery("one-http-503", answer("organizations:ListAccounts", ORGANIZATION,
                                    error(503, "ServiceUnavailableException", "Service unavailable"), times=1),
             "organizations:ListAccounts", ORGANIZATION, 1),
    Recovery("one-connection-reset", answer("sts:AssumeRole", "legacy-audit", raising(ConnectionClosedError),
                                            times=1),
             "sts:AssumeRole", "legacy-audit", 1),
    Recovery("empty-account-page-with-a-token", empty_first_page("organizations:ListAccounts"),
             "organizations:ListAccounts", ORGANIZATION, 0),
)


def _params(cases: tuple[Case, ...]) -> list[Any]:
    """Grouped by scenario, drifted first (as the recoveries use it), so each organization is built once."""
    ordered = sorted(cases, key=lambda case: case.scenario != "drifted")
    return [
        pytest.param(case, id=case.id)
        for case in ordered
    ]


# --------------------------------------------------------------------------------------------
# What every report must say
# --------------------------------------------------------------------------------------------


def document(result: Result) -> str:
    return json.dumps(result_document(result), sort_keys=True)


def report_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)
    assert found, "the HTML report has no data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def assert_cause_in_every_report(outcome: run.RunOutcome, errors: list[Result], cause: str) -> None:
    """Each error result, and each failed read, names `cause` in every report of the run."""
    folder = outcome.run_dir
    results = json.loads((folder / "results.json").read_text())
    sarif = json.loads((folder / "results.sarif").read_text())
    html = (folder / "report.html").read_text()
    junit = ET.parse(folder / "results.junit.xml").getroot()
    summary = (folder / "summary.md").read_text()
    console = table.render(outcome.scan, width=1_000_000)  # one line per result: nothing wraps

    def key(doc: Mapping[str, Any]) -> tuple[str, str, str]:
        return (doc["rule_id"], doc["account_id"], doc["resource_arn"])

    in_json = {key(doc): doc for doc in results["results"]}
    invocation = sarif["runs"][0]["invocations"][0]
    notifications = invocation.get("toolExecutionNotifications", [])
    findings = {key(f["doc"]): f["doc"] for f in report_data(html)["findings"]}
    junit_errors = {(case.get("classname"), case.get("name")): case.find("error") for case in junit.iter("testcase")}
    markdown_rows = [line for line in summary.splitlines() if re.match(r"\| \w+ \| error \|", line)]
    # Errors of one account with the same cause are one line: "- high error in <account>: N rules could not ..."
    markdown_groups = [line for line in summary.splitlines() if re.match(r"- \w+ error in ", line)]
    # Each error row with the rule it is listed under (a rule's block starts "<id> <severity>: <title>");
    # rows that group the rules one failed read kept from being evaluated name their rules themselves.
    console_rows, rule = [], ""
    for line in console.splitlines():
        if re.match(r"[A-Z][A-Z0-9]*-\d{3,} \w+: ", line):
            rule = line.split()[0]
        elif line.startswith("Not evaluated:"):
            rule = ""
        elif line.split()[:1] == ["error"]:
            console_rows.append(f"{rule} {line}")
    assert invocation["executionSuccessful"] is False
    for result in errors:
        where = f"{result.rule_id} on {result.resource_arn}"
        doc = in_json[key(result_document(result))]
        assert doc["status"] == "error" and cause in json.dumps(doc), f"results.json: {where}"
        assert any(n["descriptor"]["id"] == result.rule_id and n["properties"]["artifact-scan/resource"]
                   == result.resource_arn and cause in n["message"]["text"] for n in notifications), f"SARIF: {where}"
        shown = findings[key(result_document(result))]
        assert shown["status"] == "error" and cause in shown["message"], f"HTML: {where}"
        element = junit_errors[(result.rule_id, f"{result.account_id} {result.resource_name}".strip())]
        assert element is not None and cause in element.get("message", ""), f"JUnit: {where}"
        assert any(result.rule_id in row and result.account_id in row and cause in row for row in console_rows), (
            f"console table: {where}")
    # Markdown lists at most MAX_LISTED fail and error results: every error it lists names its cause.
    listed = sum(1 for r in outcome.scan.results if r.status in markdown.LISTED)
    all_errors = sum(1 for r in outcome.scan.results if r.status is Status.ERROR)
    grouped = sum(int(re.search(r": (\d+) rules could not be evaluated", line).group(1))  # type: ignore[union-attr]
                  for line in markdown_groups)
    if listed <= markdown.MAX_LISTED:
        assert len(markdown_rows) + grouped == all_errors
    assert bool(markdown_rows or markdown_groups) == bool(all_errors)
    for row in markdown_rows + markdown_groups:
        assert cause in row, f"Markdown: {row}"
    # The failed reads themselves, named by API and code, in every report that lists them.
    failed = [e for e in outcome.scan.errors if e.code == cause]
    assert failed
    for error in failed:
        assert any(e["api"] == error.api and e["code"] == cause for e in results["errors"])
        assert any(n["descriptor"]["id"] == "artifact-scan/collection-error" and error.api in n["message"]["text"]
                   and cause in n["message"]["text"] for n in notifications)
        assert f'<td class="mono">{error.api}</td>' in html and f'<td class="mono">{cause}</td>' in html
        collection = [c for c in junit.iter("testcase") if c.get("classname") == "artifact-scan: collection"]
        assert any(error.api in (c.get("name") or "") and c.findtext("error") is not None
                   and c.find("error").get("type") == cause for c in collection)  # type: ignore[union-attr]
        assert f"{error.api}: {cause}" in console
    assert "**Incomplete scan:**" in summary and "INCOMPLETE" in console


def assert_retries_bounded(injector: Injector, waits: Waits, case_api: str, account: str, retried: bool) -> None:
    for (api, where), attempts in injector.attempts.items():
        calls = injector.calls[(api, where)]
        assert attempts <= MAX_ATTEMPTS * calls, f"{api} in {where}: {attempts} requests for {calls} calls"
    calls = injector.calls[(case_api, account)]
    assert calls >= 1, f"{case_api} was never called in {account}"
    expected = MAX_ATTEMPTS * calls if retried else calls
    assert injector.attempts[(case_api, account)] == expected, (case_api, account)
    retries = sum(injector.attempts.values()) - sum(injector.calls.values())
    assert len(waits.retry_sleeps) == retries and all(0 <= s <= 20 for s in waits.retry_sleeps)


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("recovery", RECOVERIES, ids=[r.id for r in RECOVERIES])
def test_a_fault_that_is_got_past_changes_nothing(labs: Labs, recovery: Recovery, waits: Waits) -> None:
    lab = labs.get("drifted")
    injector = lab.injector()
    recovery.install(injector, lab)

    outcome = lab.scan(injector, recovery.id)

    assert [document(r) for r in outcome.scan.results] == [document(r) for r in lab.clean.scan.results]
    assert outcome.scan.info.complete and not outcome.scan.errors
    assert outcome.exit_code == lab.clean.exit_code
    calls = injector.calls[(recovery.api, lab.id(recovery.where))]
    assert injector.attempts[(recovery.api, lab.id(recovery.where))] == calls + recovery.extra_attempts
    assert len(waits.retry_sleeps) == sum(injector.attempts.values()) - sum(injector.calls.values())


@pytest.mark.parametrize("case", _params(CASES))
def test_a_fault_makes_exactly_the_affected_results_error(labs: Labs, case: Case, waits: Waits) -> None:
    lab = labs.get(case.scenario)
    injector = lab.injector()
    case.install(injector, lab)

    outcome = lab.scan(injector, case.id)  # finishes: no exception, every report written

    assert {p.name for p in outcome.files} >= {w.filename for w in WRITERS.values()} | {"snapshot.json"}
    scan_result = outcome.scan
    assert not scan_result.info.complete
    snapshot = json.loads((outcome.run_dir / "snapshot.json").read_text())
    assert snapshot["metadata"]["complete"] is False
    assert any(e.api == case.api and e.code == case.cause for e in scan_result.errors), scan_result.errors
    # Every result outside the affected accounts is the clean run's, exactly.
    affected = {lab.id(name) for name in case.affected}
    clean = {document(r) for r in lab.clean.scan.results}
    now = {document(r) for r in scan_result.results}
    for result in lab.clean.scan.results:
        if result.account_id not in affected:
            assert document(result) in now, f"lost: {result.rule_id} on {result.resource_arn}"
    changed = [r for r in scan_result.results if document(r) not in clean]
    for result in changed:
        assert result.account_id in affected, f"changed outside the fault: {result}"
        if result.status is Status.FAIL and result.rule_id == demo.UNREADABLE_ACCOUNT_RULE:
            continue  # "every active account could be read" fails for an unreadable account, as it should
        assert result.status is Status.ERROR, f"{result.rule_id} on {result.resource_arn}: {result.status}"
        assert case.cause in result.message
    errors = [r for r in changed if r.status is Status.ERROR]
    assert bool(errors) == bool(case.affected), "the affected accounts have no error result"
    assert_cause_in_every_report(outcome, errors, case.cause)
    assert_retries_bounded(injector, waits, case.api, lab.id(case.where), case.retried)
    assert run.exit_code(scan_result, run.Gate()) == outcome.exit_code == run.ExitCode.INCOMPLETE


# --------------------------------------------------------------------------------------------
# Interrupts: SIGINT or SIGTERM mid-scan keeps a partial snapshot, and no report
# --------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def partial_snapshot() -> Snapshot:
    """What an interrupted collector hands over: the accounts read so far, marked interrupted."""
    full = build_snapshot({})
    metadata = replace(full.metadata, complete=False, interrupted=True)
    return replace(full, metadata=metadata, accounts=full.accounts[:1])


def interrupt_collection(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[str]:
    calls: list[str] = []

    def collect(*_: Any, **__: Any) -> Snapshot:
        calls.append("collect")
        raise error

    monkeypatch.setattr(pipeline, "collect_snapshot", collect)
    return calls


def accounts_read(run_dir: Path) -> int:
    return sum(1 for account in snapshots.load(run_dir / "snapshot.json").accounts if account.scanned)


def leftovers(folder: Path) -> list[str]:
    """Hidden staging folders or temporary files a run left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith("."))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_an_interrupted_scan_keeps_the_partial_snapshot_and_writes_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupt_collection(monkeypatch, ScanInterrupted(partial_snapshot()))
    out = tmp_path / "run"

    code, err = cli(capsys, "scan", "--out", str(out), "-q")

    assert code == cli_module.EXIT_INTERRUPTED
    assert [p.name for p in out.iterdir()] == ["snapshot.json"]  # no report, nothing claiming completeness
    assert err.splitlines() == [f"error: interrupted; the partial snapshot (1 account read) is in "
                                f"{out / 'snapshot.json'}; no report claims a complete scan"]
    kept = snapshots.load(out / "snapshot.json")
    assert kept.metadata.interrupted and not kept.metadata.complete and len(kept.accounts) == 1
    assert leftovers(tmp_path) == []
    # Evaluated later, what was read says incomplete in every report and exits 3.
    monkeypatch.undo()
    code, _ = cli(capsys, "scan", "--snapshot", str(out / "snapshot.json"), "--out", str(tmp_path / "later"), "-q")
    assert code == run.ExitCode.INCOMPLETE
    assert json.loads((tmp_path / "later" / "results.json").read_text())["run"]["complete"] is False


def test_a_snapshot_the_collector_thought_complete_is_still_marked_interrupted(tmp_path: Path) -> None:
    claimed = replace(partial_snapshot(), metadata=replace(partial_snapshot().metadata, complete=True,
                                                           interrupted=False))
    kept: list[bytes] = []

    def write(data: bytes) -> Path:
        kept.append(data)
        return tmp_path / "snapshot.json"

    error = pipeline.keep_interrupted(ScanInterrupted(claimed), write)

    assert isinstance(error, pipeline.RunInterrupted) and error.snapshot_path == tmp_path / "snapshot.json"
    metadata = json.loads(kept[0])["metadata"]
    assert (metadata["complete"], metadata["interrupted"]) == (False, True)


def test_an_interrupted_collect_keeps_the_partial_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupt_collection(monkeypatch, ScanInterrupted(partial_snapshot()))
    target = tmp_path / "snapshot.json"

    code, err = cli(capsys, "collect", "-o", str(target), "-q")

    assert code == cli_module.EXIT_INTERRUPTED
    assert err.splitlines() == [f"error: interrupted; the partial snapshot (1 account read) is in {target}; "
                                "no report claims a complete scan"]
    assert snapshots.load(target).metadata.interrupted
    assert leftovers(tmp_path) == []


def test_an_interrupt_without_a_snapshot_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupt_collection(monkeypatch, KeyboardInterrupt())
    out = tmp_path / "reports" / "run"

    code, err = cli(capsys, "scan", "--out", str(out), "-q")

    assert code == cli_module.EXIT_INTERRUPTED
    assert err.splitlines() == ["error: interrupted; no partial snapshot was kept; no report claims a complete scan"]
    assert not out.exists() and leftovers(tmp_path) == []


def test_sigterm_stops_a_scan_like_ctrl_c_and_the_handler_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    received: list[int] = []

    def outer(signum: int, frame: object) -> None:  # what was installed before the scan
        received.append(signum)

    def collect(*_: Any, **__: Any) -> Snapshot:
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the handler runs between two bytecodes of this loop
            time.sleep(0.01)
        raise AssertionError("SIGTERM did not interrupt the scan")

    previous = signal.signal(signal.SIGTERM, outer)
    try:
        monkeypatch.setattr(pipeline, "collect_snapshot", collect)
        code, err = cli(capsys, "scan", "--out", str(tmp_path / "run"), "-q")
        assert signal.getsignal(signal.SIGTERM) is outer
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == cli_module.EXIT_INTERRUPTED and err.startswith("error: interrupted;")
    assert received == []  # the scan's handler took it, not the one installed before
    assert not (tmp_path / "run").exists() and leftovers(tmp_path) == []


# A scan of the demo organization in which every IAM request takes a second: the signal arrives while
# worker threads are waiting on AWS.
SLOW_SCAN = """
import contextlib, sys, threading, time
from scanner import demo
from scanner.cli import command as cli

build = demo.simulated_organization

@contextlib.contextmanager
def slow_organization(scenario="drifted"):
    with build(scenario) as organization:
        first = threading.Event()

        def slow(**_):
            if not first.is_set():
                first.set()
                print("scanning", flush=True)
            time.sleep(1.0)

        organization.session.events.register("before-send.iam", slow)
        yield organization

demo.simulated_organization = slow_organization
sys.exit(cli.main(["demo", "--out", sys.argv[1], "-q"]))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_scan_stops_within_5_seconds_and_keeps_what_was_read(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "run"
    with subprocess.Popen(
        [sys.executable, "-c", SLOW_SCAN, str(out)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as process:
        assert process.stdout is not None
        ready = process.stdout.readline()  # blocks until the scan's first IAM request
        if ready.strip() != "scanning":
            process.kill()
            pytest.fail(f"the scan did not start: {process.communicate()[1]}")
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signum)
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        elapsed = time.monotonic() - sent
        code = process.returncode
    assert code == cli_module.EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: interrupted; the partial snapshot ({accounts_read(out)} account{'s' if accounts_read(out) != 1 else ''} "
        f"read) is in {out / 'snapshot.json'}; no report claims a complete scan"
    ], err
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"
    assert sorted(p.name for p in out.iterdir()) == ["snapshot.json"], err
    metadata = json.loads((out / "snapshot.json").read_text())["metadata"]
    assert metadata["interrupted"] is True and metadata["complete"] is False
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Output folders that cannot be written, and folders that belong to another run
# --------------------------------------------------------------------------------------------


@pytest.fixture
def offline(tmp_path: Path) -> list[str]:
    """Arguments for an offline scan of a snapshot with a finding and an unreadable account."""
    source = tmp_path / "inputs" / "snapshot.json"
    source.parent.mkdir()
    source.write_bytes(snapshots.dumps(build_snapshot({"remove_slr": True})))
    return ["scan", "--snapshot", str(source), "-q"]


def test_a_folder_that_cannot_be_created_is_a_clear_error_before_anything_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = interrupt_collection(monkeypatch, AssertionError("collected"))

    def refuse(*_: Any, **__: Any) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(output.tempfile, "mkdtemp", refuse)
    code, err = cli(capsys, "scan", "--out", str(tmp_path / "reports" / "run"), "-q")

    assert code == run.ExitCode.USAGE and calls == []
    assert f"error: {tmp_path / 'reports' / 'run'}: cannot create the output folder: Permission denied" in err
    assert not (tmp_path / "reports" / "run").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("mkstemp", PermissionError(errno.EACCES, "Permission denied")),
        ("replace", OSError(errno.ENOSPC, "No space left on device")),
        ("write", OSError(errno.ENOSPC, "No space left on device")),
    ],
    ids=["permission-denied", "disk-full-on-rename", "disk-full-mid-file"],
)
def test_a_failed_write_leaves_no_file_and_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], offline: list[str],
    failing: str, error: OSError,
) -> None:
    written = 0  # the first files are written; the third fails

    def fail_third(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal written
            written += 1
            if written == 3:
                raise error
            return original(*args, **kwargs)

        return call

    if failing == "mkstemp":
        monkeypatch.setattr(output.tempfile, "mkstemp", fail_third(tempfile.mkstemp))
    elif failing == "replace":
        monkeypatch.setattr(output.os, "replace", fail_third(os.replace))
    else:
        real_fdopen = os.fdopen

        def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
            handle = real_fdopen(fd, *args, **kwargs)
            original_write = handle.write

            def write(data: bytes) -> int:
                original_write(data[: len(data) // 2])  # half the file reaches the disk, then it is full
                return int(fail_third(lambda: len(data))())

            handle.write = write
            return handle

        monkeypatch.setattr(output.os, "fdopen", fdopen)
    out = tmp_path / "reports" / "run"

    code, err = cli(capsys, *offline, "--out", str(out))

    assert code == run.ExitCode.USAGE
    assert f"cannot write: {error.strerror}" in err and str(out) in err and "hint:" in err
    assert not out.exists(), "a half-written run folder was left"
    assert leftovers(tmp_path) == [], "a staging folder or temporary file was left"


def test_a_full_disk_while_keeping_an_interrupted_snapshot_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupt_collection(monkeypatch, ScanInterrupted(partial_snapshot()))

    def full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output.os, "replace", full)
    code, err = cli(capsys, "scan", "--out", str(tmp_path / "run"), "-q")

    assert code == run.ExitCode.USAGE and "No space left on device" in err
    assert not (tmp_path / "run").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], offline: list[str]
) -> None:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        code, err = cli(capsys, *offline, "--out", str(parent / "run"))
    finally:
        parent.chmod(0o700)
    assert code == run.ExitCode.USAGE and "Permission denied" in err
    assert list(parent.iterdir()) == []


def test_another_runs_folder_is_never_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = interrupt_collection(monkeypatch, AssertionError("collected"))
    other = tmp_path / "other-run"
    other.mkdir()
    (other / "results.json").write_text("another run's results")

    code, err = cli(capsys, "scan", "--out", str(other), "-q")

    assert code == run.ExitCode.USAGE and calls == []  # refused before any AWS call
    assert "not empty; a run never overwrites another run's files" in err
    assert [p.name for p in other.iterdir()] == ["results.json"]
    assert (other / "results.json").read_text() == "another run's results"
    assert leftovers(tmp_path) == []


def test_a_folder_another_run_fills_meanwhile_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], offline: list[str]
) -> None:
    out = tmp_path / "run"
    real_loads = snapshots.loads

    def racing_loads(raw: bytes, source: str) -> Snapshot:
        out.mkdir()  # while this run evaluates, another one writes the same folder
        (out / "results.json").write_text("the other run")
        return real_loads(raw, source)

    monkeypatch.setattr(run.snapshots, "loads", racing_loads)
    code, err = cli(capsys, *offline, "--out", str(out))

    assert code == run.ExitCode.USAGE and "never overwrites another run's files" in err
    assert [p.name for p in out.iterdir()] == ["results.json"]
    assert (out / "results.json").read_text() == "the other run"
    assert leftovers(tmp_path) == []


def test_an_empty_folder_is_used_and_nothing_is_left_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], offline: list[str]
) -> None:
    out = tmp_path / "prepared"
    out.mkdir()
    code, _ = cli(capsys, *offline, "--out", str(out))
    assert code == run.ExitCode.FINDINGS
    assert {"results.json", "snapshot.json", "settings.json", "rules"} <= {p.name for p in out.iterdir()}
    assert leftovers(tmp_path) == []


def test_a_run_that_fails_before_writing_leaves_no_folder_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports" / "weekly" / "run"
    code, err = cli(capsys, "scan", "--snapshot", str(tmp_path / "missing.json"), "--out", str(out), "-q")
    assert code == run.ExitCode.USAGE and "snapshot not found" in err
    assert list(tmp_path.iterdir()) == []  # not even the reports/weekly/ folders made for the run


@pytest.mark.parametrize("fails_midway", [False, True], ids=["moved-entry-by-entry", "undone-when-a-move-fails"])
def test_an_empty_folder_that_cannot_be_replaced_is_filled_entry_by_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], offline: list[str],
    fails_midway: bool,
) -> None:
    """An empty mount point cannot be renamed over: the run moves in file by file, or not at all."""
    out = tmp_path / "mounted"
    out.mkdir()
    real_rename = os.rename
    entries = 0

    def rename(source: Any, target: Any) -> None:
        nonlocal entries
        if Path(target) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        entries += 1
        if fails_midway and entries == 3:
            raise OSError(errno.EIO, "Input/output error")
        real_rename(source, target)

    monkeypatch.setattr(output.os, "rename", rename)
    code, err = cli(capsys, *offline, "--out", str(out))

    if fails_midway:
        assert code == run.ExitCode.USAGE and "Input/output error" in err
        assert list(out.iterdir()) == []
    else:
        assert code == run.ExitCode.FINDINGS
        assert {"results.json", "snapshot.json", "rules"} <= {p.name for p in out.iterdir()}
    assert leftovers(tmp_path) == []
