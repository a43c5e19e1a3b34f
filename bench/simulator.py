"""A simulated AWS organization of N accounts, answered at the botocore layer for the scale benchmark.

`SimulatedOrganization.install(session)` registers a `before-send` handler on a boto3 session: every
request a client of that session would send is answered from generated state instead, as AWS would
answer it on the wire (XML for IAM and STS, JSON for Organizations and Artifact), after a configurable
latency. botocore still builds, signs and parses every request, so what is measured is the scanner's
own cost; the simulator's is a dictionary lookup and a bytes template per call.

What it simulates:

- an organization of one management account and N-1 members (12-digit ids), listed 20 per page;
- `roles_per_account` ordinary roles in every account (trusting EC2 or Lambda), the Artifact
  service-linked role in the management account, and the legacy `AWSArtifactAccountSync` role in
  every `legacy_every`-th member (each costs the detail calls a role of interest costs);
- AssumeRole into `OrganizationAccountAccessRole` of any member, with fresh keys whose expiry is
  `expiry_seconds` away; a request signed with expired keys gets `ExpiredToken`, as AWS answers it;
- optional rate limits, as token buckets holding one second of requests: `sts` (AssumeRole, per
  calling account), `iam` (per account, all IAM calls), `organizations` and `artifact` (per
  organization). A request over the limit gets AWS's throttling answer (`Throttling`, "Rate
  exceeded" for IAM and STS; `TooManyRequestsException` for Organizations) and uses no token;
- optionally, integrations from the catalog (scanner.catalog; `integrations_for_bench` picks them):
  trusted access enabled for each, their service-linked roles (catalog names, paths, trust and
  managed policies) in the management account and, for roles the catalog says are created in
  members, in every member; delegated administrators registered for some of them, answered by
  ListDelegatedAdministrators and ListDelegatedServicesForAccount;
- per-operation and per-account call counts, and the times of the first member AssumeRole and the
  last ListAccounts page (to show that the listing overlaps the scan).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.awsrequest import AWSResponse

from scanner.catalog import Integration, ServiceLinkedRole, load_catalog

MANAGEMENT_ID = "100000000000"
ORGANIZATION_ID = "o-sim0000001"
BASE_ACCESS_KEY = "AKIASIMULATEDBASE001"
BASE_SECRET_KEY = "simulated-base-secret-access-key-0000000"
ACCESS_ROLE = "OrganizationAccountAccessRole"
PAGE = 20  # ListAccounts' maximum page size
EPOCH = 1_600_000_000  # 2020-09-13, every CreateDate and JoinedTimestamp

_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def member_id(n: int) -> str:
    return f"{200000000000 + n:012d}"


def _trust(service: str) -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    return urllib.parse.quote(json.dumps(document, separators=(",", ":")), safe="")


_SLR_PRINCIPAL = "artifact.amazonaws.com"
_SLR_TRUST = _trust(_SLR_PRINCIPAL)
_LEGACY_PRINCIPAL = "aws-artifact-account-sync.amazonaws.com"
_LEGACY_TRUST = _trust(_LEGACY_PRINCIPAL)
_ACCESS_TRUST = urllib.parse.quote(
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ID}:root"}, "Action": "sts:AssumeRole"}
            ],
        },
        separators=(",", ":"),
    ),
    safe="",
)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    path: str
    trust: str  # URL-encoded, as IAM sends it
    policies: tuple[tuple[str, str], ...] = ()  # attached (name, arn)
    description: str = ""
    integration: str = ""  # the catalog id of the integration it belongs to ("" for ordinary roles)


def _integration_of(principal: str) -> str:
    entry = load_catalog().integration_for_principal(principal)
    return entry.id if entry is not None else ""


SERVICE_LINKED_ROLE = RoleSpec(
    "AWSServiceRoleForArtifact",
    "/aws-service-role/artifact.amazonaws.com/",
    _SLR_TRUST,
    (("AWSArtifactServiceRolePolicy", "arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy"),),
    "Allows AWS Artifact to gather information about an organization via AWS Organizations",
    _integration_of(_SLR_PRINCIPAL),
)
LEGACY_ROLE = RoleSpec(
    "AWSArtifactAccountSync",
    "/service-role/",
    _LEGACY_TRUST,
    (("AWSArtifactAccountSync", "arn:aws:iam::aws:policy/service-role/AWSArtifactAccountSync"),),
    integration=_integration_of(_LEGACY_PRINCIPAL),
)


DELEGATED_PAGE = 20  # ListDelegatedAdministrators' and ListDelegatedServicesForAccount's largest page


def integrations_for_bench(count: int) -> tuple[Integration, ...]:
    """`count` catalog integrations to enable in the simulated organization, chosen by rule, never by name:
    every candidate has a current trusted-access principal, can be enabled through Organizations and owns
    a service-linked role whose name and principal are known. First up to a third of them with roles the
    catalog creates in member accounts (the ones that must still cost a healthy member nothing), then
    those that support a delegated administrator, then the rest, each group in id order. The integration
    the simulator always enables (the Artifact service-linked role's principal) is left out: it is there
    anyway."""
    candidates = [
        entry for entry in load_catalog().integrations
        if entry.current_principals and entry.enable_via != "service-console"
        and any(r.name and r.trusted_principal for r in entry.service_linked_roles)
        and _SLR_PRINCIPAL not in entry.service_principals
    ]
    in_members = [e for e in candidates if _member_roles_of(e)]
    chosen = in_members[: max(1, count // 3) if count else 0]
    delegated = [e for e in candidates if e.delegated_administrator.supported and e not in chosen]
    rest = [e for e in candidates if e not in chosen and e not in delegated]
    return tuple((chosen + delegated + rest)[:count])


def _member_roles_of(entry: Integration) -> tuple[RoleSpec, ...]:
    return tuple(_slr_spec(entry, r) for r in entry.service_linked_roles if r.name and r.trusted_principal
                 and "members" in r.created_in)


def _management_roles_of(entry: Integration) -> tuple[RoleSpec, ...]:
    return tuple(_slr_spec(entry, r) for r in entry.service_linked_roles if r.name and r.trusted_principal
                 and "management" in r.created_in)


def _slr_spec(entry: Integration, role: ServiceLinkedRole) -> RoleSpec:
    """A catalog service-linked role as IAM would hold it: the catalog's name, path, trust and policies."""
    assert role.name and role.path and role.trusted_principal  # the callers keep only roles that have them
    return RoleSpec(
        role.name, role.path, _trust(role.trusted_principal),
        tuple((policy.name, policy.arn) for policy in role.managed_policies),
        f"service-linked role of {role.trusted_principal}",
        entry.id,
    )


def _role_xml(spec: RoleSpec, account: str, index: int) -> str:
    return (
        f"<member><Path>{spec.path}</Path><RoleName>{spec.name}</RoleName>"
        f"<RoleId>AROA{account}{index:08d}</RoleId>"
        f"<Arn>arn:aws:iam::{account}:role{spec.path}{spec.name}</Arn>"
        f"<CreateDate>2020-09-13T12:26:40Z</CreateDate>"
        f"<AssumeRolePolicyDocument>{spec.trust}</AssumeRolePolicyDocument>"
        f"<Description>{spec.description}</Description><MaxSessionDuration>3600</MaxSessionDuration></member>"
    )


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class _Bucket:
    """AWS-like token bucket: `rate` tokens per second, holding one second of them."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class _Key:
    account: str
    expires: float | None  # time.time(); None = never (the base keys)


@dataclass
class SimulatedOrganization:
    """N accounts (the management account included) and the state AWS would keep about them."""

    accounts: int
    latency: float = 0.05  # seconds per request, throttled ones included
    roles_per_account: int = 20
    legacy_every: int = 0  # every n-th member holds AWSArtifactAccountSync (0: none)
    rate_limits: Mapping[str, float] = field(default_factory=dict)  # sts, iam, organizations, artifact
    expiry_seconds: float = 3600.0
    denied_accounts: frozenset[str] = frozenset()  # AssumeRole refused (AccessDenied)
    integrations: tuple[Integration, ...] = ()  # catalog entries with trusted access enabled (integrations_for_bench)
    delegated_every: int = 2  # every n-th enabled integration that supports one has a delegated administrator
    delegated_accounts: int = 2  # ... spread over this many member accounts
    scope: frozenset[str] | None = None  # the integrations the scan is for (None: all): whose roles it must read

    def __post_init__(self) -> None:
        self.ids = [MANAGEMENT_ID, *(member_id(n) for n in range(1, self.accounts))]
        self._pages = self._render_pages()
        self.management_roles: tuple[RoleSpec, ...] = (
            SERVICE_LINKED_ROLE, *(r for e in self.integrations for r in _management_roles_of(e)))
        self.member_roles: tuple[RoleSpec, ...] = tuple(r for e in self.integrations for r in _member_roles_of(e))
        self.delegated = self._delegate()
        kinds = {"member": (False, False), "legacy": (False, True), "management": (True, False)}
        self._specs = {kind: self._role_specs(management=m, legacy=legacy) for kind, (m, legacy) in kinds.items()}
        self._by_name = {kind: {spec.name: spec for spec in specs} for kind, specs in self._specs.items()}
        self._roles = {kind: [_role_xml(spec, "{ACCOUNT}", i) for i, spec in enumerate(specs)]
                       for kind, specs in self._specs.items()}
        # The common answer (every role in one page of IAM's maximum 1,000) rendered once.
        self._first_pages = {kind: self._list_roles_body(members, 0, 1000) for kind, members in self._roles.items()}
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {BASE_ACCESS_KEY: _Key(MANAGEMENT_ID, None)}
        self._key_counter = 0
        self._buckets: dict[str, _Bucket] = {}
        self.calls: Counter[str] = Counter()  # "iam:ListRoles" -> n, every request (throttled ones too)
        self.per_account: Counter[str] = Counter()  # account id -> requests made in or about it
        self.per_account_api: Counter[tuple[str, str]] = Counter()  # (account id, "iam:ListRoles") -> n
        self.throttled: Counter[str] = Counter()
        self.expired: Counter[str] = Counter()
        self.first_member_assume: float | None = None
        self.last_list_accounts: float | None = None
        self.started = time.monotonic()

    # -- state ---------------------------------------------------------------------------------

    def is_legacy(self, account: str) -> bool:
        if not self.legacy_every or account == MANAGEMENT_ID:
            return False
        return int(account) % self.legacy_every == 0

    def roles_of_interest(self, account: str) -> tuple[RoleSpec, ...]:
        """The roles a perfect scanner reads in detail: the management account's service-linked roles, and a
        member's legacy role. A member's genuine service-linked role is judged from ListRoles alone."""
        if account == MANAGEMENT_ID:
            roles = self.management_roles
        else:
            roles = (LEGACY_ROLE,) if self.is_legacy(account) else ()
        return tuple(r for r in roles if self.scope is None or r.integration in self.scope)

    @property
    def enabled_principals(self) -> tuple[str, ...]:
        """Trusted access: Artifact's principal, then each enabled integration's first current principal."""
        return tuple(dict.fromkeys([_SLR_PRINCIPAL, *(e.current_principals[0] for e in self.integrations)]))

    def _delegate(self) -> dict[str, tuple[str, ...]]:
        """delegated administrator account -> the service principals it is registered for."""
        supported = [e for e in self.integrations if e.delegated_administrator.supported]
        registered: dict[str, list[str]] = {}
        if not self.delegated_every or not self.delegated_accounts:
            return {}
        for n, entry in enumerate(supported[:: self.delegated_every]):
            principal = (entry.delegated_administrator.principals or entry.current_principals)[0]
            registered.setdefault(member_id(1 + n % self.delegated_accounts), []).append(principal)
        return {account: tuple(principals) for account, principals in registered.items()}

    def _render_pages(self) -> list[bytes]:
        pages = []
        for start in range(0, len(self.ids), PAGE):
            chunk = self.ids[start : start + PAGE]
            accounts = [
                {
                    "Id": a,
                    "Arn": f"arn:aws:organizations::{MANAGEMENT_ID}:account/{ORGANIZATION_ID}/{a}",
                    "Email": f"aws+{a}@example.com",
                    "Name": "management" if a == MANAGEMENT_ID else f"member-{a[-6:]}",
                    "Status": "ACTIVE",
                    "State": "ACTIVE",
                    "JoinedMethod": "INVITED" if a == MANAGEMENT_ID else "CREATED",
                    "JoinedTimestamp": EPOCH,
                }
                for a in chunk
            ]
            page: dict[str, Any] = {"Accounts": accounts}
            if start + PAGE < len(self.ids):
                page["NextToken"] = f"page-{start + PAGE}"
            pages.append(json.dumps(page).encode())
        return pages

    def _role_specs(self, *, management: bool, legacy: bool = False) -> list[RoleSpec]:
        """The roles of one kind of account, in ListRoles order."""
        roles = [RoleSpec(ACCESS_ROLE, "/", _ACCESS_TRUST)]
        for n in range(1, self.roles_per_account):
            service = "ec2.amazonaws.com" if n % 2 else "lambda.amazonaws.com"
            roles.append(RoleSpec(f"app-role-{n:04d}", "/apps/", _trust(service)))
        roles.extend(self.management_roles if management else self.member_roles)
        if legacy:
            roles.append(LEGACY_ROLE)
        return roles

    @staticmethod
    def _list_roles_body(members: list[str], marker: int, max_items: int) -> bytes:
        page = members[marker : marker + max_items]
        more = marker + max_items < len(members)
        truncated = f"<IsTruncated>true</IsTruncated><Marker>m{marker + max_items}</Marker>" if more else (
            "<IsTruncated>false</IsTruncated>"
        )
        body = (
            f'<ListRolesResponse xmlns="{_IAM_NS}"><ListRolesResult>{truncated}'
            f"<Roles>{''.join(page)}</Roles></ListRolesResult>"
            f"<ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></ListRolesResponse>"
        )
        return body.encode()

    # -- the handler -----------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        session.events.register("before-send", self.handle)

    def handle(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse:
        _, service, operation = event_name.split(".", 2)
        api = f"{service}:{operation}"
        access_key = self._access_key(request)
        params = self._params(request, service)
        try:
            return self._handle(service, operation, api, access_key, params)
        finally:
            # The whole round trip; AWS judged the request (keys, expiry, rate) when it arrived.
            if self.latency:
                time.sleep(self.latency)

    def _handle(self, service: str, operation: str, api: str, access_key: str, params: Mapping[str, Any]) -> AWSResponse:
        with self._lock:
            key = self._keys.get(access_key)
            account = key.account if key else "?"
            self.calls[api] += 1
            subject = self._subject(service, operation, params, account)
            self.per_account[subject] += 1
            self.per_account_api[(subject, api)] += 1
            if key is None:
                return self._error(service, 403, "InvalidClientTokenId", "The security token included in the request is invalid.")
            if key.expires is not None and time.time() >= key.expires:
                self.expired[api] += 1
                return self._error(service, 403, "ExpiredToken", "The security token included in the request is expired")
            if not self._admit(service, account):
                self.throttled[api] += 1
                if service == "organizations":
                    return self._error(
                        service, 400, "TooManyRequestsException",
                        "You have sent too many requests in too short a period of time. Try again later.",
                    )
                return self._error(service, 400, "Throttling", "Rate exceeded")
            now = time.monotonic() - self.started
            if api == "sts:AssumeRole" and subject != MANAGEMENT_ID and self.first_member_assume is None:
                self.first_member_assume = now
            if api == "organizations:ListAccounts":
                self.last_list_accounts = now
        return self._answer(service, operation, params, account)

    @staticmethod
    def _access_key(request: Any) -> str:
        header = request.headers.get("Authorization") or b""
        text = header.decode() if isinstance(header, bytes) else header
        start = text.find("Credential=")
        return text[start + 11 : text.find("/", start)] if start >= 0 else ""

    @staticmethod
    def _params(request: Any, service: str) -> dict[str, Any]:
        body = request.body or b""
        if isinstance(body, bytes):
            body = body.decode()
        if service == "organizations":
            return json.loads(body) if body else {}
        if service == "artifact":
            return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
        return dict(urllib.parse.parse_qsl(body))

    @staticmethod
    def _subject(service: str, operation: str, params: Mapping[str, Any], account: str) -> str:
        """The account a request is about: AssumeRole's target, else the signer's."""
        if operation == "AssumeRole":
            parts = str(params.get("RoleArn", "")).split(":")
            return parts[4] if len(parts) > 4 else account
        return account

    def _admit(self, service: str, account: str) -> bool:
        rate = self.rate_limits.get(service)
        if not rate:
            return True
        bucket_key = f"iam:{account}" if service == "iam" else service
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            bucket = self._buckets[bucket_key] = _Bucket(rate)
        return bucket.take()

    # -- answers ---------------------------------------------------------------------------------

    def _answer(self, service: str, operation: str, params: Mapping[str, Any], account: str) -> AWSResponse:
        handler = getattr(self, f"_{service}_{operation}", None)
        if handler is None:
            return self._error(service, 400, "InvalidAction", f"the simulator does not answer {service}:{operation}")
        result: AWSResponse = handler(params, account)
        return result

    def _xml(self, body: str | bytes) -> AWSResponse:
        data = body.encode() if isinstance(body, str) else body
        return AWSResponse("https://simulated.invalid/", 200, {"Content-Type": "text/xml"}, _Body(data))

    def _json(self, document: Any, *, raw: bytes | None = None) -> AWSResponse:
        data = raw if raw is not None else json.dumps(document).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "sim"}
        return AWSResponse("https://simulated.invalid/", 200, headers, _Body(data))

    def _error(self, service: str, status: int, code: str, message: str) -> AWSResponse:
        if service in ("organizations", "artifact"):
            data = json.dumps({"__type": code, "Message": message, "message": message}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "sim", "x-amzn-ErrorType": code}
            return AWSResponse("https://simulated.invalid/", status, headers, _Body(data))
        ns = _IAM_NS if service == "iam" else _STS_NS
        body = (
            f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>sim</RequestId></ErrorResponse>"
        )
        return AWSResponse("https://simulated.invalid/", status, {"Content-Type": "text/xml"}, _Body(body.encode()))

    # STS

    def _sts_GetCallerIdentity(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        arn = f"arn:aws:iam::{account}:user/bench" if account == MANAGEMENT_ID else f"arn:aws:sts::{account}:assumed-role/x/y"
        return self._xml(
            f'<GetCallerIdentityResponse xmlns="{_STS_NS}"><GetCallerIdentityResult><Arn>{arn}</Arn>'
            f"<UserId>AIDASIMULATED</UserId><Account>{account}</Account></GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )

    def _sts_AssumeRole(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        role_arn = str(params.get("RoleArn", ""))
        parts = role_arn.split(":")
        target = parts[4] if len(parts) > 4 else ""
        if target not in self.ids or target in self.denied_accounts:
            return self._error(
                "sts", 403, "AccessDenied",
                f"User: arn:aws:iam::{account}:user/bench is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        with self._lock:
            self._key_counter += 1
            access_key = f"ASIA{target}{self._key_counter:08d}"
            self._keys[access_key] = _Key(target, time.time() + self.expiry_seconds)
        expiration = (datetime.now(timezone.utc) + timedelta(seconds=self.expiry_seconds)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        session = params.get("RoleSessionName", "s")
        role_name = role_arn.rsplit("/", 1)[-1]
        return self._xml(
            f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult><Credentials>'
            f"<AccessKeyId>{access_key}</AccessKeyId><SecretAccessKey>secret{access_key}</SecretAccessKey>"
            f"<SessionToken>token{access_key}token</SessionToken><Expiration>{expiration}</Expiration>"
            f"</Credentials><AssumedRoleUser><AssumedRoleId>AROA{target}:{session}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{target}:assumed-role/{role_name}/{session}</Arn></AssumedRoleUser>"
            f"</AssumeRoleResult><ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></AssumeRoleResponse>"
        )

    # Organizations

    def _organizations_DescribeOrganization(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        return self._json(
            {
                "Organization": {
                    "Id": ORGANIZATION_ID,
                    "Arn": f"arn:aws:organizations::{MANAGEMENT_ID}:organization/{ORGANIZATION_ID}",
                    "FeatureSet": "ALL",
                    "MasterAccountArn": f"arn:aws:organizations::{MANAGEMENT_ID}:account/{ORGANIZATION_ID}/{MANAGEMENT_ID}",
                    "MasterAccountId": MANAGEMENT_ID,
                    "MasterAccountEmail": f"aws+{MANAGEMENT_ID}@example.com",
                    "AvailablePolicyTypes": [],
                }
            }
        )

    def _organizations_ListAWSServiceAccessForOrganization(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        items = [{"ServicePrincipal": p, "DateEnabled": EPOCH} for p in self.enabled_principals]
        return self._json(self._page(items, params, "EnabledServicePrincipals", 20))

    def _organizations_ListDelegatedAdministrators(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        wanted = params.get("ServicePrincipal")
        items = [
            {
                "Id": a,
                "Arn": f"arn:aws:organizations::{MANAGEMENT_ID}:account/{ORGANIZATION_ID}/{a}",
                "Email": f"aws+{a}@example.com",
                "Name": f"member-{a[-6:]}",
                "Status": "ACTIVE",
                "State": "ACTIVE",
                "JoinedMethod": "CREATED",
                "JoinedTimestamp": EPOCH,
                "DelegationEnabledDate": EPOCH,
            }
            for a, principals in sorted(self.delegated.items())
            if wanted is None or wanted in principals
        ]
        return self._json(self._page(items, params, "DelegatedAdministrators", DELEGATED_PAGE))

    def _organizations_ListDelegatedServicesForAccount(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        target = str(params.get("AccountId"))
        if target not in self.delegated:
            return self._error("organizations", 400, "AccountNotRegisteredException",
                               "The provided account is not a registered delegated administrator for your organization.")
        items = [{"ServicePrincipal": p, "DelegationEnabledDate": EPOCH} for p in self.delegated[target]]
        return self._json(self._page(items, params, "DelegatedServices", DELEGATED_PAGE))

    @staticmethod
    def _page(items: list[dict[str, Any]], params: Mapping[str, Any], member: str, largest: int) -> dict[str, Any]:
        """One page of an Organizations listing (NextToken "n-<offset>")."""
        start = int(str(params.get("NextToken") or "n-0").split("-", 1)[1])
        size = min(largest, int(params.get("MaxResults") or largest))
        page: dict[str, Any] = {member: items[start : start + size]}
        if start + size < len(items):
            page["NextToken"] = f"n-{start + size}"
        return page

    def _organizations_ListAccounts(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        token = str(params.get("NextToken") or "page-0")
        index = int(token.split("-", 1)[1]) // PAGE
        return self._json(None, raw=self._pages[index])

    # Artifact

    def _artifact_ListCustomerAgreements(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        return self._json({"customerAgreements": []})

    # IAM

    def _iam_ListRoles(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        kind = self._kind(account)
        marker = int(str(params.get("Marker") or "m0")[1:])
        max_items = int(params.get("MaxItems") or 100)  # IAM's default page
        if marker == 0 and max_items == 1000:
            body = self._first_pages[kind]
        else:
            body = self._list_roles_body(self._roles[kind], marker, max_items)
        return self._xml(body.replace(b"{ACCOUNT}", account.encode()))

    def _kind(self, account: str) -> str:
        if account == MANAGEMENT_ID:
            return "management"
        return "legacy" if self.is_legacy(account) else "member"

    def _role(self, account: str, name: str) -> RoleSpec | None:
        return self._by_name[self._kind(account)].get(name)

    def _iam_GetRole(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        spec = self._role(account, str(params.get("RoleName")))
        if spec is None:
            return self._error("iam", 404, "NoSuchEntity", f"The role with name {params.get('RoleName')} cannot be found.")
        return self._xml(
            f'<GetRoleResponse xmlns="{_IAM_NS}"><GetRoleResult><Role>'
            + _role_xml(spec, account, 1)[len("<member>") : -len("</member>")]
            + "</Role></GetRoleResult><ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></GetRoleResponse>"
        )

    def _iam_ListAttachedRolePolicies(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        spec = self._role(account, str(params.get("RoleName")))
        members = "".join(
            f"<member><PolicyName>{name}</PolicyName><PolicyArn>{arn}</PolicyArn></member>"
            for name, arn in (spec.policies if spec else ())
        )
        return self._xml(
            f'<ListAttachedRolePoliciesResponse xmlns="{_IAM_NS}"><ListAttachedRolePoliciesResult>'
            f"<IsTruncated>false</IsTruncated><AttachedPolicies>{members}</AttachedPolicies>"
            f"</ListAttachedRolePoliciesResult><ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata>"
            f"</ListAttachedRolePoliciesResponse>"
        )

    def _iam_ListRolePolicies(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        return self._xml(
            f'<ListRolePoliciesResponse xmlns="{_IAM_NS}"><ListRolePoliciesResult><IsTruncated>false</IsTruncated>'
            f"<PolicyNames></PolicyNames></ListRolePoliciesResult>"
            f"<ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></ListRolePoliciesResponse>"
        )

    # -- figures -------------------------------------------------------------------------------------

    def member_calls(self) -> Counter[int]:
        """How many members made how many requests: {2: 9_999} when every member cost two."""
        return Counter(count for account, count in self.per_account.items() if account != MANAGEMENT_ID and account != "?")

    def ideal_calls(self, account: str) -> int:
        """The calls a perfect scanner makes for `account`: AssumeRole (members), ListRoles, and three
        detail reads (GetRole, ListAttachedRolePolicies, ListRolePolicies) per role of interest."""
        return (0 if account == MANAGEMENT_ID else 1) + 1 + 3 * len(self.roles_of_interest(account))

    def ideal_calls_by_operation(self, *, management_role: bool = False, agreements: bool = True,
                                 delegated_reads: bool = True) -> dict[str, int]:
        """What a perfect scanner calls over the whole organization, by operation (SPEC14's rule): 2 per
        member (AssumeRole, ListRoles), and for the organization DescribeOrganization, trusted access, the
        ListAccounts pages, the management ListRoles with 3 detail reads per role of interest, and
        ListDelegatedAdministrators with one ListDelegatedServicesForAccount listing per delegated
        administrator account (when `delegated_reads`: the scope holds an integration that supports one)."""

        def pages(n: int, size: int) -> int:
            return max(1, -(-n // size))

        details = sum(len(self.roles_of_interest(a)) for a in self.ids)
        calls = {
            "sts:GetCallerIdentity": 1,
            "sts:AssumeRole": len(self.ids) - 1 + int(management_role),
            "organizations:DescribeOrganization": 1,
            "organizations:ListAWSServiceAccessForOrganization": pages(len(self.enabled_principals), 20),
            "organizations:ListAccounts": pages(len(self.ids), PAGE),
            "iam:ListRoles": len(self.ids),
            "iam:GetRole": details,
            "iam:ListAttachedRolePolicies": details,
            "iam:ListRolePolicies": details,
        }
        if agreements:
            calls["artifact:ListCustomerAgreements"] = 1
        if delegated_reads:
            calls["organizations:ListDelegatedAdministrators"] = pages(len(self.delegated), DELEGATED_PAGE)
            calls["organizations:ListDelegatedServicesForAccount"] = sum(
                pages(len(services), DELEGATED_PAGE) for services in self.delegated.values())
        return {api: n for api, n in calls.items() if n}
