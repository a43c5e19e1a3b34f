"""The collect stage: read the organization and every account in scope into a `Snapshot`.

The only code in the scanner that talks to AWS. It checks first that the credentials belong to the
organization's management account (the only place trusted access can be read), then lists the
accounts and scans them concurrently while the listing goes on. Any failure after those checks is
recorded as a `CollectionError` on the account or organization it concerns, and the scan goes on:
a snapshot with errors is marked incomplete, never cut short.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, NoCredentialsError

from scanner import __version__
from scanner import artifact as artifact_ids
from scanner.collect import artifact, iam, organizations
from scanner.collect.session import (
    NO_CREDENTIALS_HINT,
    RECORDED_FAILURES,
    AccountCredentials,
    Clients,
    ErrorLog,
    Redactor,
    base_session,
    endpoint_url,
    error_code_and_message,
    iso_utc,
)
from scanner.config import Config, Scope
from scanner.errors import CredentialsError
from scanner.model import (
    SNAPSHOT_VERSION,
    AccountSnapshot,
    CallerIdentity,
    CollectionError,
    OrganizationSnapshot,
    Snapshot,
    SnapshotMetadata,
)

if TYPE_CHECKING:
    import boto3

__all__ = ["PERMISSIONS", "Progress", "collect"]

Progress = Callable[[int, int], None]
"""Called with (accounts done, accounts listed so far) each time an account is finished."""

PERMISSIONS: tuple[str, ...] = (
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    *organizations.PERMISSIONS,
    *iam.PERMISSIONS,
    *artifact.PERMISSIONS,
)
"""Every action the collector calls: the basis of the documented least-privilege policy."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def collect(
    config: Config,
    *,
    rules_sha256: str,
    session: boto3.Session | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Snapshot:
    """Read the organization and every account in scope.

    Raises `CredentialsError` before reading anything when the credentials are missing, name an
    unknown profile, or do not belong to an organization's management account.
    """
    started = clock()
    redactor = Redactor()
    clients = Clients(
        session if session is not None else base_session(config.management),
        config.collection,
        config.management.region,
    )
    org_log = ErrorLog(None, redactor)
    start = _start(config, clients, redactor, org_log)
    management = _ManagementClients(clients, start.credentials)
    organization = _read_organization(management, start, org_log)
    scope = _resolve_scope(config.scope, management, org_log)
    scanner = _AccountScanner(config, clients, management, start, redactor)
    accounts = _scan_accounts(scanner, management, scope, org_log, config.collection.concurrency, progress)
    # Organization-level errors are complete only now: the account listing records its own.
    organization = replace(organization, errors=tuple(org_log.errors))
    complete = not organization.errors and not any(account.errors for account in accounts)
    metadata = SnapshotMetadata(
        tool_version=__version__,
        started_at=iso_utc(started),
        finished_at=iso_utc(clock()),
        caller=start.caller,
        rules_sha256=rules_sha256,
        config_sha256=config.sha256(),
        complete=complete,
        shard=None,
        endpoint_url=endpoint_url(),
    )
    return Snapshot(SNAPSHOT_VERSION, metadata, organization, tuple(sorted(accounts, key=lambda a: a.id)))


# --------------------------------------------------------------------------------------------
# Start: whose credentials these are, and which organization they manage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Start:
    caller: CallerIdentity | None
    description: Mapping[str, Any] | None
    credentials: AccountCredentials | None  # set when management.role_arn was assumed

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
    """Clients with the management account's credentials, created once and shared by all threads."""

    def __init__(self, clients: Clients, credentials: AccountCredentials | None) -> None:
        self.sts = clients.client("sts", credentials)
        self.organizations = clients.client("organizations", credentials)
        self._clients = clients
        self.credentials = credentials

    def artifact(self) -> Any:
        return self._clients.client("artifact", self.credentials, region=artifact_ids.ARTIFACT_API_REGION)


def _start(config: Config, clients: Clients, redactor: Redactor, log: ErrorLog) -> _Start:
    credentials = _management_role(config, clients, redactor)
    sts = clients.client("sts", credentials)
    caller = log.attempt("sts:GetCallerIdentity", lambda: _caller_identity(sts))
    description = _describe_organization(clients.client("organizations", credentials), caller, log)
    if description is not None and caller is not None and description.get("MasterAccountId") != caller.account:
        master = description.get("MasterAccountId")
        raise CredentialsError(
            f"the credentials are for account {caller.account} ({caller.arn}), a member of organization "
            f"{description.get('Id')}; trusted access can only be read from the management account {master}",
            hint=f"use credentials for account {master}, or set management.role_arn to a role in it",
        )
    return _Start(caller, description, credentials)


def _management_role(config: Config, clients: Clients, redactor: Redactor) -> AccountCredentials | None:
    """Credentials for `management.role_arn`, assumed with the base credentials; None when not set."""
    access = config.management
    if access.role_arn is None:
        return None
    params = {"RoleArn": access.role_arn, "RoleSessionName": access.session_name}
    if access.external_id:
        params["ExternalId"] = access.external_id
    try:
        credentials = AccountCredentials.from_assume_role(clients.client("sts").assume_role(**params))
    except NoCredentialsError:
        raise CredentialsError("no AWS credentials found", hint=NO_CREDENTIALS_HINT) from None
    except RECORDED_FAILURES as exc:
        # Without this role nothing can be read as the management account, so the scan cannot start.
        code, message = error_code_and_message(exc)
        raise CredentialsError(
            f"cannot assume management.role_arn {access.role_arn}: {code}: {redactor(message)}",
            hint="check that the role's trust policy admits these credentials (and management.external_id, "
            "if it requires one)",
        ) from None
    redactor.add(*credentials.secrets())
    return credentials


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
        raise CredentialsError("no AWS credentials found", hint=NO_CREDENTIALS_HINT) from None
    except RECORDED_FAILURES as exc:
        log.record("organizations:DescribeOrganization", exc)
        return None


