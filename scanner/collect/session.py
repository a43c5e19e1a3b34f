"""How the collector talks to AWS: the base session, clients, temporary credentials, paging, and the
translation of every failed call into a `CollectionError`.

Everything that touches credentials lives here, so that one module can promise they never reach a
snapshot: AssumeRole's answers are read into refreshable credentials whose every secret is added to the
`Redactor` first, and the `Redactor` strips them from the error messages that are recorded.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload
from urllib.parse import quote, quote_plus, unquote, urlsplit

import boto3
from botocore.config import Config as BotocoreConfig
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.handlers import json_decode_policies
from botocore.parsers import ResponseParserError
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from scanner.collect import answers
from scanner.collect.deadlines import Watchdog
from scanner.collect.limits import CallStats, Limits, RateLimiter, RetryPolicy, classify
from scanner.config import DEFAULT_MAX_PAGES, Collection, ManagementAccess
from scanner.errors import CredentialsError
from scanner.model import JSON, CollectionError

if TYPE_CHECKING:  # the stubs exist for the type checker only (the test extra installs them)
    from mypy_boto3_artifact import ArtifactClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_sts import STSClient

# The AWS services the scanner calls: a client for any other is a mistake the type checker names.
Service = Literal["artifact", "iam", "organizations", "securityhub", "sts"]

T = TypeVar("T")

RetryNotice = Callable[[str, int, int, str], None]
"""Called with (api, the attempt about to be made, max attempts, why) before a call is retried."""

_PROFILE_HINT = "list the profiles with `aws configure list-profiles`"
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

    def secrets(self) -> tuple[str, ...]:
        return (self.access_key_id, self.secret_access_key, self.session_token)


def assumed_role_credentials(
    answer: Mapping[str, Any],
    assume_again: Callable[[], Mapping[str, Any]],
    redactor: Redactor,
    *,
    account_id: str | None = None,
) -> RefreshableCredentials:
    """AssumeRole's credentials, reused for every call in the account and refreshed before they expire.

    botocore's RefreshableCredentials calls `assume_again` when the credentials are within the advisory
    margin of their expiry (refreshed by one thread while others go on signing with the old ones) or
    the mandatory margin (every thread waits for the new ones). The margins are botocore's (15 and 10
    minutes) for sessions of an hour or more, and a quarter and a sixth of the session for shorter ones.
    Every credential handed out is added to `redactor` before it is used.
    """

    def metadata(response: Mapping[str, Any]) -> dict[str, Any]:
        credentials = AccountCredentials.from_assume_role(response)
        redactor.add(*credentials.secrets())
        expiration = response["Credentials"]["Expiration"]
        return {
            "access_key": credentials.access_key_id,
            "secret_key": credentials.secret_access_key,
            "token": credentials.session_token,
            "expiry_time": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
            "account_id": account_id,
        }

    try:
        first = metadata(answer)
        expiry = answer["Credentials"]["Expiration"]
        if not isinstance(expiry, datetime):
            expiry = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError) as exc:
        # An endpoint's answer without usable credentials fails this account's read, not the whole scan.
        raise CollectionFailure("MalformedAnswer", f"AssumeRole answered without usable credentials: {exc!r}") from None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    lifetime = max(1.0, (expiry - datetime.now(timezone.utc)).total_seconds())
    # What create_from_metadata builds, with the expiry already read: it would parse the same time again
    # with dateutil, 0.1 to 0.2 ms of CPU per account. A refresh parses its own answer's expiry as before.
    return RefreshableCredentials(
        access_key=first["access_key"],
        secret_key=first["secret_key"],
        token=first["token"],
        expiry_time=expiry,
        refresh_using=lambda: metadata(assume_again()),
        method="assume-role",
        # Fractions of the lifetime, in seconds. botocore only compares them with the time left, so a float is
        # what it uses at run time; its stubs say int, and rounding to whole seconds would refresh credentials
        # that live a second (the benchmark's and tests' short lifetimes) on every call.
        advisory_timeout=min(15 * 60, lifetime / 4),  # type: ignore[arg-type]
        mandatory_timeout=min(10 * 60, lifetime / 6),  # type: ignore[arg-type]
        account_id=account_id,
    )


class CallContext(threading.local):
    """What the calling thread is doing: the account it scans, the credentials it signs with there, and
    when its last request's token was reserved (for the rate limiter). One per thread."""

    def __init__(self) -> None:
        self.account_id: str | None = None
        self.credentials: Credentials | None = None
        self.reserved_at = 0.0
        self.deadline: float | None = None  # monotonic: when the account being read must be done

    @contextmanager
    def account_deadline(self, seconds: float) -> Iterator[None]:
        """Every call of this thread inside the block fails once `seconds` have passed (see deadlines)."""
        previous = self.deadline
        self.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self.deadline = previous

    @contextmanager
    def account(self, account_id: str, credentials: Credentials | None) -> Iterator[None]:
        previous = (self.account_id, self.credentials)
        self.account_id, self.credentials = account_id, credentials
        try:
            yield
        finally:
            self.account_id, self.credentials = previous


