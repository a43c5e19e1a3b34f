"""The collect stage: read the organization and every account in scope into a `Snapshot`.

The only code in the scanner that talks to AWS. It checks first that the credentials belong to the
organization's management account (the only place trusted access can be read), then lists the
accounts and scans them concurrently while the listing goes on. Any failure after those checks is
recorded as a `CollectionError` on the account or organization it concerns, and the scan goes on:
a snapshot with errors is marked incomplete, never cut short.

Threads: the calling (main) thread only waits, so that Ctrl-C (or SIGTERM mapped to it) stops the
scan at once: `collect()` then raises `ScanInterrupted` with what was read so far, without waiting for
calls in flight. Every AWS call happens in daemon threads: a lister that pages ListAccounts and hands
each account to a pool of `collection.concurrency` workers. All of them share one client per service
(see `Clients`) and the rate limiters of `scanner.collect.limits`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from scanner import __version__
from scanner import integrations as integration_ids
from scanner.collect import artifact, iam, organizations, permissions
from scanner.collect.session import (
    RECORDED_FAILURES,
    Clients,
    CollectionFailure,
    ErrorLog,
    Redactor,
    assumed_role_credentials,
    base_session,
    endpoint_url,
    error_code_and_message,
    iso_utc,
    no_credentials,
)
from scanner.config import Config, Scope
from scanner.errors import CredentialsError, EndpointUnreachable, ScanInterrupted
from scanner.model import (
    AGREEMENTS_INTEGRATION,
    SNAPSHOT_VERSION,
    AccountSnapshot,
    CallerIdentity,
    CollectionError,
    OrganizationSnapshot,
    Snapshot,
    SnapshotMetadata,
)
from scanner.snapshot.shard import Shard

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sts.type_defs import AssumeRoleRequestTypeDef

T = TypeVar("T")

__all__ = ["PERMISSIONS", "Progress", "collect"]

Progress = Callable[[int, int], None]
"""Called with (accounts done, accounts listed so far) each time an account is finished. A progress
object that also has a `retrying(api, attempt, max_attempts, why)` method is told of every retry before
its wait, so that a scan waiting on backoff never looks stalled."""

PERMISSIONS: tuple[str, ...] = ("sts:GetCallerIdentity", *permissions.every_action())
"""Every action the collector may call, from the readers' declarations (scanner.collect.permissions)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def collect(
    config: Config,
    *,
    rules_sha256: str,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utc_now,
    shard: Shard | None = None,
    integrations: tuple[str, ...] | None = None,
    dedicated: tuple[str, ...] | None = None,
) -> Snapshot:
    """Read the organization and every account in scope (of `shard`, when given).

    `integrations`: the catalog integrations the loaded rules apply to (RuleSet.integrations): roles are
    kept for those only, and an integration's own reader runs only for it. None: the built-in packs'.
    `dedicated`: those some loaded pack names specifically (RuleSet.dedicated): a role only the others' trust
    concerns is kept from its listing (scanner.collect.iam). None: the built-in packs'.

    Raises `CredentialsError` before reading anything when the credentials are missing, name an
    unknown profile, or do not belong to an organization's management account. Raises
    `ScanInterrupted` (holding the snapshot of what was read) when interrupted by KeyboardInterrupt.
    """
    run = _Run(config, rules_sha256=rules_sha256, progress=progress, clock=clock, shard=shard,
               integrations=integration_ids.builtin_pack_integrations() if integrations is None else integrations,
               dedicated=integration_ids.builtin_pack_dedicated() if dedicated is None else dedicated)
    try:
        run.execute(session)
    except KeyboardInterrupt:
        run.stop()
        raise ScanInterrupted(run.snapshot(interrupted=True)) from None
    except BaseException:
        run.stop()
        raise
    return run.snapshot(interrupted=False)


_POLL_SECONDS = 0.05  # how often the waiting main thread wakes up to notice an interrupt


