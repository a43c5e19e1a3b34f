"""Fail closed on every answer: what the wire says, not what a botocore stub says.

A moto server (the `drifted` demo organization, with a dozen more accounts so that ListAccounts has two
pages) sits behind `tests.fault_proxy.FaultProxy`, which rewrites answers per rule. First the full
per-operation matrix through the in-process collector and the engine: every operation the collector
calls x {empty body, `{}`, a required field missing}. Then the main fault classes through the real
command (`python -m scanner scan` with AWS_ENDPOINT_URL at the proxy). For every case: the scan ends in
bounded time, the read is recorded as an error and the results that need it are `error` (never a pass
that the clean scan did not give), the exit code is 3, other accounts' results are the clean run's, and
no output byte holds the external id.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

from scanner import demo, run
from scanner.collect import PERMISSIONS, answers
from scanner.config import Collection, Config, MemberAccess, Scope
from scanner.model import Status
from scanner.rules import load_rules
from tests import fault_proxy as fp
from tests.conftest import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, MANAGEMENT_ACCOUNT_ID

EXTRA_ACCOUNTS = 12  # the drifted organization has 9 accounts: ListAccounts (20 a page) then needs 2 pages
EXTERNAL_ID = "ext-id:Audit/2026@artifact=scan"
COLLECTION = Collection(max_attempts=2, concurrency=4, connect_timeout_seconds=2, read_timeout_seconds=5,
                        call_timeout_seconds=4, account_timeout_seconds=60, max_pages_per_listing=6)
CONFIG = Config(member_accounts=MemberAccess(external_id=EXTERNAL_ID), collection=COLLECTION)


@dataclass
class Lab:
    population: demo.Population
    proxy: fp.FaultProxy
    moto: str
    root: Path
    clean: run.RunOutcome

    def scan(self, name: str, rule: fp.Rule | None, config: Config = CONFIG) -> run.RunOutcome:
        self.proxy.reset(rule)
        session = boto3.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                                region_name="us-east-1")
        return run.scan(config, load_rules(), out_dir=self.root / name, formats=["json"], gate=run.Gate(),
                        session=session)

    def hit(self, api: str) -> set[str]:
        return {account for (called, account), _ in self.proxy.attempts.items() if called == api}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = f"http://{host}:{port}"
    session = boto3.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                            region_name="us-east-1")
    population = demo.populate(session, "drifted", endpoint_url=moto)
    orgs = session.client("organizations", endpoint_url=moto)
    for n in range(EXTRA_ACCOUNTS):
        orgs.create_account(Email=f"extra{n}@example.com", AccountName=f"extra-{n}")
    # A role of interest with an inline policy, so that GetRolePolicy is called too.
    iam = session.client("iam", endpoint_url=moto)
    iam.create_role(RoleName="ArtifactReader", AssumeRolePolicyDocument=json.dumps(
        demo.service_trust("artifact.amazonaws.com", {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT_ID}})))
    iam.put_role_policy(RoleName="ArtifactReader", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "artifact:Get*", "Resource": "*"}]}))
    agreements = [dict(a) for a in population.customer_agreements]
    with (fp.FaultProxy(moto, FAKE_ACCESS_KEY_ID, MANAGEMENT_ACCOUNT_ID, agreements) as proxy,
          pytest.MonkeyPatch.context() as patch):
        patch.setenv("AWS_ENDPOINT_URL", proxy.url)
        building = Lab(population, proxy, moto, tmp_path_factory.mktemp("fail-closed"), None)  # type: ignore[arg-type]
        building.clean = building.scan("clean", None)
        assert building.clean.scan.info.complete, building.clean.scan.errors
        yield building
    server.stop()


@pytest.fixture
def through_proxy(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.setenv("AWS_ENDPOINT_URL", lab.proxy.url)
    return lab


def _by_key(outcome: run.RunOutcome) -> dict[tuple[str, str, str], str]:
    # An account's own results by its id alone: one whose listing entry was not read (DescribeAccount
    # failed) has neither name nor ARN, and is still the same account.
    # A role's result by its role; the rest (an account's, "no role matched") by account alone.
    return {(r.rule_id, r.account_id, r.resource_arn if ":role/" in r.resource_arn else ""): r.status.value
            for r in outcome.scan.results}


def assert_fails_closed(lab: Lab, outcome: run.RunOutcome, api: str, codes: set[str],
                        per_account: bool) -> None:
    """The read of `api` is a recorded error, exit 3, and no result passes that did not pass cleanly;
    with `per_account`, accounts `api` was not called in keep the clean run's results exactly."""
    errors = [*outcome.scan.errors]
    assert any(e.api == api and e.code in codes for e in errors), [(e.api, e.code, e.message) for e in errors]
    assert outcome.exit_code == run.ExitCode.INCOMPLETE and not outcome.scan.info.complete
    clean, faulty = _by_key(lab.clean), _by_key(outcome)
    for key, status in faulty.items():
        if status == Status.PASS.value:
            assert clean.get(key) == Status.PASS.value, (
                f"{key} passes only with the fault", sorted(k for k in clean if k[:2] == key[:2]))
    hit = lab.hit(api)
    if per_account:
        assert hit, f"{api} was never called"
        unread = {key[1] for key, status in faulty.items() if status == Status.ERROR.value}
        for key, status in clean.items():
            if key[1] not in hit:
                assert faulty.get(key) == status, key
            elif key in faulty:
                # Never better than the clean run: an unread account is an error, or ART-014's failure.
                assert faulty[key] in (status, Status.ERROR.value, Status.FAIL.value), key
            else:  # a role's result is gone only when the account's roles are unknown: an error says so
                assert key[1] in unread, key
        if api in ACCOUNT_BLOCKING:
            assert any(status == Status.ERROR.value for key, status in faulty.items() if key[1] in hit)