class ThreadCredentials(Credentials):
    """The credentials of the account the calling thread is scanning (`CallContext.account`).

    Lets one IAM client serve every account: botocore asks the signer's credentials object for frozen
    credentials on every request, so each request is signed for the calling thread's account, with
    that account's refreshable AssumeRole credentials. Creating a client per account instead costs 2 to
    6 ms of CPU each (10,000 accounts: a minute of the GIL) and a new TLS connection each.
    """

    def __init__(self, context: CallContext) -> None:
        self._context = context
        self.method = "artifact-scan-account"

    def _current(self) -> Credentials | None:
        return self._context.credentials

    # botocore declares these as plain attributes; here they answer for the calling thread, read-only.
    @property
    def access_key(self) -> str | None:  # type: ignore[override]
        current = self._current()
        return current.access_key if current is not None else None

    @property
    def secret_key(self) -> str | None:  # type: ignore[override]
        current = self._current()
        return current.secret_key if current is not None else None

    @property
    def token(self) -> str | None:  # type: ignore[override]
        current = self._current()
        return current.token if current is not None else None

    def get_frozen_credentials(self) -> ReadOnlyCredentials | None:  # type: ignore[override]
        current = self._current()
        return current.get_frozen_credentials() if current is not None else None


def base_session(access: ManagementAccess, config_source: str | None = None) -> boto3.Session:
    """The session for the management account's credentials: a named profile or the default chain."""
    try:
        return boto3.Session(profile_name=access.profile, region_name=access.region)
    except ProfileNotFound as exc:
        if access.profile is not None:
            raise profile_not_found(exc, f"{config_source or 'the config'}: $.management.profile") from None
        raise profile_not_found(exc) from None


def profile_not_found(exc: ProfileNotFound, named_by: str | None = None) -> CredentialsError:
    """The profile's name came from the config (`named_by` says where) or, by default, from AWS_PROFILE."""
    profile = exc.kwargs.get("profile", "?")
    if named_by is not None:
        return CredentialsError(
            f"{named_by}: the AWS profile {profile!r} does not exist",
            hint=f"{_PROFILE_HINT}; fix management.profile, or remove it to use the default credential chain",
        )
    return CredentialsError(
        f"the AWS profile {profile!r} (from AWS_PROFILE) does not exist",
        hint=f"{_PROFILE_HINT}; fix or unset AWS_PROFILE",
    )


def botocore_config(collection: Collection) -> BotocoreConfig:
    """Explicit timeouts and a connection pool large enough for every worker thread to share one client.

    botocore makes one attempt per call: `Instrumentation` retries instead, so that throttling slows the
    limiter every worker shares and retries are counted (see scanner.collect.limits).
    """
    return BotocoreConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=collection.connect_timeout_seconds,
        read_timeout=collection.read_timeout_seconds,
        max_pool_connections=max(10, collection.concurrency),
    )