class _Run:
    """One collection: what has been read so far, and the threads reading the rest."""

    def __init__(
        self,
        config: Config,
        *,
        rules_sha256: str,
        progress: Progress | None,
        clock: Callable[[], datetime],
        shard: Shard | None,
        integrations: tuple[str, ...],
        dedicated: tuple[str, ...],
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.dedicated = dedicated
        self.rules_sha256 = rules_sha256
        self.clock = clock
        self.shard = shard
        self.started = clock()
        self.redactor = Redactor()
        # External ids are secrets: an AWS error message that echoes one must not carry it into any output.
        self.redactor.add_external_id(config.management.external_id)
        self.redactor.add_external_id(config.member_accounts.external_id)
        self.tracker = _Tracker(progress)
        self.clients: Clients | None = None
        self.start: _Start | None = None
        # Organization-level reads, each with its own log so that errors keep a fixed order.
        self.logs = {name: ErrorLog(None, self.redactor) for name in ("start", "principals", "agreements",
                                                                       "delegated", "scope", "listing")}
        self.principals: tuple[Mapping[str, Any], ...] | None = None
        self.agreements: tuple[Mapping[str, Any], ...] | None = None
        self.delegated_administrators: tuple[Mapping[str, Any], ...] | None = None
        self.delegated_services: dict[str, tuple[Mapping[str, Any], ...]] | None = None
        self.listed: list[str] = []  # every account id the listing returned, in every shard
        self.accounts: list[AccountSnapshot] = []
        self.lock = threading.Lock()
        self.workers: _Workers | None = None
        self.listing_done = threading.Event()

    # -- the main thread ---------------------------------------------------------------------

    def execute(self, session: boto3.Session | None) -> None:
        config = self.config
        clients = self.clients = Clients(
            session if session is not None else base_session(config.management, config.source),
            config.collection,
            config.management.region,
            notify=self.tracker.retrying,
        )
        start, management = _wait_for(lambda: _start(config, clients, self.redactor, self.logs["start"]))
        self.start = start
        scanner = _AccountScanner(config, clients, management, start, self.redactor, self.integrations, self.dedicated)
        workers = self.workers = _Workers(config.collection.concurrency)
        workers.submit(lambda: self._read_principals(management))
        # The snapshot records the integrations it was collected for, so agreements left unread by a run
        # without Artifact's rules are no gap (scanner.snapshot.gaps) and no rule reads them.
        if AGREEMENTS_INTEGRATION in self.integrations:
            workers.submit(lambda: self._read_agreements(management))
        # Likewise the delegated administrators: read only when an integration in scope can have one.
        if integration_ids.needs_delegated_administrators(self.integrations):
            workers.submit(lambda: self._read_delegated_administrators(management))
        lister = threading.Thread(
            target=workers.guard(lambda: self._list_and_dispatch(scanner, management)),
            name="artifact-scan-lister",
            daemon=True,
        )
        lister.start()
        workers.wait(self.listing_done)
        workers.close()

    def stop(self) -> None:
        """Stop dispatching and abandon the calls in flight (their threads are daemons)."""
        if self.workers is not None:
            self.workers.stop()

    def snapshot(self, *, interrupted: bool) -> Snapshot:
        """What has been read: everything after `execute()`, or whatever was finished by an interrupt."""
        start = self.start
        with self.lock:
            accounts = sorted(self.accounts, key=lambda a: a.id)
            listed = tuple(sorted(self.listed))
            principals, agreements = self.principals, self.agreements
            administrators = self.delegated_administrators
            services = None if self.delegated_services is None else dict(sorted(self.delegated_services.items()))
        errors = tuple(e for log in self.logs.values() for e in list(log.errors))
        organization = OrganizationSnapshot(
            start.description if start else None, principals, agreements, errors=errors,
            delegated_administrators=administrators, delegated_services=services,
        )
        complete = not interrupted and not errors and not any(account.errors for account in accounts)
        metadata = SnapshotMetadata(
            tool_version=__version__,
            started_at=iso_utc(self.started),
            finished_at=iso_utc(self.clock()),
            caller=start.caller if start else None,
            rules_sha256=self.rules_sha256,
            config_sha256=self.config.sha256(),
            complete=complete,
            shard=str(self.shard) if self.shard else None,
            endpoint_url=endpoint_url(),
            interrupted=interrupted,
            stats=self.clients.stats.as_dict() if self.clients else None,
            listed_accounts=listed if self.shard else None,
            integrations=tuple(sorted(set(self.integrations))),
        )
        return Snapshot(SNAPSHOT_VERSION, metadata, organization, tuple(accounts))

    # -- worker and lister threads -----------------------------------------------------------

    def _read_principals(self, management: _ManagementClients) -> None:
        principals = self.logs["principals"].attempt(
            "organizations:ListAWSServiceAccessForOrganization",
            lambda: organizations.enabled_service_principals(management.organizations, self._max_pages),
        )
        with self.lock:
            self.principals = principals

    def _read_agreements(self, management: _ManagementClients) -> None:
        agreements = self.logs["agreements"].attempt(
            artifact.API,
            lambda: artifact.customer_agreements(management.artifact, self._max_pages),
        )
        with self.lock:
            self.agreements = agreements

    def _read_delegated_administrators(self, management: _ManagementClients) -> None:
        """ListDelegatedAdministrators, then each administrator's services, one account at a time (an
        organization has a handful). An account whose read fails is left out, its error recorded; the
        services are published only once every account was tried, so an interrupted run holds none."""
        log = self.logs["delegated"]
        administrators = log.attempt(
            "organizations:ListDelegatedAdministrators",
            lambda: organizations.delegated_administrators(management.organizations, self._max_pages),
        )
        with self.lock:
            self.delegated_administrators = administrators
        if administrators is None:
            return
        services: dict[str, tuple[Mapping[str, Any], ...]] = {}
        for account_id in organizations.delegated_administrator_ids(administrators):
            if self.workers is not None and self.workers.stopped:
                return
            read = log.attempt(
                "organizations:ListDelegatedServicesForAccount",
                partial(organizations.delegated_services, management.organizations, account_id, self._max_pages),
                resource=account_id,
            )
            if read is not None:
                services[account_id] = read
        with self.lock:
            self.delegated_services = services

    @property
    def _max_pages(self) -> int:
        return self.config.collection.max_pages_per_listing

    def _scan(self, scanner: _AccountScanner, listing: Mapping[str, Any]) -> None:
        self._finished(scanner.scan(listing))

    def _finished(self, account: AccountSnapshot) -> None:
        with self.lock:
            self.accounts.append(account)
        self.tracker.finished()

    def _list_and_dispatch(self, scanner: _AccountScanner, management: _ManagementClients) -> None:
        """List the accounts and hand each one in scope to the workers as soon as its page arrives."""
        try:
            scope = _resolve_scope(self.config.scope, management, self.logs["scope"], self._max_pages)
            listed = self.logs["listing"].attempt(
                "organizations:ListAccounts", lambda: self._dispatch(scanner, management, scope)
            )
            if listed is None:
                self._dispatch_unlisted_management(scanner, management, scope)
        finally:
            self.listing_done.set()

    def _dispatch_unlisted_management(
        self, scanner: _AccountScanner, management: _ManagementClients, scope: _ResolvedScope
    ) -> None:
        """A listing that failed before the management account's page still leaves the organization-level
        checks its roles answer (the service-linked role) readable: the management account is known from
        DescribeOrganization, so read it anyway, with DescribeAccount's entry for its name and state."""
        assert self.workers is not None and self.start is not None
        management_id = self.start.management_account_id
        with self.lock:
            if management_id is None or management_id in self.listed or self.workers.stopped:
                return
            self.listed.append(management_id)
        entry = self.logs["listing"].attempt(
            "organizations:DescribeAccount",
            lambda: organizations.describe_account(management.organizations, management_id),
            resource=management_id,
        )
        listing = entry if entry is not None else {"Id": management_id}
        self.tracker.listed(1)
        self._hand_out(scanner, listing, scope.skip_reason(listing) if entry is not None else None)

    def _hand_out(self, scanner: _AccountScanner, listing: Mapping[str, Any], skip_reason: str | None) -> None:
        """An account in scope goes to the workers; one out of scope is finished at once, as skipped."""
        assert self.workers is not None
        if skip_reason is not None:
            self._finished(scanner.skipped(listing, skip_reason))
        else:
            self.workers.submit(partial(self._scan, scanner, listing))

    def _dispatch(self, scanner: _AccountScanner, management: _ManagementClients, scope: _ResolvedScope) -> bool:
        assert self.workers is not None and self.start is not None
        workers, management_id = self.workers, self.start.management_account_id
        seen: set[str] = set()
        for page in organizations.account_pages(management.organizations, self._max_pages):
            if workers.stopped:
                break
            # A listing that changes while it is read may repeat an account; scan each one once.
            fresh = [listing for listing in page if str(listing.get("Id")) not in seen]
            seen.update(str(listing.get("Id")) for listing in fresh)
            with self.lock:
                self.listed.extend(str(listing.get("Id")) for listing in fresh)
            # A shard reads the management account too: its roles are organization-level facts.
            mine = [
                listing
                for listing in fresh
                if self.shard is None or str(listing.get("Id")) == management_id or self.shard.owns(str(listing.get("Id")))
            ]
            self.tracker.listed(len(mine))
            for listing in mine:
                self._hand_out(scanner, listing, scope.skip_reason(listing))
        return True


def _wait_for(call: Callable[[], T]) -> T:
    """`call()` in a daemon thread, waited for in a way a KeyboardInterrupt can break at once."""
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name="artifact-scan-start", daemon=True).start()
    while not done.wait(_POLL_SECONDS):
        pass
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class _Workers:
    """`count` daemon threads taking tasks from a queue. Daemons, so that an interrupted scan can leave
    calls in flight behind (they may take up to the read timeout) without keeping the process alive.
    A task's unexpected exception (a bug, or credentials that vanished) stops every worker and is
    raised in the waiting thread."""

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._condition = threading.Condition()
        self._pending = 0
        self._failure: BaseException | None = None
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"artifact-scan-{n + 1}", daemon=True)
            for n in range(max(1, count))
        ]
        for thread in self._threads:
            thread.start()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def submit(self, task: Callable[[], None]) -> None:
        with self._condition:
            self._pending += 1
        self._queue.put(task)

    def guard(self, task: Callable[[], None]) -> Callable[[], None]:
        """`task` with its unexpected exception handed to the waiting thread (for threads of our own)."""

        def run() -> None:
            try:
                task()
            except BaseException as exc:
                self._fail(exc)

        return run

    def wait(self, listing_done: threading.Event) -> None:
        """Until the listing is over and every task is done; raises a task's unexpected exception."""
        with self._condition:
            while True:
                if self._failure is not None:
                    raise self._failure
                if listing_done.is_set() and self._pending == 0:
                    return
                self._condition.wait(_POLL_SECONDS)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def stop(self) -> None:
        self._stopped.set()
        self.close()

    def _fail(self, exc: BaseException) -> None:
        with self._condition:
            if self._failure is None:
                self._failure = exc
            self._condition.notify_all()
        self._stopped.set()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None or self._stopped.is_set():
                return
            try:
                task()
            except BaseException as exc:
                self._fail(exc)
            finally:
                with self._condition:
                    self._pending -= 1
                    self._condition.notify_all()


