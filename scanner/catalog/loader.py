"""Loading the catalog: every file checked against `schemas/catalog.schema.json`, then against each other.

Every problem is reported at once, each with its file, line and JSON path. Checks beyond the schema:
the file name is the id, ids are unique, no trusted-access principal belongs to two entries (unless listed in
SHARED_PRINCIPALS), service-linked role names are unique, a customer-role principal is one of its entry's
principals and its source one of the entry's sources, a null value is marked unverified, a role another
entry owns exists, and no documentation typo is used as a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from scanner import schemas, yamlfile
from scanner.catalog.model import (
    CustomerRolePrincipal,
    DelegatedAdministrator,
    DocumentationTypo,
    Integration,
    LegacyRole,
    ManagedPolicy,
    Principal,
    ServiceLinkedRole,
    Source,
)
from scanner.errors import CatalogError

# A trusted-access principal two entries may both claim, with the entries that may. None is known today;
# a new one must be named here, so that a copy-paste slip between files is never taken for a fact.
SHARED_PRINCIPALS: Mapping[str, frozenset[str]] = {}


class Catalog:
    """Every entry, looked up by id, by trusted-access principal or by service-linked role name."""

    __slots__ = ("_by_id", "_by_principal", "_by_role", "entries")

    def __init__(self, entries: Iterable[Integration]) -> None:
        self.entries: tuple[Integration, ...] = tuple(sorted(entries, key=lambda e: e.id))
        self._by_id = {e.id: e for e in self.entries}
        self._by_principal: dict[str, Integration] = {}
        self._by_role: dict[str, tuple[Integration, ServiceLinkedRole]] = {}
        for entry in self.entries:
            for principal in entry.principals():
                self._by_principal.setdefault(principal.lower(), entry)
            for role in entry.service_linked_roles:
                if role.name is not None:
                    self._by_role[role.name.lower()] = (entry, role)

    @property
    def integrations(self) -> tuple[Integration, ...]:
        """Services with trusted access (the Organizations baseline left out)."""
        return tuple(e for e in self.entries if e.kind == "integration")

    @property
    def baseline(self) -> Integration:
        return next(e for e in self.entries if e.kind == "baseline")

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, entry_id: str) -> Integration:
        return self._by_id[entry_id]

    def get(self, entry_id: str) -> Integration | None:
        return self._by_id.get(entry_id)

    def integration_for_principal(self, principal: str) -> Integration | None:
        """The entry a trusted-access principal (current, legacy or misspelt) belongs to."""
        return self._by_principal.get(principal.strip().lower())

    def integration_for_role(self, role_name: str) -> tuple[Integration, ServiceLinkedRole] | None:
        """The entry and role for a service-linked role name; IAM compares role names case-insensitively."""
        return self._by_role.get(role_name.strip().lower())

    @property
    def documentation_typos(self) -> tuple[DocumentationTypo, ...]:
        return tuple(t for e in self.entries for t in e.documentation_typos)


def catalog_dir() -> Path:
    return Path(str(resources.files("scanner.catalog").joinpath("integrations")))


@cache
def load_catalog() -> Catalog:
    """The catalog shipped in the package (loaded once)."""
    return load_catalog_dir(catalog_dir(), display_prefix="scanner/catalog/integrations")


def load_catalog_dir(directory: Path, *, display_prefix: str | None = None) -> Catalog:
    """Load and cross-check every `*.yaml` in `directory`; raise CatalogError listing every problem."""
    problems: list[str] = []
    documents: list[tuple[Path, yamlfile.YamlDocument]] = []
    files = sorted(directory.glob("*.yaml"))
    stems = {path.stem for path in files}
    if not files:
        raise CatalogError([f"{directory}: no catalog files (*.yaml) in this folder"])
    for path in files:
        display = f"{display_prefix}/{path.name}" if display_prefix else str(path)
        try:
            document = yamlfile.load(path, what="catalog file", error=CatalogError)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        document = yamlfile.YamlDocument(display, document.data, document.lines)
        found = schemas.problems(document.data, "catalog", where=document.where)
        if not found:
            found = _entry_problems(path, document, stems)
        problems.extend(found)
        if not found:
            documents.append((path, document))
    entries = [_build(document) for _, document in documents]
    problems.extend(_cross_problems(entries, {e.id: doc for e, (_, doc) in zip(entries, documents, strict=False)}))
    if problems:
        raise CatalogError(problems)
    return Catalog(entries)


def _entry_problems(path: Path, document: yamlfile.YamlDocument, stems: set[str]) -> list[str]:
    data = document.data
    problems = []

    def problem(at: yamlfile.JsonPath, message: str) -> None:
        problems.append(f"{document.where(at)}: {yamlfile.format_json_path(at)}: {message}")

    if data["id"] != path.stem:
        if data["id"] in stems:  # the file of that name holds the id: ids are unique because file names are
            problem(("id",), f"duplicate id {data['id']!r}: {data['id']}.yaml has it already")
        else:
            problem(("id",), f"the id {data['id']!r} differs from the file name {path.name!r} (name the file "
                             f"{data['id']}.yaml)")
    for i, role in enumerate(data["service_linked_roles"]):
        unverified = set(role.get("unverified", []))
        for key in ("name", "trusted_principal"):
            if role[key] is None and key not in unverified:
                problem(("service_linked_roles", i, key), f"null must be listed in `unverified` (add {key!r})")
        if not role["managed_policies"] and "managed_policies" not in unverified:
            problem(("service_linked_roles", i, "managed_policies"),
                    "no policy given: list it, or mark `managed_policies` unverified")
    own = {str(r["trusted_principal"]).lower() for r in data["service_linked_roles"] if r["trusted_principal"]}
    own |= {str(r["trusted_principal"]).lower() for r in data.get("legacy_roles", [])}
    own |= {str(p["principal"]).lower() for p in data["trusted_access"] if p["principal"]}
    urls = {s["url"] for s in data["sources"]}
    for i, customer in enumerate(data.get("customer_role_principals", [])):
        if customer["principal"].lower() not in own:
            problem(("customer_role_principals", i, "principal"),
                    f"{customer['principal']!r} is none of this entry's principals")
        if customer["source"] not in urls:
            problem(("customer_role_principals", i, "source"), "not the url of one of this entry's `sources`")
    return problems


def _cross_problems(entries: list[Integration], documents: Mapping[str, yamlfile.YamlDocument]) -> list[str]:
    problems: list[str] = []

    def problem(entry: Integration, at: yamlfile.JsonPath, message: str) -> None:
        document = documents[entry.id]
        problems.append(f"{document.where(at)}: {yamlfile.format_json_path(at)}: {message}")

    principals: dict[str, Integration] = {}
    roles: dict[str, Integration] = {}
    for entry in entries:
        for i, principal in enumerate(entry.trusted_access):
            if principal.principal is None:
                continue
            key = principal.principal.lower()
            other = principals.get(key)
            if other is not None and other.id != entry.id and entry.id not in SHARED_PRINCIPALS.get(key, ()):
                problem(entry, ("trusted_access", i, "principal"),
                        f"{principal.principal!r} is already claimed by {other.id!r} ({other.file}); a principal "
                        "two services share must be listed in SHARED_PRINCIPALS")
            principals.setdefault(key, entry)
        for i, role in enumerate(entry.service_linked_roles):
            if role.name is None:
                continue
            other = roles.get(role.name.lower())
            if other is not None:
                problem(entry, ("service_linked_roles", i, "name"),
                        f"service-linked role {role.name!r} is already listed by {other.id!r} ({other.file}); "
                        "name it under `uses_roles_of` instead")
            roles.setdefault(role.name.lower(), entry)
    kinds = [e for e in entries if e.kind == "baseline"]
    for extra in kinds[1:]:
        problem(extra, ("kind",), f"only one baseline entry may exist (also {kinds[0].file})")
    for entry in entries:
        for i, name in enumerate(entry.uses_roles_of):
            owner = roles.get(name.lower())
            if owner is None:
                problem(entry, ("uses_roles_of", i), f"no entry lists a service-linked role {name!r}")
            elif owner.id == entry.id:
                problem(entry, ("uses_roles_of", i), f"{name!r} is this entry's own role")
    typos = {t.value.lower(): (e, t) for e in entries for t in e.documentation_typos}
    for entry in entries:
        for at, value in entry.values():
            hit = typos.get(value.lower())
            if hit is not None:
                source, typo = hit
                fix = f" (the correct value is {typo.correct!r})" if typo.correct else ""
                problem(entry, at, f"{value!r} is a documentation typo recorded in {source.file}{fix}, not a value")
    return problems


def _build(document: yamlfile.YamlDocument) -> Integration:
    data: dict[str, Any] = document.data
    da = data["delegated_administrator"]
    return Integration(
        id=data["id"],
        name=data["name"],
        kind=data["kind"],
        checked_on=data["checked_on"],
        enable_via=data["enable_via"],
        trusted_access=tuple(
            Principal(p["principal"], p["status"], p["verified"], p.get("note")) for p in data["trusted_access"]
        ),
        service_linked_roles=tuple(
            ServiceLinkedRole(
                name=r["name"],
                trusted_principal=r["trusted_principal"],
                managed_policies=tuple(ManagedPolicy(m["arn"], m["attachment"]) for m in r["managed_policies"]),
                created_in=tuple(r["created_in"]),
                created_when=r["created_when"],
                kept_when_disabled=r.get("kept_when_disabled"),
                unverified=frozenset(r.get("unverified", [])),
                note=r.get("note"),
            )
            for r in data["service_linked_roles"]
        ),
        delegated_administrator=DelegatedAdministrator(
            da["supported"], tuple(da.get("principals", [])), da.get("register_via"), da.get("note")
        ),
        sources=tuple(Source(s["title"], s["url"], s["kind"]) for s in data["sources"]),
        uses_roles_of=tuple(data.get("uses_roles_of", [])),
        customer_role_principals=tuple(
            CustomerRolePrincipal(c["principal"], c["note"], c["source"])
            for c in data.get("customer_role_principals", [])
        ),
        legacy_roles=tuple(
            LegacyRole(r["name"], r["path"], r["trusted_principal"], tuple(r["managed_policy_arns"]), r.get("note"))
            for r in data.get("legacy_roles", [])
        ),
        documentation_typos=tuple(
            DocumentationTypo(t["value"], t["correct"], t["where"]) for t in data.get("documentation_typos", [])
        ),
        notes=data.get("notes"),
        file=document.path,
    )