class Instrumentation:
    """Rate limits, retries and counts, attached to each client through botocore's events.

    - `before-call` (first): counts the call, even one a test or the demo answers without sending it;
    - `before-send` (first, so before any simulator or moto answers): waits for the limiter's token;
    - `needs-retry`: classifies the answer; throttling slows the limiter; decides the retry.
    """

    def __init__(self, collection: Collection, context: CallContext, notify: RetryNotice | None = None) -> None:
        self.limits = Limits(collection.max_requests_per_second)
        self.stats = CallStats()
        self.retries = RetryPolicy(collection.max_attempts)
        self.context = context
        self.notify = notify
        self.collection = collection
        self.watchdog = Watchdog()
        # Hosts that have answered at least once. A connection to any other host that fails is not
        # retried: an endpoint that cannot be reached at all (refused, unknown host) would otherwise cost
        # minutes of backoff before the scan could say so.
        self._reached: set[str] = set()
        self._reached_urls: set[str] = set()

    def call_deadline(self) -> tuple[float, str]:
        """The deadline of an exchange starting now on the calling thread, and what sets it."""
        collection = self.collection
        at = time.monotonic() + collection.call_timeout_seconds
        account = self.context.deadline
        if account is not None and account < at:
            return account, "account"
        return at, "call"

    def deadline_exceeded(self, why: str) -> CollectionFailure:
        if why == "account":
            return CollectionFailure(
                "AccountDeadlineExceeded",
                f"the account was not read within collection.account_timeout_seconds "
                f"({self.collection.account_timeout_seconds:g} s); the rest of its reads were abandoned",
            )
        return CollectionFailure(
            "CallDeadlineExceeded",
            f"the answer did not arrive in full within collection.call_timeout_seconds "
            f"({self.collection.call_timeout_seconds:g} s)",
        )

    def reached(self, url: str | None) -> bool:
        return urlsplit(url or "").netloc in self._reached

    def attach(self, client: Any, service: str) -> None:
        events = client.meta.events
        event = client.meta.service_model.service_id.hyphenize()
        shared = service != "iam"

        def limiter() -> RateLimiter | None:
            return self.limits.limiter(service, None if shared else self.context.account_id)

        def before_call(model: Any, **_: Any) -> None:
            self.stats.call(f"{service}:{model.name}")

        def before_send(**_: Any) -> None:
            account_deadline = self.context.deadline
            if account_deadline is not None and account_deadline <= time.monotonic():
                raise self.deadline_exceeded("account")  # also for answers no socket carries (simulators)
            found = limiter()
            self.context.reserved_at = found.acquire() if found is not None else time.monotonic()

        def keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["artifact_scan_params"] = params

        def after_call(http_response: Any, parsed: Any, model: Any, context: Mapping[str, Any], **_: Any) -> None:
            if int(getattr(http_response, "status_code", 200) or 200) >= 300:
                return  # botocore raises the error next
            api = f"{service}:{model.name}"
            if api not in answers.ANSWERS:
                return  # not a call the collector makes (a test's fixture); tests check that every one is declared
            reading = answers.Reading(api, self._owner(service, model.name, context))
            try:
                answers.check(reading, parsed)
            except answers.AnswerError as exc:
                raise CollectionFailure("MalformedAnswer", f"{model.name}: {exc}", model.name) from None

        def needs_retry(
            response: Any = None, caught_exception: Any = None, attempts: int = 1, operation: Any = None,
            request_dict: Any = None, **_: Any
        ) -> float | None:
            url = (request_dict or {}).get("url") if isinstance(request_dict, Mapping) else None
            if response is not None and url and url not in self._reached_urls:
                # set.add is one bytecode: safe across the worker threads; each URL is split once.
                self._reached_urls.add(url)
                self._reached.add(urlsplit(url).netloc)
            if isinstance(caught_exception, EndpointConnectionError) and not self.reached(url):
                return None
            kind = classify(response, caught_exception)
            if kind is None:
                if response is not None:
                    found = limiter()
                    if found is not None:
                        found.succeeded()
                return None
            label = f"{service}:{operation.name if operation is not None else '?'}"
            throttled = kind == "throttling"
            if throttled:
                found = limiter()
                if found is not None:
                    found.throttled(self.context.reserved_at)
            delay = self.retries.delay(kind, attempts)
            if delay is None:
                if throttled:
                    self.stats.throttled_final(label)
                return None
            self.stats.retry(label, throttled=throttled)
            if self.notify is not None:
                self.notify(label, attempts + 1, self.retries.max_attempts, _why(response, caught_exception, delay))
            return delay

        if service == "iam":
            # botocore's own decoding of IAM's policy documents, done the same way at a third of the cost.
            events.unregister("after-call.iam", json_decode_policies)
            events.register_first("after-call.iam", decode_policies)
        events.register_first(f"before-call.{event}", before_call)
        events.register_first(f"before-send.{event}", before_send)
        events.register(f"needs-retry.{event}", needs_retry)
        # Last, so that it judges the answer every other handler (a test's, the demo's) has seen.
        events.register_last(f"after-call.{event}", after_call)
        for operation in ("AssumeRole", "DescribeAccount"):
            events.register(f"before-parameter-build.{event}.{operation}", keep_params)
        self.watchdog.guard(client, self.call_deadline, self.deadline_exceeded)
        # Last of all (and at the least specific name, whose handlers run after the specific ones'): it
        # judges the body every other handler has seen.
        events.register_last("before-parse", check_body)


    def _owner(self, service: str, operation: str, context: Mapping[str, Any]) -> str | None:
        """The account an answer must belong to: the account being read (IAM), AssumeRole's target, the
        account DescribeAccount was asked about; None for the organization's own reads."""
        if service == "iam":
            return self.context.account_id
        params = context.get("artifact_scan_params") or {}
        if operation == "AssumeRole":
            parts = str(params.get("RoleArn", "")).split(":")
            return parts[4] if len(parts) > 5 else ""
        if operation == "DescribeAccount":
            return str(params.get("AccountId", ""))
        return None


