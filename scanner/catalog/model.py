"""The integrations catalog as typed, frozen data: what each AWS service's integration with Organizations creates.

A value no source confirmed stays marked (a null principal, `verified=False`, a field named in
`ServiceLinkedRole.unverified`), so that anything built on it can tell a documented fact from a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

PrincipalStatus = Literal["current", "legacy", "misspelling"]
EnableVia = Literal["organizations", "either", "service-console"]
Location = Literal["management", "members", "delegated_administrator"]
CreatedWhen = Literal["on-enable", "on-service-console-enable", "on-service-action"]
Attachment = Literal["documented", "name-inferred"]
RegisterVia = Literal["organizations", "service"]
EntryKind = Literal["integration", "baseline"]

SERVICE_LINKED_ROLE_PATH_PREFIX = "/aws-service-role/"


def service_linked_role_path(trusted_principal: str) -> str:
    """IAM files every service-linked role under the one principal it trusts: the path is the truth."""
    return f"{SERVICE_LINKED_ROLE_PATH_PREFIX}{trusted_principal}/"


def is_service_principal(principal: str) -> bool:
    """A service principal, as opposed to a role name some page once printed where a principal belongs."""
    return principal.endswith(".amazonaws.com")


@dataclass(frozen=True, slots=True)
class Principal:
    """A trusted-access principal; `principal` is None when no source names it (then never verified)."""

    principal: str | None
    status: PrincipalStatus
    verified: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    arn: str
    attachment: Attachment

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class ServiceLinkedRole:
    name: str | None
    trusted_principal: str | None
    managed_policies: tuple[ManagedPolicy, ...]
    created_in: tuple[Location, ...]
    created_when: CreatedWhen
    kept_when_disabled: bool | None = None
    unverified: frozenset[str] = frozenset()
    note: str | None = None

    @property
    def path(self) -> str | None:
        return service_linked_role_path(self.trusted_principal) if self.trusted_principal else None

    @property
    def managed_policy_arns(self) -> tuple[str, ...]:
        return tuple(policy.arn for policy in self.managed_policies)

    def is_verified(self, field: str) -> bool:
        return field not in self.unverified

    @property
    def fully_verified(self) -> bool:
        """Every field confirmed, including that each policy is documented as this role's."""
        return not self.unverified and all(p.attachment == "documented" for p in self.managed_policies)


@dataclass(frozen=True, slots=True)
class LegacyRole:
    """A customer-owned role an older setup created: not service-linked, so its trust can be edited."""

    name: str
    path: str
    trusted_principal: str
    managed_policy_arns: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DelegatedAdministrator:
    supported: bool | None  # None: no source says
    principals: tuple[str, ...] = ()
    register_via: RegisterVia | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str
    kind: str


@dataclass(frozen=True, slots=True)
class CustomerRolePrincipal:
    """A service principal of the integration that customers' own roles trust for purposes unrelated to it
    (an EC2 instance role trusts ec2.amazonaws.com): such a trust says nothing about the integration, so it
    neither makes a role worth reading nor counts as trusting the integration. `source` is one of the entry's
    sources' urls, saying why."""

    principal: str
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class DocumentationTypo:
    value: str
    correct: str | None
    where: str


@dataclass(frozen=True, slots=True)
class Integration:
    id: str
    name: str
    kind: EntryKind
    checked_on: str
    enable_via: EnableVia
    trusted_access: tuple[Principal, ...]
    service_linked_roles: tuple[ServiceLinkedRole, ...]
    delegated_administrator: DelegatedAdministrator
    sources: tuple[Source, ...]
    uses_roles_of: tuple[str, ...] = ()
    legacy_roles: tuple[LegacyRole, ...] = ()
    customer_role_principals: tuple[CustomerRolePrincipal, ...] = ()
    documentation_typos: tuple[DocumentationTypo, ...] = ()
    notes: str | None = None
    file: str = ""

    def principals(self, *statuses: PrincipalStatus) -> tuple[str, ...]:
        """Named trusted-access principals with one of `statuses` (all when none given), in file order."""
        return tuple(
            p.principal for p in self.trusted_access if p.principal is not None and (not statuses or p.status in statuses)
        )

    @property
    def current_principals(self) -> tuple[str, ...]:
        return self.principals("current")

    @property
    def legacy_principals(self) -> tuple[str, ...]:
        """Legacy and misspelt principals: enabled, either means someone followed an old page."""
        return self.principals("legacy", "misspelling")

    @property
    def service_principals(self) -> tuple[str, ...]:
        """Every service principal a trust policy may name for this service: the roles' first, then trusted access."""
        found = [r.trusted_principal for r in self.service_linked_roles if r.trusted_principal]
        found += [r.trusted_principal for r in self.legacy_roles]
        found += [p for p in self.principals() if is_service_principal(p)]
        return tuple(dict.fromkeys(found))

    @property
    def trust_principals(self) -> tuple[str, ...]:
        """The service principals whose trust in a role concerns this integration: every one but those customers'
        own roles trust for unrelated purposes (`customer_role_principals`)."""
        unrelated = {c.principal.lower() for c in self.customer_role_principals}
        return tuple(p for p in self.service_principals if p.lower() not in unrelated)

    def role(self, name: str) -> ServiceLinkedRole:
        """The service-linked role named `name` (IAM role names compare case-insensitively)."""
        for role in self.service_linked_roles:
            if role.name is not None and role.name.lower() == name.lower():
                return role
        raise KeyError(f"{self.id} has no service-linked role {name!r}")

    @property
    def fully_verified(self) -> bool:
        """Every cell confirmed: principals, roles (with documented policy attachments), delegated-admin support."""
        return (
            all(p.verified for p in self.trusted_access)
            and all(r.fully_verified for r in self.service_linked_roles)
            and self.delegated_administrator.supported is not None
        )

    def values(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """(JSON path, value) for every identifier the entry states: what documentation typos are checked against.

        A misspelt trusted-access principal is left out: it is kept on purpose, to be found enabled."""
        for i, p in enumerate(self.trusted_access):
            if p.principal is not None and p.status != "misspelling":
                yield ("trusted_access", i, "principal"), p.principal
        for i, r in enumerate(self.service_linked_roles):
            if r.name is not None:
                yield ("service_linked_roles", i, "name"), r.name
            if r.trusted_principal is not None:
                yield ("service_linked_roles", i, "trusted_principal"), r.trusted_principal
            for j, policy in enumerate(r.managed_policies):
                yield ("service_linked_roles", i, "managed_policies", j, "arn"), policy.name
        for i, legacy in enumerate(self.legacy_roles):
            yield ("legacy_roles", i, "name"), legacy.name
            yield ("legacy_roles", i, "trusted_principal"), legacy.trusted_principal
        for i, name in enumerate(self.uses_roles_of):
            yield ("uses_roles_of", i), name
        for i, customer in enumerate(self.customer_role_principals):
            yield ("customer_role_principals", i, "principal"), customer.principal
        for i, name in enumerate(self.delegated_administrator.principals):
            yield ("delegated_administrator", "principals", i), name
