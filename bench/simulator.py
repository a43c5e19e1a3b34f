"""A simulated AWS organization of N accounts, answered at the botocore layer for the scale benchmark.

`SimulatedOrganization.install(session)` registers a `before-send` handler on a boto3 session: every
request a client of that session would send is answered from generated state instead, as AWS would
answer it on the wire (XML for IAM and STS, JSON for Organizations and Artifact), after a configurable
latency. botocore still builds, signs and parses every request, so what is measured is the scanner's
own cost; the simulator's is a dictionary lookup and a bytes template per call.

What it simulates:

- an organization of one management account and N-1 members (12-digit ids), listed 20 per page;
- `roles_per_account` ordinary roles in every account (trusting ECS tasks or Lambda), the Artifact
  service-linked role in the management account, and the legacy `AWSArtifactAccountSync` role in
  every `legacy_every`-th member (each costs the detail calls a role of interest costs);
- AssumeRole into `OrganizationAccountAccessRole` of any member, with fresh keys whose expiry is
  `expiry_seconds` away; a request signed with expired keys gets `ExpiredToken`, as AWS answers it;
- optional rate limits, as token buckets holding one second of requests: `sts` (AssumeRole, per
  calling account), `iam` (per account, all IAM calls), `organizations` and `artifact` (per
  organization). A request over the limit gets AWS's throttling answer (`Throttling`, "Rate
  exceeded" for IAM and STS; `TooManyRequestsException` for Organizations) and uses no token;
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


_SLR_TRUST = _trust("artifact.amazonaws.com")
_LEGACY_TRUST = _trust("aws-artifact-account-sync.amazonaws.com")
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


SERVICE_LINKED_ROLE = RoleSpec(
    "AWSServiceRoleForArtifact",
    "/aws-service-role/artifact.amazonaws.com/",
    _SLR_TRUST,
    (("AWSArtifactServiceRolePolicy", "arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy"),),
    "Allows AWS Artifact to gather information about an organization via AWS Organizations",
)
LEGACY_ROLE = RoleSpec(
    "AWSArtifactAccountSync",
    "/service-role/",
    _LEGACY_TRUST,
    (("AWSArtifactAccountSync", "arn:aws:iam::aws:policy/service-role/AWSArtifactAccountSync"),),
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

    def __post_init__(self) -> None:
        self.ids = [MANAGEMENT_ID, *(member_id(n) for n in range(1, self.accounts))]
        self._pages = self._render_pages()
        self._roles = {
            "member": self._role_members(management=False),
            "legacy": self._role_members(management=False, legacy=True),
            "management": self._role_members(management=True),
        }
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
        if account == MANAGEMENT_ID:
            return (SERVICE_LINKED_ROLE,)
        return (LEGACY_ROLE,) if self.is_legacy(account) else ()

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

    def _role_members(self, *, management: bool, legacy: bool = False) -> list[str]:
        """ListRoles items (XML, "{ACCOUNT}" in place of the account id) of one kind of account."""
        roles = [_role_xml(RoleSpec(ACCESS_ROLE, "/", _ACCESS_TRUST), "{ACCOUNT}", 0)]
        for n in range(1, self.roles_per_account):
            # Services no catalog integration names: with every integration in scope (the organizations pack),
            # a role trusting ec2.amazonaws.com (the EC2 integration's principal) is a role of interest.
            service = "ecs-tasks.amazonaws.com" if n % 2 else "lambda.amazonaws.com"
            roles.append(_role_xml(RoleSpec(f"app-role-{n:04d}", "/apps/", _trust(service)), "{ACCOUNT}", n))
        if management:
            roles.append(_role_xml(SERVICE_LINKED_ROLE, "{ACCOUNT}", 99_999))
        if legacy:
            roles.append(_role_xml(LEGACY_ROLE, "{ACCOUNT}", 99_998))
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
        return self._json(
            {"EnabledServicePrincipals": [{"ServicePrincipal": "artifact.amazonaws.com", "DateEnabled": EPOCH}]}
        )

    def _organizations_ListDelegatedAdministrators(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        return self._json({"DelegatedAdministrators": []})  # none: no ListDelegatedServicesForAccount follows

    def _organizations_ListAccounts(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        token = str(params.get("NextToken") or "page-0")
        index = int(token.split("-", 1)[1]) // PAGE
        return self._json(None, raw=self._pages[index])

    # Artifact

    def _artifact_ListCustomerAgreements(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        return self._json({"customerAgreements": []})

    # IAM

    def _iam_ListRoles(self, params: Mapping[str, Any], account: str) -> AWSResponse:
        if account == MANAGEMENT_ID:
            kind = "management"
        elif self.is_legacy(account):
            kind = "legacy"
        else:
            kind = "member"
        marker = int(str(params.get("Marker") or "m0")[1:])
        max_items = int(params.get("MaxItems") or 100)  # IAM's default page
        if marker == 0 and max_items == 1000:
            body = self._first_pages[kind]
        else:
            body = self._list_roles_body(self._roles[kind], marker, max_items)
        return self._xml(body.replace(b"{ACCOUNT}", account.encode()))

    def _role(self, account: str, name: str) -> RoleSpec | None:
        return next((r for r in self.roles_of_interest(account) if r.name == name), None)

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