def _why(response: Any, caught_exception: Any, delay: float) -> str:
    if caught_exception is not None:
        cause = type(caught_exception).__name__
    else:
        http_response, parsed = response
        code = str((parsed or {}).get("Error", {}).get("Code") or "")
        cause = code or f"HTTP {getattr(http_response, 'status_code', '?')}"
    return f"{cause}; next attempt in {delay:.1f} s"


# --------------------------------------------------------------------------------------------
# IAM's policy documents
# --------------------------------------------------------------------------------------------

_POLICY_DOCUMENT_SHAPE = "policyDocumentType"  # how IAM's model marks every policy document (botocore's rule)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

_Decoder = Callable[[Any], None]


def unquote_policy(text: Any) -> Any:
    """`urllib.parse.unquote(text)`, the same string, for IAM's URL-encoded documents at a third of the cost.

    IAM's documents are ASCII with every escape well formed: each `%XX` becomes `\\xXX` (backslashes doubled
    first), which the C `unicode_escape` codec turns into the byte it names; the bytes are then read as
    UTF-8 with replacement, as `unquote` reads them. Anything else (non-ASCII text, a `%` not followed by two
    hex digits, not a string) goes to `unquote` itself. A ListRoles page of 1,000 roles has 1,000 of them:
    the standard library's loop over escapes was about a sixth of the collector's CPU per account."""
    if not isinstance(text, str) or not text.isascii() or _BAD_ESCAPE.search(text):
        return unquote(text)
    if "%" not in text:
        return text
    raw = text.replace("\\", "\\\\").replace("%", "\\x").encode("ascii").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def decode_policy_document(value: Any) -> Any:
    """botocore's `decode_quoted_jsondoc`: the document as JSON data, or unchanged when it is not URL-encoded JSON."""
    try:
        return json.loads(unquote_policy(value))
    except (ValueError, TypeError):
        return value


_DECODERS: dict[tuple[str, str], _Decoder | None] = {}
_DECODERS_LOCK = threading.Lock()


def decode_policies(parsed: Any, model: Any, **_: Any) -> None:
    """botocore's `json_decode_policies` (an `after-call.iam` handler): every member of the policy-document
    shape in the answer decoded in place, by a walker compiled once per operation that visits only the
    members that can hold one (botocore walks every member of every item of every answer)."""
    output = model.output_shape
    if output is None:
        return
    key = (model.service_model.service_name, model.name)
    if key not in _DECODERS:
        with _DECODERS_LOCK:
            _DECODERS[key] = _compile_decoder(output, set())
    decoder = _DECODERS[key]
    if decoder is not None:
        decoder(parsed)


def _compile_decoder(shape: Any, visiting: set[str]) -> _Decoder | None:
    """The walk of botocore's `_decode_policy_types` over `shape`, or None when nothing under it is a document."""
    if shape.name in visiting:  # a recursive shape (IAM has none today): compiled again at each level it reaches
        return partial(_walk_again, shape)
    visiting = visiting | {shape.name}
    if shape.type_name == "structure":
        documents = tuple(name for name, member in shape.members.items()
                          if member.type_name == "string" and member.name == _POLICY_DOCUMENT_SHAPE)
        nested = tuple((name, walk) for name, member in shape.members.items() if name not in documents
                       for walk in [_compile_decoder(member, visiting)] if walk is not None)
        if not documents and not nested:
            return None

        def structure(parsed: Any) -> None:
            for name in documents:
                if name in parsed:
                    parsed[name] = decode_policy_document(parsed[name])
            for name, walk in nested:
                if name in parsed:
                    walk(parsed[name])

        return structure
    if shape.type_name == "list":
        item = _compile_decoder(shape.member, visiting)
        if item is None:
            return None
        walk_item = item

        def items(parsed: Any) -> None:
            for value in parsed:
                walk_item(value)

        return items
    return None