# --------------------------------------------------------------------------------------------
# Every operation the collector calls x {empty body, {}, a field missing}
# --------------------------------------------------------------------------------------------

# api -> (where the fault goes: "management", "member" (every member account) or None (everywhere),
#         a field the facts need, taken out of the answer, the config it needs to be called at all)
OU_SCOPE = "ou-scope"
MATRIX: dict[str, tuple[str | None, str, str | None]] = {
    "sts:GetCallerIdentity": (None, "Account", None),
    "sts:AssumeRole": (None, "AssumedRoleUser", None),
    "organizations:DescribeOrganization": (None, "MasterAccountId", None),
    "organizations:ListAWSServiceAccessForOrganization": (None, "ServicePrincipal", None),
    "organizations:ListAccounts": (None, "Accounts", None),
    "organizations:DescribeAccount": (None, "Arn", "listing-fails"),
    "organizations:ListAccountsForParent": (None, "Accounts", OU_SCOPE),
    "organizations:ListOrganizationalUnitsForParent": (None, "OrganizationalUnits", OU_SCOPE),
    # Called because the built-in SSM pack's integration can have a delegated administrator; the drifted
    # organization has two, so the per-account read is made too.
    "organizations:ListDelegatedAdministrators": (None, "Id", None),
    "organizations:ListDelegatedServicesForAccount": (None, "ServicePrincipal", None),
    "iam:ListRoles": (None, "RoleName", None),
    "iam:GetRole": (None, "AssumeRolePolicyDocument", None),
    "iam:ListAttachedRolePolicies": (None, "AttachedPolicies", None),
    "iam:ListRolePolicies": (None, "PolicyNames", None),
    "iam:GetRolePolicy": (None, "PolicyDocument", None),
    "artifact:ListCustomerAgreements": (None, "customerAgreements", None),
}
ACCOUNT_BLOCKING = {"sts:AssumeRole", "iam:ListRoles"}  # without them nothing in the account is known
PER_ACCOUNT = {"sts:AssumeRole", "iam:ListRoles", "iam:GetRole", "iam:ListAttachedRolePolicies",
               "iam:ListRolePolicies", "iam:GetRolePolicy"}
FAULTS = {"empty-body": fp.empty_body, "empty-object": fp.empty_object}