# --------------------------------------------------------------------------------------------
# Start: whose credentials these are, and which organization they manage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Start:
    caller: CallerIdentity | None
    description: Mapping[str, Any] | None
    credentials: Credentials | None  # refreshable; set when management.role_arn was assumed

    @property
    def management_account_id(self) -> str | None:
        # Without DescribeOrganization, the checks below guarantee nothing, but the caller's own
        # account is the only candidate: member accounts cannot list the organization's accounts.
        master = (self.description or {}).get("MasterAccountId")
        if master:
            return str(master)
        return self.caller.account if self.caller else None

    @property
    def base_account_id(self) -> str | None:
        """The account the base credentials are for: read without AssumeRole."""
        return self.caller.account if self.caller else self.management_account_id

    @property
    def partition(self) -> str:
        arn = (self.caller.arn if self.caller else None) or str((self.description or {}).get("Arn") or "")
        parts = arn.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else "aws"


class _ManagementClients:
    """Clients with the management account's credentials, created once and shared by all threads, and
    the one IAM client every account is read with (see `Clients.account_client`)."""

    def __init__(self, clients: Clients, credentials: Credentials | None) -> None:
        self.sts = clients.client("sts", credentials)
        self.organizations = clients.client("organizations", credentials)
        self.artifact = clients.client(artifact.SERVICE, credentials, region=artifact.API_REGION)
        self.iam = clients.account_client("iam")
        # What the management account itself is read with: the assumed role's, or the base credentials.
        self.credentials = credentials if credentials is not None else clients.base_credentials()