# --------------------------------------------------------------------------------------------
# Organization-level reads
# --------------------------------------------------------------------------------------------


def _read_organization(management: _ManagementClients, start: _Start, log: ErrorLog) -> OrganizationSnapshot:
    principals = log.attempt(
        "organizations:ListAWSServiceAccessForOrganization",
        lambda: organizations.enabled_service_principals(management.organizations),
    )
    agreements = log.attempt(
        "artifact:ListCustomerAgreements", lambda: artifact.customer_agreements(management.artifact())
    )
    return OrganizationSnapshot(start.description, principals, agreements)


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


def _resolve_scope(scope: Scope, management: _ManagementClients, log: ErrorLog) -> _ResolvedScope:
    """Walks the OU tree only when OU filters are configured: most scans need no OU at all."""
    return _ResolvedScope(
        scope,
        included_by_ou=_accounts_in_ous(scope.include_ous, management, log),
        excluded_by_ou=_accounts_in_ous(scope.exclude_ous, management, log),
    )


def _accounts_in_ous(ou_ids: tuple[str, ...], management: _ManagementClients, log: ErrorLog) -> dict[str, str]:
    found: dict[str, str] = {}
    for ou_id in ou_ids:
        try:
            found.update(organizations.accounts_under(management.organizations, [ou_id]))
        except NoCredentialsError:
            raise CredentialsError("no AWS credentials found", hint=NO_CREDENTIALS_HINT) from None
        except RECORDED_FAILURES as exc:
            operation = exc.operation_name if isinstance(exc, ClientError) else "ListAccountsForParent"
            log.record(f"organizations:{operation}", exc, resource=ou_id)
    return found


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


class _AccountScanner:
    """Reads one account. Shared by the worker threads; it keeps no per-account state."""

    def __init__(
        self, config: Config, clients: Clients, management: _ManagementClients, start: _Start, redactor: Redactor
    ) -> None:
        self._access = config.member_accounts
        self._clients = clients
        self._management = management
        self._start = start
        self._redactor = redactor

    def skipped(self, listing: Mapping[str, Any], reason: str) -> AccountSnapshot:
        return self._snapshot(listing, scanned=False, skip_reason=reason)

    def scan(self, listing: Mapping[str, Any]) -> AccountSnapshot:
        account_id = str(listing["Id"])
        log = ErrorLog(account_id, self._redactor)
        if account_id == self._start.base_account_id:
            credentials = self._management.credentials
        else:
            credentials = self._assume_member_role(account_id, log)
            if credentials is None:
                return self._snapshot(listing, scanned=True, errors=log.errors)
        client = log.attempt("iam:ListRoles", lambda: self._clients.client("iam", credentials))
        if client is None:
            return self._snapshot(listing, scanned=True, errors=log.errors)
        roles_listed, roles = iam.read_roles(client, log)
        return self._snapshot(listing, scanned=True, roles_listed=roles_listed, roles=roles, errors=log.errors)

    def member_role_arn(self, account_id: str) -> str:
        access = self._access
        return f"arn:{self._start.partition}:iam::{account_id}:role{access.role_path}{access.role_name}"

    def _assume_member_role(self, account_id: str, log: ErrorLog) -> AccountCredentials | None:
        role_arn = self.member_role_arn(account_id)
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": self._access.session_name,
            "DurationSeconds": self._access.session_duration_seconds,
        }
        if self._access.external_id:
            params["ExternalId"] = self._access.external_id
        answer = log.attempt("sts:AssumeRole", lambda: self._management.sts.assume_role(**params), resource=role_arn)
        if answer is None:
            return None
        credentials = AccountCredentials.from_assume_role(answer)
        self._redactor.add(*credentials.secrets())
        return credentials

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

    def finished(self, _future: Future[Any] | None = None) -> None:
        with self._lock:
            self._done += 1
            if self._progress is not None:
                self._progress(self._done, self._total)


def _scan_accounts(
    scanner: _AccountScanner,
    management: _ManagementClients,
    scope: _ResolvedScope,
    log: ErrorLog,
    concurrency: int,
    progress: Progress | None,
) -> list[AccountSnapshot]:
    """List the accounts and scan each one in scope, starting on each page as soon as it arrives."""
    tracker = _Tracker(progress)
    skipped: list[AccountSnapshot] = []
    futures: list[Future[AccountSnapshot]] = []
    seen: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="artifact-scan")

    def dispatch() -> bool:
        for page in organizations.account_pages(management.organizations):
            # A listing that changes while it is read may repeat an account; scan each one once.
            fresh = [listing for listing in page if str(listing.get("Id")) not in seen]
            seen.update(str(listing.get("Id")) for listing in fresh)
            tracker.listed(len(fresh))
            for listing in fresh:
                reason = scope.skip_reason(listing)
                if reason is not None:
                    skipped.append(scanner.skipped(listing, reason))
                    tracker.finished()
                    continue
                future = pool.submit(scanner.scan, listing)
                future.add_done_callback(tracker.finished)
                futures.append(future)
        return True

    try:
        log.attempt("organizations:ListAccounts", dispatch)
        scanned = [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [*skipped, *scanned]