def test_the_matrix_covers_every_operation_the_collector_calls() -> None:
    called = {action for action in PERMISSIONS}
    assert called == set(answers.ANSWERS) == set(MATRIX)


def _cases() -> list[Any]:
    cases = []
    for api, (_, field, _needs) in MATRIX.items():
        for name in (*FAULTS, f"without-{field}"):
            cases.append(pytest.param(api, name, id=f"{api}-{name}"))
    return cases


@pytest.mark.parametrize(("api", "fault"), _cases())
def test_an_answer_without_what_the_facts_need_is_an_error_never_data(
    through_proxy: Lab, api: str, fault: str
) -> None:
    lab = through_proxy
    where, field, needs = MATRIX[api]
    rewrite = FAULTS.get(fault) or fp.without(field)
    rule = fp.only(api, where, rewrite)
    config = CONFIG
    if needs == "listing-fails":
        rule = fp.combine(fp.only("organizations:ListAccounts", None, fp.empty_body), rule)
    elif needs == OU_SCOPE:
        roots = boto3.client("organizations", endpoint_url=lab.moto, region_name="us-east-1").list_roots()
        config = Config(member_accounts=CONFIG.member_accounts, collection=COLLECTION,
                        scope=Scope(include_ous=(roots["Roots"][0]["Id"],)))
    started = time.monotonic()
    outcome = lab.scan(f"{api.replace(':', '-')}-{fault}", rule, config)
    assert time.monotonic() - started < 60
    # XML answers (IAM, STS) that are empty or `{}` are refused whole by the body check.
    codes = {"MalformedAnswer", "ResponseParserError"}
    assert_fails_closed(lab, outcome, api, codes, per_account=api in PER_ACCOUNT and config is CONFIG)


def test_another_accounts_roles_are_never_taken_for_this_ones(through_proxy: Lab) -> None:
    lab = through_proxy
    victim = lab.population.account_id("shared-services")
    other = lab.population.account_id("legacy-audit")
    stolen: dict[str, bytes] = {}

    def steal(exchange: fp.Exchange) -> None:
        if exchange.api == "iam:ListRoles" and exchange.account == other:
            stolen["roles"] = exchange.body

    # First learn what the other account answers, then answer the victim's ListRoles with it.
    lab.scan("learn", steal)
    outcome = lab.scan("foreign-roles", fp.only("iam:ListRoles", victim, fp.answer_of(lambda: stolen["roles"])))

    (error,) = [e for e in outcome.scan.errors if e.account_id == victim]
    assert (error.api, error.code) == ("iam:ListRoles", "MalformedAnswer")
    assert f"the answer belongs to account {other}, not {victim}" in error.message
    assert_fails_closed(lab, outcome, "iam:ListRoles", {"MalformedAnswer"}, per_account=False)
    clean = _by_key(lab.clean)
    assert {k: v for k, v in _by_key(outcome).items() if k[1] != victim} == {
        k: v for k, v in clean.items() if k[1] != victim}


def test_a_listing_that_never_ends_stops_at_the_page_bound(through_proxy: Lab) -> None:
    lab = through_proxy
    outcome = lab.scan("endless-roles", fp.only("iam:ListRoles", lab.population.account_id("legacy-audit"),
                                                fp.fresh_tokens))
    (error,) = [e for e in outcome.scan.errors if e.api == "iam:ListRoles"]
    assert error.code == "TooManyPages" and "collection.max_pages_per_listing" in error.message
    assert lab.proxy.attempts[("iam:ListRoles", lab.population.account_id("legacy-audit"))] == 6


# --------------------------------------------------------------------------------------------
# Validation itself: no answer shape yields a complete read unless it holds what is declared
# --------------------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["Accounts", "Roles", "RoleName", "Arn", "Id", "State", "Path", "Role", "Organization",
                         "EnabledServicePrincipals", "ServicePrincipal", "IsTruncated", "customerAgreements",
                         "DelegatedAdministrators", "DelegatedServices", "Status",
                         "AssumeRolePolicyDocument", "PolicyNames", "AttachedPolicies", "PolicyArn"]),
        children, max_size=4),
    max_leaves=12,
)