def _start(config: Config, clients: Clients, redactor: Redactor, log: ErrorLog) -> tuple[_Start, _ManagementClients]:
    _redact_base_credentials(clients, redactor)
    credentials = _management_role(config, clients, redactor)
    management = _ManagementClients(clients, credentials)
    caller = _unless_unreachable(lambda: _caller_identity(management.sts), log, "sts:GetCallerIdentity")
    description = _describe_organization(management.organizations, caller, log)
    if description is not None and caller is not None and description.get("MasterAccountId") != caller.account:
        master = description.get("MasterAccountId")
        raise CredentialsError(
            f"the credentials are for account {caller.account} ({caller.arn}), a member of organization "
            f"{description.get('Id')}; trusted access can only be read from the management account {master}",
            hint=f"use credentials for account {master}, or set management.role_arn to a role in it",
        )
    return _Start(caller, description, credentials), management


def _unless_unreachable(call: Callable[[], T], log: ErrorLog, api: str) -> T | None:
    """`call()`, or None after recording why it failed; a failure to connect at all stops the scan at
    once: before the organization is known nothing can be read, and a report on organization "unknown"
    would hide why."""
    try:
        return call()
    except EndpointConnectionError as exc:
        raise _unreachable(exc) from None
    except NoCredentialsError:
        raise no_credentials() from None
    except RECORDED_FAILURES as exc:
        log.record(api, exc)
        return None


