"""Typed, frozen data passed between the pipeline's stages.

collect -> Snapshot -> evaluate -> ScanResult -> report. Nothing here talks to AWS or the disk.
Raw AWS answers stay plain JSON-compatible mappings (as botocore parsed them, timestamps as ISO 8601
strings) because they are recorded as evidence exactly as received.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = Any
"""A JSON-compatible value: what json.loads returns."""


class Severity(enum.IntEnum):
    """Ordered so that thresholds compare: `severity >= fail_on`."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


SEVERITY_LABELS = tuple(s.label for s in Severity)


class Status(str, enum.Enum):
    """The state of one rule on one resource (or one account, when no resource could be read)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # could not be evaluated: the data it needs is missing or unreadable
    SUPPRESSED = "suppressed"  # failed, but covered by an unexpired suppression
    SKIPPED = "skipped"  # not applicable, with the reason in the message


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Remediation:
    text: str
    command: str


AccountScope = Literal["all", "management", "members"]
NoneMatched = Literal["pass", "skip"]
Paper = Literal["A4", "Letter"]  # the printed HTML report's page size


EVERY_INTEGRATION = "*"  # a rule's `integration` when it applies to every catalog integration


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, as loaded from `rules/<pack>/<id>.yaml` and validated."""

    id: str
    title: str
    severity: Severity
    resource: str
    description: str
    rationale: str
    remediation: Remediation
    expect: Mapping[str, JSON] | bool
    where: Mapping[str, JSON] | bool | None = None
    accounts: AccountScope = "all"
    none_matched: NoneMatched = "skip"
    references: tuple[Reference, ...] = ()
    compliance: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    pack: str = ""
    source: str = ""  # the rule file as given to the loader; reports show it relative to the pack
    # A failure as one sentence: `{fact.path}` fields, see scanner.evaluate.message; None = a generic one
    message: str | None = None
    # The catalog integration the rule applies to (its own `integration:` or its pack's); EVERY_INTEGRATION:
    # each catalog integration (the rule's resources are per integration); None: none in particular
    integration: str | None = None


@dataclass(frozen=True, slots=True)
class RulePack:
    id: str
    title: str
    version: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every loaded pack, with a hash of the rule files' bytes so a run records what it evaluated."""

    packs: tuple[RulePack, ...]
    sha256: str
    files: tuple[tuple[str, bytes], ...] = ()  # (`<pack id>/<file name>`, bytes) of every file loaded

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for pack in self.packs for rule in pack.rules)

    @property
    def integrations(self) -> tuple[str, ...]:
        """The catalog integrations the rules apply to, sorted: what is collected and evaluated for them.

        A rule of `integration: "*"` applies to every catalog integration, so then it is all of them."""
        named = {rule.integration for rule in self.rules if rule.integration is not None}
        if EVERY_INTEGRATION in named:
            from scanner.integrations import integration_ids  # noqa: PLC0415 - the catalog is read from disk

            named = (named - {EVERY_INTEGRATION}) | set(integration_ids())
        return tuple(sorted(named))

    @property
    def dedicated(self) -> tuple[str, ...]:
        """The integrations some rule names specifically (its own pack's): generic rules leave them to it."""
        return tuple(sorted({r.integration for r in self.rules if r.integration not in (None, EVERY_INTEGRATION)}))


# --------------------------------------------------------------------------------------------
# Snapshot: what collect read, replayable offline
# --------------------------------------------------------------------------------------------

SNAPSHOT_VERSION = 1

# The integration whose own reader reads the customer agreements (scanner.collect.artifact, which the
# snapshot and the evaluator may not import: it needs boto3): the read is made, and its absence is a gap,
# only for a collection that integration is among.
AGREEMENTS_INTEGRATION = "artifact"

# What a snapshot without `metadata.integrations` was collected for: every version before the field existed
# kept only Artifact's roles (and read the customer agreements), so such a snapshot answers for Artifact alone.
LEGACY_INTEGRATIONS: tuple[str, ...] = (AGREEMENTS_INTEGRATION,)