def _conforms(spec: Any, value: Any) -> bool:
    """An independent reading of the declaration, without its custom checks (those only refuse more)."""
    if isinstance(spec, dict):
        return isinstance(value, dict) and all(
            any(value.get(n) is not None and _conforms(s, value[n]) for n in k.split("|")) for k, s in spec.items())
    if isinstance(spec, list):
        return isinstance(value, list) and all(_conforms(spec[0], v) for v in value)
    if isinstance(spec, (type, tuple)):
        return isinstance(value, spec)
    return True


@settings(max_examples=400, deadline=None)
@given(api=st.sampled_from(sorted(answers.ANSWERS)), answer=_JSON)
def test_no_answer_shape_passes_validation_without_what_is_declared(api: str, answer: Any) -> None:
    try:
        answers.check(answers.Reading(api, "123456789012"), answer)
    except answers.AnswerError:
        return
    assert _conforms(answers.ANSWERS[api], answer), answer


@settings(max_examples=200, deadline=None)
@given(drop=st.integers(min_value=0, max_value=3), owner=st.sampled_from(["123456789012", "210987654321"]))
def test_a_role_listing_missing_any_field_or_of_another_account_is_refused(drop: int, owner: str) -> None:
    role = {"RoleName": "r", "Arn": "arn:aws:iam::123456789012:role/r", "Path": "/", "AssumeRolePolicyDocument": {}}
    page = {"Roles": [role], "IsTruncated": False}
    answers.check(answers.Reading("iam:ListRoles", "123456789012"), page)  # the whole answer is accepted
    broken = {**role}
    del broken[sorted(role)[drop]]
    with pytest.raises(answers.AnswerError):
        answers.check(answers.Reading("iam:ListRoles", "123456789012"), {"Roles": [broken], "IsTruncated": False})
    if owner != "123456789012":
        with pytest.raises(answers.AnswerError, match="belongs to account 123456789012"):
            answers.check(answers.Reading("iam:ListRoles", owner), page)
    assert answers.check(answers.Reading("iam:ListRoles", None), {"Roles": [], "IsTruncated": False}) is None


# --------------------------------------------------------------------------------------------
# The real command
# --------------------------------------------------------------------------------------------


def command(lab: Lab, tmp_path: Path, endpoint: str, *args: str, config: str = "", timeout: float = 120
            ) -> tuple[subprocess.CompletedProcess[bytes], float]:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "collection: {max_attempts: 2, call_timeout_seconds: 4, read_timeout_seconds: 5, max_pages_per_listing: 6}\n"
        f"member_accounts: {{external_id: '{EXTERNAL_ID}'}}\n" + config)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY_ID,
               AWS_SECRET_ACCESS_KEY=FAKE_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--config", str(config_file), "--out", str(tmp_path / "run"),
         "--evidence", *args], env=env, capture_output=True, timeout=timeout)
    return completed, time.monotonic() - started


def every_output_byte(tmp_path: Path, completed: subprocess.CompletedProcess[bytes]) -> bytes:
    # The run folder, and the evidence bundle written beside it.
    files = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "config.yaml"]
    assert any(p.suffix == ".tar" for p in tmp_path.rglob("evidence-*")), "no evidence bundle was written"
    return b"\n".join([completed.stdout, completed.stderr, *files])


def results(tmp_path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / "run" / "results.json").read_text())
    return document


