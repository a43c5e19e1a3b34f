"""How the collector talks to AWS: the base session, clients, temporary credentials, paging, and the
translation of every failed call into a `CollectionError`.

Everything that touches credentials lives here, so that one module can promise they never reach a
snapshot: `AccountCredentials` hides its secrets from `repr`, and `Redactor` strips them from the
error messages that are recorded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from scanner.config import Collection, ManagementAccess
from scanner.errors import CredentialsError
from scanner.model import JSON, CollectionError

T = TypeVar("T")

_PROFILE_HINT = "list the profiles with `aws configure list-profiles`, or set management.profile to null"
NO_CREDENTIALS_HINT = (
    "configure credentials for the organization's management account: `aws sso login --profile NAME` and "
    "management.profile in the config, or AWS_PROFILE, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables"
)


# --------------------------------------------------------------------------------------------
# Credentials, sessions and clients
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountCredentials:
    """Temporary credentials for one account. Held in memory for the scan only, never stored."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)

    @classmethod
    def from_assume_role(cls, answer: Mapping[str, Any]) -> AccountCredentials:
        credentials = answer["Credentials"]
        return cls(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])

    def client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }

    def secrets(self) -> tuple[str, ...]:
        return (self.access_key_id, self.secret_access_key, self.session_token)


def base_session(access: ManagementAccess) -> boto3.Session:
    """The session for the management account's credentials: a named profile or the default chain."""
    try:
        return boto3.Session(profile_name=access.profile, region_name=access.region)
    except ProfileNotFound as exc:
        raise profile_not_found(exc) from None


def profile_not_found(exc: ProfileNotFound) -> CredentialsError:
    profile = exc.kwargs.get("profile", "?")
    return CredentialsError(f"the AWS profile {profile!r} does not exist", hint=_PROFILE_HINT)


def botocore_config(collection: Collection) -> BotocoreConfig:
    """Adaptive retries (client-side rate limiting when AWS throttles), explicit timeouts, and a
    connection pool large enough for every worker thread to share one client."""
    return BotocoreConfig(
        # total_max_attempts counts the first request too, as `collection.max_attempts` (and
        # AWS_MAX_ATTEMPTS) do; botocore's `max_attempts` key would count retries only.
        retries={"mode": "adaptive", "total_max_attempts": collection.max_attempts},
        connect_timeout=collection.connect_timeout_seconds,
        read_timeout=collection.read_timeout_seconds,
        max_pool_connections=max(10, collection.concurrency),
    )


class Clients:
    """Creates every client from the one base session.

    Member-account clients get their credentials as arguments instead of coming from a session of
    their own, so that event handlers registered on the base session (the demo's simulated
    failures, tests' call counters) apply to them too. Endpoints are never set here: boto3 already
    honours AWS_ENDPOINT_URL and the shared config file.
    """

    def __init__(self, session: boto3.Session, collection: Collection, region: str) -> None:
        self._session = session
        self._config = botocore_config(collection)
        self._region = region
        # boto3 sessions are not thread-safe; creating clients from worker threads must be serialised.
        self._lock = threading.Lock()

    def client(self, service: str, credentials: AccountCredentials | None = None, region: str | None = None) -> Any:
        kwargs = credentials.client_kwargs() if credentials is not None else {}
        with self._lock:
            try:
                return self._session.client(
                    service, region_name=region or self._region, config=self._config, **kwargs
                )
            except ProfileNotFound as exc:  # AWS_PROFILE names a profile that is not configured
                raise profile_not_found(exc) from None


def endpoint_url() -> str | None:
    """Recorded in the snapshot so that a run against a simulator can never pass for one against AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


class CollectionFailure(Exception):
    """A failure found by the collector itself (not by botocore), recorded like an AWS error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Redactor:
    """Removes every credential seen during the scan from text that is about to be recorded."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            # Very short values (a test's "x") would mangle ordinary words without protecting anything.
            self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "<redacted>")
        return text


def error_code_and_message(exc: Exception) -> tuple[str, str]:
    """AWS's error code and message; for transport failures, botocore's exception name."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(error.get("Code") or status or "Unknown")
        return code, str(error.get("Message") or exc)
    if isinstance(exc, CollectionFailure):
        return exc.code, str(exc)
    return type(exc).__name__, str(exc)


RECORDED_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError, CollectionFailure)
"""Failures recorded as collection errors; anything else is a bug and propagates."""


class ErrorLog:
    """The failures of one account (or of the organization-level calls), in the order they happened."""

    def __init__(self, account_id: str | None, redactor: Redactor) -> None:
        self.account_id = account_id
        self.errors: list[CollectionError] = []
        self._redact = redactor

    def record(self, api: str, exc: Exception, resource: str | None = None) -> None:
        code, message = error_code_and_message(exc)
        self.errors.append(CollectionError(api, code, self._redact(message), self.account_id, resource))

    def attempt(self, api: str, call: Callable[[], T], *, resource: str | None = None) -> T | None:
        """`call()`, or None after recording why it failed. Missing credentials are not a per-call
        failure: they mean nothing can be read, so they abort the scan with advice instead."""
        try:
            return call()
        except NoCredentialsError:
            raise CredentialsError("no AWS credentials found", hint=NO_CREDENTIALS_HINT) from None
        except RECORDED_FAILURES as exc:
            self.record(api, exc, resource)
            return None


# --------------------------------------------------------------------------------------------
# Paging and answers
# --------------------------------------------------------------------------------------------


def pages(
    call: Callable[..., Mapping[str, Any]],
    *,
    request_token: str,
    next_token: Callable[[Mapping[str, Any]], str | None],
    **params: Any,
) -> Iterator[Mapping[str, Any]]:
    """Every page of a listing, one request at a time.

    Stops only when the answer carries no token: a page may be empty while more follow
    (Organizations documents this for ListAccounts). A token that comes back twice would loop
    forever, so it raises instead.
    """
    seen: set[str] = set()
    token: str | None = None
    while True:
        page = call(**params, **({request_token: token} if token else {}))
        yield page
        token = next_token(page)
        if not token:
            return
        if token in seen:
            raise CollectionFailure("RepeatedPageToken", "the same page token came back twice; listing stopped")
        seen.add(token)


def next_token_field(name: str) -> Callable[[Mapping[str, Any]], str | None]:
    """For APIs that answer the next page's token in `name` (NextToken, nextToken)."""
    return lambda page: page.get(name)


def iam_marker(page: Mapping[str, Any]) -> str | None:
    """IAM pages with IsTruncated + Marker."""
    return page.get("Marker") if page.get("IsTruncated") else None


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a "Z" suffix; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> JSON:
    """An API answer as plain JSON data: datetimes as ISO strings, without ResponseMetadata (request
    ids and HTTP headers are transport noise, not evidence)."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