def _walk_again(shape: Any, parsed: Any) -> None:
    decoder = _compile_decoder(shape, set())
    if decoder is not None:
        decoder(parsed)


NOT_AVAILABLE_STATUS = frozenset({404, 405, 500, 501})
"""Statuses that, with a body not in the API's own format (an HTML page), mean the endpoint has no such
API (a moto server has no Artifact API). 502 to 504 pages come from gateways and stay transient."""


def check_body(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """Refuse a successful answer whose body is cut short or is not the API's format at all (a proxy's
    HTML page), which botocore would otherwise read as an answer with nothing in it, or fail on with a
    KeyError: raise ResponseParserError, recorded like any failed read.

    Query (XML) answers must end with the operation's closing element; JSON answers must be JSON. Both
    checks are cheap next to botocore's own parsing.
    """
    status = int(response_dict.get("status_code") or 0)
    body = response_dict.get("body")
    if not isinstance(body, (bytes, bytearray)) or operation_model.has_streaming_output:
        return
    protocol = operation_model.service_model.resolved_protocol
    if not 200 <= status < 300:
        if status in NOT_AVAILABLE_STATUS and not _in_protocol_format(protocol, bytes(body)):
            # Never the page itself in the reason: it is an endpoint's HTML, not an AWS answer.
            raise CollectionFailure("NotAvailable", f"not available at this endpoint (HTTP {status})")
        return
    if protocol == "query":
        closing = f"</{operation_model.name}Response>".encode()
        if not bytes(body).rstrip().endswith(closing):
            raise ResponseParserError(f"the answer is not a complete {operation_model.name} response: {_excerpt(body)}")
    elif protocol in ("json", "rest-json") and body.strip():
        try:
            json.loads(body)
        except ValueError:
            raise ResponseParserError(f"the answer is not JSON: {_excerpt(body)}") from None


def _in_protocol_format(protocol: str, body: bytes) -> bool:
    """An error answer AWS itself would send: XML for query APIs, JSON (or nothing) for the others."""
    text = body.strip()
    if protocol == "query":
        return text.startswith(b"<") and not text[:200].lower().startswith((b"<!doctype", b"<html"))
    if not text:
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _excerpt(body: bytes | bytearray, limit: int = 120) -> str:
    text = bytes(body[:limit]).decode("utf-8", errors="replace")
    return repr(text + ("..." if len(body) > limit else ""))


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, with ISO 8601 in UTC (every IAM and STS timestamp) read by the standard
    library: botocore's default, dateutil, was a fifth of the scan's CPU (20 CreateDates per ListRoles page),
    and a scan of 10,000 accounts is bound by that CPU, not by the network. Same datetime either way."""
    if isinstance(value, str):
        try:
            # Python 3.10's fromisoformat does not take the "Z" every IAM and STS timestamp ends with.
            parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    fallback: datetime = botocore_parse_timestamp(value)  # epoch numbers (JSON APIs), RFC 822, and the rest
    return fallback


def use_fast_timestamps(session: boto3.Session) -> None:
    """Every client the session creates from now on parses timestamps with `parse_timestamp` (a session
    handed to the collector keeps this setting: its datetimes are the same, only read faster).

    ResponseParserFactory.set_parser_defaults is botocore's documented knob for this; boto3 keeps its
    botocore session in `_session`.
    """
    factory = session._session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)


def sign_with(client: Any, credentials: Credentials) -> None:
    """Make `client` sign every request with `credentials` (a refreshable or per-thread object).

    boto3 takes only static keys for a client; botocore's RequestSigner holds the credentials object it
    asks for frozen keys on each request, which is where refreshable credentials must go.
    """
    signer = getattr(client, "_request_signer", None)
    if signer is None or not hasattr(signer, "_credentials"):
        raise RuntimeError("this botocore version has no RequestSigner._credentials; artifact-scan needs botocore 1.x")
    signer._credentials = credentials


class Clients:
    """Creates every client from the one base session, instrumented with the scan's limits.

    Clients get other accounts' credentials as objects set on them instead of coming from a session of
    their own, so that event handlers registered on the base session (the demo's simulated failures,
    tests' call counters, the benchmark's simulator) apply to them too. Endpoints are never set here:
    boto3 already honours AWS_ENDPOINT_URL and the shared config file.
    """

    def __init__(
        self, session: boto3.Session, collection: Collection, region: str, notify: RetryNotice | None = None
    ) -> None:
        self._session = session
        use_fast_timestamps(session)
        self._config = botocore_config(collection)
        self._region = region
        self.context = CallContext()
        self.instrumentation = Instrumentation(collection, self.context, notify)
        # boto3 sessions are not thread-safe; creating clients from worker threads must be serialised.
        self._lock = threading.Lock()

    @property
    def stats(self) -> CallStats:
        return self.instrumentation.stats

    @property
    def limits(self) -> Limits:
        return self.instrumentation.limits

    def base_credentials(self) -> Credentials | None:
        """The base session's own credentials (None when the default chain finds none)."""
        with self._lock:
            try:
                return self._session.get_credentials()
            except ProfileNotFound as exc:
                raise profile_not_found(exc) from None

    @overload
    def client(self, service: Literal["artifact"], credentials: Credentials | None = None,
               region: str | None = None) -> ArtifactClient: ...
    @overload
    def client(self, service: Literal["iam"], credentials: Credentials | None = None,
               region: str | None = None) -> IAMClient: ...
    @overload
    def client(self, service: Literal["organizations"], credentials: Credentials | None = None,
               region: str | None = None) -> OrganizationsClient: ...
    @overload
    def client(self, service: Literal["securityhub"], credentials: Credentials | None = None,
               region: str | None = None) -> SecurityHubClient: ...
    @overload
    def client(self, service: Literal["sts"], credentials: Credentials | None = None,
               region: str | None = None) -> STSClient: ...

    def client(self, service: Service, credentials: Credentials | None = None, region: str | None = None) -> Any:
        """A client for `service`, signing with `credentials` (None: the base session's credentials)."""
        with self._lock:
            try:
                client = self._session.client(service, region_name=region or self._region, config=self._config)
            except ProfileNotFound as exc:  # AWS_PROFILE names a profile that is not configured
                raise profile_not_found(exc) from None
        if credentials is not None:
            sign_with(client, credentials)
        self.instrumentation.attach(client, service)
        return client

    def account_client(self, service: Literal["iam"]) -> IAMClient:
        """One client for every account: it signs with the calling thread's account credentials."""
        return self.client(service, ThreadCredentials(self.context))


def endpoint_url() -> str | None:
    """Recorded in the snapshot so that a run against a simulator can never pass for one against AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


def no_credentials() -> CredentialsError:
    """What botocore's NoCredentialsError means here: nothing can be read, so the scan stops with advice."""
    return CredentialsError("no AWS credentials found", hint=NO_CREDENTIALS_HINT)


class CollectionFailure(Exception):
    """A failure found by the collector itself (not by botocore), recorded like an AWS error."""

    def __init__(self, code: str, message: str, operation: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation  # the operation whose answer failed, where it is not the caller's


class Redactor:
    """Removes every credential seen during the scan from text that is about to be recorded."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            # Very short values (a test's "x") would mangle ordinary words without protecting anything.
            self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def add_external_id(self, value: str | None) -> None:
        """An external id is a secret of any length STS accepts (2 and up): a short one may mangle a word
        of a message, which is the lesser harm. Also in the forms an echo of the request takes: URL-encoded
        (query APIs send form data) and with JSON's escaped slash."""
        if not value:
            return
        with self._lock:
            self._secrets.update({value, quote_plus(value), quote(value, safe=""), value.replace("/", "\\/")})

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


RECORDED_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError, CollectionFailure)
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
            raise no_credentials() from None
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
    max_pages: int = DEFAULT_MAX_PAGES,
    **params: Any,
) -> Iterator[Mapping[str, Any]]:
    """Every page of a listing, one request at a time.

    Stops only when the answer carries no token: a page may be empty while more follow
    (Organizations documents this for ListAccounts). A token that comes back twice would loop
    forever, so it raises instead, and so does a listing that hands out fresh tokens past `max_pages`
    (`collection.max_pages_per_listing`).
    """
    seen: set[str] = set()
    token: str | None = None
    for _ in range(max_pages):
        page = call(**params, **({request_token: token} if token else {}))
        yield page
        token = next_token(page)
        if not token:
            return
        if not isinstance(token, str):
            raise CollectionFailure("MalformedAnswer", f"the page token is not a string: {type(token).__name__}")
        if token in seen:
            raise CollectionFailure("RepeatedPageToken", "the same page token came back twice; listing stopped")
        seen.add(token)
    raise CollectionFailure(
        "TooManyPages",
        f"the listing still had more pages after {max_pages} (collection.max_pages_per_listing); listing stopped",
    )


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