@pytest.mark.parametrize("case", ["second-accounts-page-empty", "drip", "external-id-echo", "endless-accounts"])
def test_the_command_fails_closed(lab: Lab, tmp_path: Path, case: str) -> None:
    secret_forms = [EXTERNAL_ID.encode(), EXTERNAL_ID.replace(":", "%3A").replace("/", "%2F").replace("@", "%40")
                    .replace("=", "%3D").encode()]
    member = lab.population.account_id("workload-healthy")
    rules = {
        "second-accounts-page-empty": fp.only("organizations:ListAccounts", None, fp.empty_body, attempt=2),
        "drip": fp.only("organizations:ListAWSServiceAccessForOrganization", None, fp.drip(0.5)),
        "external-id-echo": fp.only("sts:AssumeRole", member, fp.error(
            400, "ValidationError", f"1 validation error detected: Value '{EXTERNAL_ID}' at 'externalId' failed to "
            f"satisfy constraint (request: ExternalId={secret_forms[1].decode()})")),
        "endless-accounts": fp.only("organizations:ListAccounts", None, fp.fresh_tokens),
    }
    lab.proxy.reset(rules[case])
    completed, elapsed = command(lab, tmp_path, lab.proxy.url, "--quiet")
    assert b"Traceback" not in completed.stderr
    assert completed.returncode == 3, completed.stderr.decode()
    assert elapsed < 90
    found = results(tmp_path)
    assert found["run"]["complete"] is False
    apis = {(e["api"], e["code"]) for e in found["errors"]}
    expected = {
        "second-accounts-page-empty": ("organizations:ListAccounts", "MalformedAnswer"),
        "drip": ("organizations:ListAWSServiceAccessForOrganization", "CallDeadlineExceeded"),
        "external-id-echo": ("sts:AssumeRole", "ValidationError"),
        "endless-accounts": ("organizations:ListAccounts", "TooManyPages"),
    }[case]
    assert expected in apis, apis
    output = every_output_byte(tmp_path, completed)
    for form in secret_forms:
        assert form not in output
    if case == "external-id-echo":
        assert b"<redacted>" in output


def test_an_endpoint_that_cannot_be_reached_stops_the_scan_within_seconds(lab: Lab, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    completed, elapsed = command(lab, tmp_path, closed)
    err = completed.stderr.decode()
    assert completed.returncode == 2, err
    assert elapsed < 20
    assert f"cannot connect to {closed}" in err and "nothing was scanned" in err and "AWS_ENDPOINT_URL" in err
    assert not (tmp_path / "run").exists()


def test_a_moto_server_without_the_artifact_api_says_not_available(lab: Lab, tmp_path: Path) -> None:
    completed, _ = command(lab, tmp_path, lab.moto, "--quiet")
    assert completed.returncode == 3
    (error,) = results(tmp_path)["errors"]
    assert error["api"] == "artifact:ListCustomerAgreements"
    assert error["message"].startswith("not available at this endpoint (HTTP 5")
    for name in ("results.json", "snapshot.json", "summary.md"):
        text = (tmp_path / "run" / name).read_text().lower()
        assert "<!doctype" not in text and "<html" not in text and "internal server error" not in text
    assert b"<html" not in (completed.stdout + completed.stderr).lower()


def test_collect_says_when_it_retries_and_why_it_exits_3(lab: Lab, tmp_path: Path) -> None:
    lab.proxy.reset(fp.only("organizations:ListAWSServiceAccessForOrganization", None,
                            fp.error(503, "ServiceUnavailableException", "Service unavailable")))
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=lab.proxy.url, AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY_ID,
               AWS_SECRET_ACCESS_KEY=FAKE_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    config = tmp_path / "config.yaml"
    config.write_text("collection: {max_attempts: 2}\n")
    completed = subprocess.run(
        [sys.executable, "-m", "scanner", "collect", "--config", str(config), "-o", str(tmp_path / "snapshot.json")],
        env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 3, completed.stderr
    assert "retrying organizations:ListAWSServiceAccessForOrganization (attempt 2 of 2): " in completed.stderr
    assert "incomplete (exit 3): 1 read failed" in completed.stderr
    assert "organization: organizations:ListAWSServiceAccessForOrganization: 503" in completed.stderr \
        or "organization: organizations:ListAWSServiceAccessForOrganization: ServiceUnavailable" in completed.stderr


def test_collect_help_shows_its_own_exit_codes() -> None:
    from scanner.cli.command import build_parser

    parser = build_parser()
    collect = parser._subparsers._group_actions[0].choices["collect"]
    text = collect.format_help()
    assert "--fail-on" not in text and "the snapshot is complete" in text