def _unreachable(exc: EndpointConnectionError) -> EndpointUnreachable:
    url = str(exc.kwargs.get("endpoint_url") or "?")
    cause = exc.kwargs.get("error") or exc
    configured = endpoint_url()
    hint = (f"AWS_ENDPOINT_URL is {configured}: check that a server listens there"
            if configured else "check the network, any proxy (HTTPS_PROXY) and management.region")
    return EndpointUnreachable(f"cannot connect to {url}: {cause}; nothing was scanned", hint=hint)


def _redact_base_credentials(clients: Clients, redactor: Redactor) -> None:
    """The base session's own keys (environment, profile) are secrets too: an endpoint or proxy that
    echoes a request's credentials in an error message must not get them into a snapshot."""
    try:
        base = clients.base_credentials()
        frozen = base.get_frozen_credentials() if base is not None else None
    except (BotoCoreError, CredentialsError):
        return  # the first call reports what is wrong with them
    if frozen is not None:
        redactor.add(frozen.access_key, frozen.secret_key, frozen.token)


def _management_role(config: Config, clients: Clients, redactor: Redactor) -> Credentials | None:
    """Refreshable credentials for `management.role_arn`, assumed with the base credentials; None when
    not set. They are refreshed before they expire, so a scan may outlast the role's session."""
    access = config.management
    if access.role_arn is None:
        return None
    params: AssumeRoleRequestTypeDef = {"RoleArn": access.role_arn, "RoleSessionName": access.session_name}
    if access.external_id:
        params["ExternalId"] = access.external_id
    sts = clients.client("sts")

    def assume() -> Mapping[str, Any]:
        answer: Mapping[str, Any] = sts.assume_role(**params)
        return answer

    try:
        return assumed_role_credentials(assume(), assume, redactor)
    except NoCredentialsError:
        raise no_credentials() from None
    except EndpointConnectionError as exc:
        raise _unreachable(exc) from None
    except RECORDED_FAILURES as exc:
        # Without this role nothing can be read as the management account, so the scan cannot start.
        code, message = error_code_and_message(exc)
        raise CredentialsError(
            f"cannot assume management.role_arn {access.role_arn}: {code}: {redactor(message)}",
            hint="check that the role's trust policy admits these credentials (and management.external_id, "
            "if it requires one)",
        ) from None