@dataclass(frozen=True, slots=True)
class CollectionError:
    """One failed read. `account_id` is None for organization-level calls made before accounts are known."""

    api: str  # "service:Operation", e.g. "iam:ListRoles"
    code: str  # AWS error code, or a botocore exception name for transport failures
    message: str
    account_id: str | None = None
    resource: str | None = None  # e.g. a role name when a per-role detail call failed

    def describe(self) -> str:
        where = f" on {self.resource}" if self.resource else ""
        return f"{self.api}{where}: {self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """Everything read about one IAM role of interest.

    `role` is the GetRole answer's `Role` (or the ListRoles item when GetRole failed), with the
    trust policy already decoded to a mapping. A field that could not be read is None, never empty:
    `attached_policies=None` means unknown, `()` means the role has none.
    """

    role: Mapping[str, JSON]
    attached_policies: tuple[Mapping[str, JSON], ...] | None
    inline_policies: Mapping[str, JSON] | None  # policy name -> decoded document
    detail_read: bool  # False when GetRole failed and `role` is only the ListRoles item
    # True when the ListRoles item was all that was asked for (a member account's genuine service-linked role,
    # scanner.collect.iam): the details are not missing, they were not needed (snapshot.gaps counts no gap)
    listing_only: bool = False


AccountState = str  # Organizations' State: ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, ...


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    id: str
    name: str
    state: AccountState
    is_management: bool
    listing: Mapping[str, JSON]  # the ListAccounts item as received
    scanned: bool  # False when out of scope or not ACTIVE; see skip_reason
    skip_reason: str | None = None
    roles_listed: int | None = None  # how many roles ListRoles returned; None = the listing failed
    roles: tuple[RoleRecord, ...] = ()  # roles of interest only
    errors: tuple[CollectionError, ...] = ()


@dataclass(frozen=True, slots=True)
class OrganizationSnapshot:
    """Organization-level answers. None means the call failed (the error is in `errors`)."""

    description: Mapping[str, JSON] | None  # DescribeOrganization's `Organization`
    enabled_service_principals: tuple[Mapping[str, JSON], ...] | None
    customer_agreements: tuple[Mapping[str, JSON], ...] | None  # artifact:ListCustomerAgreements
    errors: tuple[CollectionError, ...] = ()
    # organizations:ListDelegatedAdministrators items as received; None = not read
    delegated_administrators: tuple[Mapping[str, JSON], ...] | None = None
    # delegated administrator account id -> its organizations:ListDelegatedServicesForAccount items;
    # None = not read; an account whose read failed is absent (its error is in `errors`, resource = the id)
    delegated_services: Mapping[str, tuple[Mapping[str, JSON], ...]] | None = None


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str


@dataclass(frozen=True, slots=True)
class SnapshotMetadata:
    tool_version: str
    started_at: str  # ISO 8601, UTC, "Z" suffix
    finished_at: str
    caller: CallerIdentity | None
    rules_sha256: str
    config_sha256: str
    complete: bool  # False when anything could not be read or the run was interrupted
    shard: str | None = None  # "i/n" when only a shard of the accounts was read
    endpoint_url: str | None = None  # set when AWS_ENDPOINT_URL pointed elsewhere than AWS
    interrupted: bool = False  # stopped by SIGINT/SIGTERM: only what was read by then is here
    # "service:Operation" -> {"calls": n, "retries": n, "throttled": n}; None in snapshots older than 0.x
    stats: Mapping[str, Mapping[str, int]] | None = None
    # Shard runs only: every account id the listing returned (all shards'), so a merge can check coverage
    listed_accounts: tuple[str, ...] | None = None
    # The catalog integrations the collection kept data for (sorted): a rule of any other integration was
    # never given its data, so evaluating it gives `error`, never a pass (scanner.evaluate.engine).
    integrations: tuple[str, ...] = LEGACY_INTEGRATIONS


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    metadata: SnapshotMetadata
    organization: OrganizationSnapshot
    accounts: tuple[AccountSnapshot, ...]

    @property
    def errors(self) -> tuple[CollectionError, ...]:
        account_errors = (e for account in self.accounts for e in account.errors)
        return (*self.organization.errors, *account_errors)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resource:
    """A thing rules are evaluated against: its facts are plain JSON, which `where`/`expect` assert.

    `unknown` maps a dotted fact path ("trust", "customer_agreements") to the reason it could not be
    read. A rule whose schemas mention an unknown path gives `error`, never `pass`.
    """

    type: str
    account_id: str
    arn: str
    name: str
    facts: Mapping[str, JSON]
    unknown: Mapping[str, str] = field(default_factory=dict)
    document: Mapping[str, JSON] | None = None  # the raw policy a finding's evidence points into


@dataclass(frozen=True, slots=True)
class Evidence:
    path: str  # JSON path into the resource's facts, e.g. "$.trust.allowed_principals"
    expected: str  # what the failing keyword demanded, in words
    found: JSON  # the value found at `path`
    note: str | None = None  # the facts' own explanation, when the failing value sits beside a `reason`


@dataclass(frozen=True, slots=True)
class Suppression:
    """An accepted risk: a rule's failures on an account or resource pattern, with a reason, an owner and
    an end date. It never hides an `error`."""

    rule_id: str
    reason: str
    owner: str
    expires: str  # ISO date; the suppression holds through that day (UTC)
    account_id: str | None = None
    resource: str | None = None  # ARN pattern, `*` and `?` as wildcards
    source: str = ""  # file:line, so a report can say which entry matched or expired


@dataclass(frozen=True, slots=True)
class Result:
    rule_id: str
    status: Status
    severity: Severity
    account_id: str
    account_name: str
    resource_type: str
    resource_arn: str
    resource_name: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    causes: tuple[CollectionError, ...] = ()  # why an `error` result could not be evaluated
    document: Mapping[str, JSON] | None = None  # e.g. the trust policy the evidence points into
    suppression: Suppression | None = None  # set exactly when status is SUPPRESSED
    expired_suppression: Suppression | None = None  # a FAIL whose matching suppression has expired
    baseline: Literal["new", "unchanged"] | None = None  # for findings, when a baseline was given
    first_seen: str | None = None  # UTC start of the first run that had this finding


@dataclass(frozen=True, slots=True)
class AccountSummary:
    id: str
    name: str
    state: str
    is_management: bool
    scanned: bool
    skip_reason: str | None
    error_count: int


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who ran what, when, against which organization; every report's header."""

    run_id: str
    tool_version: str
    started_at: str
    finished_at: str
    organization_id: str | None
    management_account_id: str | None
    caller_arn: str | None
    rules_sha256: str
    config_sha256: str
    rule_packs: tuple[tuple[str, str], ...]  # (pack id, version)
    complete: bool
    shard: str | None = None
    evaluated_at: str | None = None  # UTC time of evaluation; suppression expiry is judged on its date


