"""Shared pytest configuration: no test may reach a real AWS account, and the few things moto lacks
are made up for in one place (scanner.demo, reused here so the demo and the tests simulate AWS alike).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scanner import demo

FAKE_ACCESS_KEY_ID = "AKIAFAKEKEYFORTESTS1"
FAKE_SECRET_ACCESS_KEY = "fake-secret-access-key-for-tests-only"
MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account: the one the fake keys belong to


# --- golden files: `pytest --update-golden` rewrites tests/golden/* (see tests/golden_support.py) ---
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden instead of comparing with them")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# --- AWS ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no profile, config file, endpoint or instance metadata: whatever the
    developer's environment holds, no test can reach a real account."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in (
            "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    """A moto-backed session for the management account, with the Artifact API answering no agreement.

    moto gap: moto does not implement the AWS Artifact API (it answers 404 "Not yet implemented"), so
    the stub from scanner.demo answers ListCustomerAgreements; without it every scan is incomplete.
    """
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY, region_name="us-east-1"
        )
        demo.stub_customer_agreements(session, [])
        yield session


@dataclass
class Call:
    api: str  # "iam:ListRoles"
    account_id: str
    params: Mapping[str, Any]


@dataclass
class CallLog:
    """Every API call made by clients of a session, attributed to the account whose credentials signed it.

    moto gap: nothing in moto tells which account a call was made in, so the log learns the keys
    AssumeRole hands out and maps each call's access key to that role's account.
    """

    calls: list[Call] = field(default_factory=list)
    accounts_by_key: dict[str, str] = field(default_factory=lambda: {FAKE_ACCESS_KEY_ID: MANAGEMENT_ACCOUNT_ID})
    issued_secrets: list[str] = field(default_factory=list)  # every credential AssumeRole returned
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, session: boto3.Session) -> CallLog:
        session.events.register("before-parameter-build", self._remember_params)
        session.events.register("before-call", self._record)
        session.events.register("after-call.sts.AssumeRole", self._learn_keys)
        return self

    def account_of(self, request_signer: Any) -> str:
        # The signer's credentials are the only trace of the account a client was created for.
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", None) or ""
        with self.lock:
            return self.accounts_by_key.get(key, f"unknown key {key}")

    def clear(self) -> None:
        """Forget the calls and credentials seen so far (a fixture's own setup calls), keeping the keys."""
        with self.lock:
            self.calls.clear()
            self.issued_secrets.clear()

    def count(self, account_id: str | None = None, api: str | None = None) -> int:
        return len(self.of(account_id, api))

    def of(self, account_id: str | None = None, api: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if account_id in (None, c.account_id) and api in (None, c.api)]

    def _remember_params(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["call_log_params"] = dict(params)

    def _record(self, model: Any, context: Mapping[str, Any], request_signer: Any, **_: Any) -> None:
        prefix = model.service_model.metadata.get("signingName") or model.service_model.endpoint_prefix
        call = Call(f"{prefix}:{model.name}", self.account_of(request_signer), context.get("call_log_params", {}))
        with self.lock:
            self.calls.append(call)

    def _learn_keys(self, parsed: Mapping[str, Any], **_: Any) -> None:
        credentials = parsed.get("Credentials")
        if not credentials:
            return
        account = parsed["AssumedRoleUser"]["Arn"].split(":")[4]
        with self.lock:
            self.accounts_by_key[credentials["AccessKeyId"]] = account
            self.issued_secrets += [credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]]


@pytest.fixture
def call_log(aws: boto3.Session) -> CallLog:
    return CallLog().attach(aws)