def _caller_identity(sts: Any) -> CallerIdentity:
    answer = sts.get_caller_identity()
    return CallerIdentity(account=str(answer["Account"]), arn=str(answer["Arn"]), user_id=str(answer["UserId"]))


def _describe_organization(client: Any, caller: CallerIdentity | None, log: ErrorLog) -> dict[str, Any] | None:
    try:
        return organizations.describe_organization(client)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "AWSOrganizationsNotInUseException":
            log.record("organizations:DescribeOrganization", exc)
            return None
        account = f"account {caller.account}" if caller else "the credentials' account"
        raise CredentialsError(
            f"{account} is not in an AWS organization; there is no trusted access to check",
            hint="run the scan with credentials for your organization's management account",
        ) from None
    except NoCredentialsError:
        raise no_credentials() from None
    except EndpointConnectionError as exc:
        raise _unreachable(exc) from None
    except RECORDED_FAILURES as exc:
        log.record("organizations:DescribeOrganization", exc)
        return None


# --------------------------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ResolvedScope:
    """`config.scope` with its OUs resolved to accounts."""

    scope: Scope
    included_by_ou: Mapping[str, str]  # account id -> the configured OU it is under
    excluded_by_ou: Mapping[str, str]

    def skip_reason(self, listing: Mapping[str, Any]) -> str | None:
        """Why this account is not scanned, or None to scan it."""
        account_id = str(listing.get("Id"))
        state = organizations.account_state(listing)
        if state != "ACTIVE":
            return f"account state is {state}"
        scope = self.scope
        include = [name for name, values in (("scope.include_accounts", scope.include_accounts),
                                              ("scope.include_ous", scope.include_ous)) if values]
        if include and account_id not in scope.include_accounts and account_id not in self.included_by_ou:
            return f"not in {' or '.join(include)}"
        if account_id in scope.exclude_accounts:
            return "excluded by scope.exclude_accounts"
        if account_id in self.excluded_by_ou:
            return f"excluded by scope.exclude_ous ({self.excluded_by_ou[account_id]})"
        return None


def _resolve_scope(scope: Scope, management: _ManagementClients, log: ErrorLog, max_pages: int) -> _ResolvedScope:
    """Walks the OU tree only when OU filters are configured: most scans need no OU at all."""
    return _ResolvedScope(
        scope,
        included_by_ou=_accounts_in_ous(scope.include_ous, management, log, max_pages),
        excluded_by_ou=_accounts_in_ous(scope.exclude_ous, management, log, max_pages),
    )


def _accounts_in_ous(
    ou_ids: tuple[str, ...], management: _ManagementClients, log: ErrorLog, max_pages: int
) -> dict[str, str]:
    found: dict[str, str] = {}
    for ou_id in ou_ids:
        try:
            found.update(organizations.accounts_under(management.organizations, [ou_id], max_pages))
        except NoCredentialsError:
            raise no_credentials() from None
        except RECORDED_FAILURES as exc:
            if isinstance(exc, ClientError):
                operation = exc.operation_name
            elif isinstance(exc, CollectionFailure) and exc.operation:
                operation = exc.operation
            else:
                operation = "ListAccountsForParent"
            log.record(f"organizations:{operation}", exc, resource=ou_id)
    return found


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