@dataclass(frozen=True, slots=True)
class FindingKey:
    """What makes a finding the same finding from run to run."""

    rule_id: str
    account_id: str
    resource_arn: str


@dataclass(frozen=True, slots=True)
class ResolvedFinding:
    """A finding of the baseline run that this run no longer has (and could check)."""

    key: FindingKey
    severity: Severity
    resource_name: str
    message: str
    first_seen: str | None


@dataclass(frozen=True, slots=True)
class Drift:
    """A change since the baseline that no rule can see in one run, e.g. a re-created role."""

    kind: str  # "service-linked-role-recreated", "trusted-access-re-enabled", ...
    account_id: str
    resource_arn: str
    message: str
    before: JSON
    after: JSON


@dataclass(frozen=True, slots=True)
class RoleIdentity:
    """What tells one service-linked role from its re-created twin: a new RoleId and CreateDate."""

    arn: str | None
    role_id: str | None
    create_date: str | None


@dataclass(frozen=True, slots=True)
class Markers:
    """Identity facts of a run that a later run's drift check (scanner.audit.baseline) compares with its own.

    Only what was actually read: a `None` field was not read, which is never the same as empty (trusted
    access read and enabled for nobody is `{}`). Written to results.json as `markers` (`to_json`), and read
    back from a baseline's (`from_json`), so the shape lives here alone."""

    management_account_id: str | None = None
    organization_arn: str | None = None
    # principal -> its DateEnabled, for every principal with trusted access; None = the list was not read
    trusted_access: Mapping[str, str | None] | None = None
    # integration id -> its service-linked role in the management account (None: absent there), for each
    # integration the rules apply to; None = the management account's roles were not listed
    service_linked_roles: Mapping[str, RoleIdentity | None] | None = None

    def to_json(self) -> dict[str, JSON]:
        document: dict[str, JSON] = {
            "management_account_id": self.management_account_id,
            "organization_arn": self.organization_arn,
        }
        if self.trusted_access is not None:
            document["trusted_access"] = dict(self.trusted_access)
        if self.service_linked_roles is not None:
            document["service_linked_roles"] = {
                integration: None if role is None else
                {"arn": role.arn, "role_id": role.role_id, "create_date": role.create_date}
                for integration, role in self.service_linked_roles.items()
            }
        return document

    @classmethod
    def from_json(cls, document: JSON) -> Markers:
        """Markers as `to_json` wrote them (a results.json of any earlier version: absent keys were not
        read). Raises ValueError naming the first value of the wrong shape."""
        if not isinstance(document, Mapping):
            raise ValueError("markers: not an object")
        access = document.get("trusted_access")
        roles = document.get("service_linked_roles")
        if access is not None and not (
            isinstance(access, Mapping) and all(_optional_text(v) for v in access.values())
        ):
            raise ValueError("markers.trusted_access: not an object of dates")
        if roles is not None and not (
            isinstance(roles, Mapping) and all(r is None or isinstance(r, Mapping) for r in roles.values())
        ):
            raise ValueError("markers.service_linked_roles: not an object of roles")
        return cls(
            management_account_id=_text(document, "management_account_id"),
            organization_arn=_text(document, "organization_arn"),
            trusted_access=None if access is None else {str(k): v for k, v in access.items()},
            service_linked_roles=None if roles is None else {
                str(integration): None if role is None else RoleIdentity(
                    _text(role, "arn"), _text(role, "role_id"), _text(role, "create_date"))
                for integration, role in roles.items()
            },
        )


def _optional_text(value: JSON) -> bool:
    return value is None or isinstance(value, str)


def _text(document: Mapping[str, JSON], key: str) -> str | None:
    value = document.get(key)
    if not _optional_text(value):
        raise ValueError(f"markers: {key} is not a string")
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ScanResult:
    info: RunInfo
    rules: tuple[Rule, ...]
    results: tuple[Result, ...]
    accounts: tuple[AccountSummary, ...]
    errors: tuple[CollectionError, ...]
    unused_suppressions: tuple[Suppression, ...] = ()
    baseline_run_id: str | None = None
    resolved: tuple[ResolvedFinding, ...] = ()
    drift: tuple[Drift, ...] = ()
    markers: Markers = Markers()  # identity facts a later run's drift check compares
    paper: Paper = "A4"  # the printed HTML report's page size (a presentation choice)

    def counts(self) -> dict[Status, int]:
        counts = {status: 0 for status in Status}
        for result in self.results:
            counts[result.status] += 1
        return counts