class _AccountScanner:
    """Reads one account. Shared by the worker threads; it keeps no per-account state (the calling
    thread's account and credentials live in `Clients.context` while the account is read)."""

    def __init__(
        self,
        config: Config,
        clients: Clients,
        management: _ManagementClients,
        start: _Start,
        redactor: Redactor,
        scope: tuple[str, ...],
        dedicated: tuple[str, ...],
    ) -> None:
        self._interest = iam.Interest.of(integration_ids.scope(scope), dedicated)
        self._access = config.member_accounts
        self._collection = config.collection
        self._clients = clients
        self._management = management
        self._start = start
        self._redactor = redactor

    def skipped(self, listing: Mapping[str, Any], reason: str) -> AccountSnapshot:
        return self._snapshot(listing, scanned=False, skip_reason=reason)

    def scan(self, listing: Mapping[str, Any]) -> AccountSnapshot:
        with self._clients.context.account_deadline(self._collection.account_timeout_seconds):
            return self._scan(listing)

    def _scan(self, listing: Mapping[str, Any]) -> AccountSnapshot:
        account_id = str(listing["Id"])
        log = ErrorLog(account_id, self._redactor)
        if account_id == self._start.base_account_id:
            credentials = self._management.credentials
        else:
            credentials = self._assume_member_role(account_id, log)
            if credentials is None:
                return self._snapshot(listing, scanned=True, errors=log.errors)
        try:
            with self._clients.context.account(account_id, credentials):
                roles_listed, roles = iam.read_roles(
                    self._management.iam, log, self._collection.max_pages_per_listing, self._interest,
                    in_management_account=account_id == self._start.management_account_id,
                )
        finally:
            self._clients.limits.release(account_id)
        return self._snapshot(listing, scanned=True, roles_listed=roles_listed, roles=roles, errors=log.errors)

    def member_role_arn(self, account_id: str) -> str:
        access = self._access
        return f"arn:{self._start.partition}:iam::{account_id}:role{access.role_path}{access.role_name}"

    def _assume_member_role(self, account_id: str, log: ErrorLog) -> Credentials | None:
        """The member role's credentials, reused for every call in the account and refreshed (with the
        same AssumeRole) when a long read outlasts them; None after recording why AssumeRole failed."""
        role_arn = self.member_role_arn(account_id)
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": self._access.session_name,
            "DurationSeconds": self._access.session_duration_seconds,
        }
        if self._access.external_id:
            params["ExternalId"] = self._access.external_id
        sts = self._management.sts

        def assume() -> Mapping[str, Any]:
            answer: Mapping[str, Any] = sts.assume_role(**params)
            return answer

        return log.attempt(
            "sts:AssumeRole",
            lambda: assumed_role_credentials(assume(), assume, self._redactor, account_id=account_id),
            resource=role_arn,
        )

    def _snapshot(self, listing: Mapping[str, Any], **fields: Any) -> AccountSnapshot:
        account_id = str(listing["Id"])
        errors: list[CollectionError] = fields.pop("errors", [])
        return AccountSnapshot(
            id=account_id,
            name=str(listing.get("Name", "")),
            state=organizations.account_state(listing),
            is_management=account_id == self._start.management_account_id,
            listing=listing,
            errors=tuple(errors),
            **fields,
        )


class _Tracker:
    """Counts finished accounts for the progress callback; called from worker threads."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0

    def listed(self, count: int) -> None:
        with self._lock:
            self._total += count

    def retrying(self, api: str, attempt: int, max_attempts: int, why: str) -> None:
        notice = getattr(self._progress, "retrying", None)
        if notice is not None:
            notice(api, attempt, max_attempts, why)

    def finished(self) -> None:
        with self._lock:
            self._done += 1
            if self._progress is not None:
                self._progress(self._done, self._total)
