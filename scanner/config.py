"""The scanner's configuration: a YAML file validated by `schemas/config.schema.json`.

Every key has a default, so running without `--config` works; an unknown key or a wrong type is an
error naming the key's path. `config.example.yaml` shows every key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from scanner import schemas, yamlfile
from scanner.errors import ConfigError
from scanner.model import Severity
from scanner.terminal import excerpt


@dataclass(frozen=True, slots=True)
class ManagementAccess:
    """How the scanner reaches the management account."""

    profile: str | None = None  # a named profile; None = the default credential chain
    role_arn: str | None = None  # assumed first, from the profile's credentials
    external_id: str | None = None
    session_name: str = "artifact-scan"
    region: str = "us-east-1"


@dataclass(frozen=True, slots=True)
class MemberAccess:
    """The read-only role assumed in each member account."""

    role_name: str = "OrganizationAccountAccessRole"
    role_path: str = "/"
    external_id: str | None = None
    session_name: str = "artifact-scan"
    session_duration_seconds: int = 3600


@dataclass(frozen=True, slots=True)
class Scope:
    include_accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    include_ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()


DEFAULT_MAX_REQUESTS_PER_SECOND: Mapping[str, float] = {
    # Client-side limits per AWS API, shared by every worker (`iam` is per account). AWS publishes no
    # rate for these APIs (docs/aws-facts.md section 7); the limiters also slow down by themselves on the
    # first throttling answer. scanner.collect.limits reads them from here.
    "sts": 200.0,
    "organizations": 10.0,
    "iam": 20.0,
    "artifact": 5.0,
}


DEFAULT_MAX_PAGES = 1000


@dataclass(frozen=True, slots=True)
class Collection:
    concurrency: int = 16
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0  # botocore's: per socket read, so a body that drips never hits it
    call_timeout_seconds: float = 120.0  # one attempt of one call, the whole answer included
    account_timeout_seconds: float = 900.0  # everything read in one account, retries included
    max_pages_per_listing: int = DEFAULT_MAX_PAGES  # ListAccounts needs 500 for 10,000 accounts; IAM listings 5
    max_attempts: int = 8
    max_requests_per_second: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_MAX_REQUESTS_PER_SECOND)
    )


@dataclass(frozen=True, slots=True)
class RulesConfig:
    builtin: bool = True
    packs: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputConfig:
    dir: str = "reports"
    formats: tuple[str, ...] = ("json", "sarif", "html")


OthersPolicy = Literal["allow", "deny", "report"]
"""What an enabled integration the config neither requires nor forbids is: fine, a finding, or a line to read."""


@dataclass(frozen=True, slots=True)
class IntegrationPolicy:
    """The desired state of the organization's integrations with AWS services (catalog ids, scanner.catalog)."""

    require: tuple[str, ...] = ()  # must have trusted access enabled
    forbid: tuple[str, ...] = ()  # must not
    others: OthersPolicy = "allow"  # every other integration, and any principal no catalog entry knows
    # integration id -> the account that must be its delegated administrator
    delegated_administrators: Mapping[str, str] = field(default_factory=dict)


DEFAULT_INTEGRATION_POLICY = IntegrationPolicy()  # no wish about any integration: what a run without a config has


@dataclass(frozen=True, slots=True)
class Config:
    management: ManagementAccess = ManagementAccess()
    member_accounts: MemberAccess = MemberAccess()
    scope: Scope = Scope()
    collection: Collection = Collection()
    rules: RulesConfig = RulesConfig()
    output: OutputConfig = OutputConfig()
    fail_on: Severity = Severity.HIGH
    suppressions: str | None = None  # a suppressions file; --suppressions overrides
    integrations: IntegrationPolicy = IntegrationPolicy()
    source: str | None = None  # the file it came from; None for the defaults

    def public_settings(self) -> dict[str, Any]:
        """The effective settings without secrets (the external ids): what a run records as used."""
        settings = asdict(self)
        settings.pop("source")
        settings["management"].pop("external_id")
        settings["member_accounts"].pop("external_id")
        settings["fail_on"] = self.fail_on.label
        settings["rules"]["severity_overrides"] = {k: v.label for k, v in self.rules.severity_overrides.items()}
        return settings

    def public_json(self) -> bytes:
        return (json.dumps(self.public_settings(), sort_keys=True, indent=2) + "\n").encode()

    def sha256(self) -> str:
        """A hash of the effective settings, recorded in every snapshot."""
        return hashlib.sha256(self.public_json()).hexdigest()


EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")
"""What STS accepts as an ExternalId (`[\\w+=,.@:/-]{2,1224}`, \\w being ASCII), matched whole with
fullmatch: the schema's pattern is the same, but JSON Schema patterns search, and Python's `$` also
matches before a trailing newline."""


def load_config(path: str | Path | None) -> Config:
    """Load and validate a config file; None gives the defaults."""
    if path is None:
        return Config()
    document = yamlfile.load(path, what="config file", error=ConfigError)
    data = {} if document.data is None else document.data
    # Before the schema, whose messages quote the value: an external id is a secret.
    _check_external_ids(data, str(path))
    schemas.validate(data, "config", source=str(path), error=ConfigError, where=document.where)
    config = _from_document(data, str(path))
    found = integration_policy_problems(config.integrations)
    if found:
        lines = [f"{document.where(at)}: {yamlfile.format_json_path(at)}: {text}" for at, text in found]
        noun = "problem" if len(lines) == 1 else "problems"
        raise ConfigError(f"{path}: {len(lines)} {noun}:\n" + "\n".join(f"  {line}" for line in lines),
                          hint="the catalog's ids are the file names in scanner/catalog/integrations/")
    return config


def integration_policy_problems(policy: IntegrationPolicy) -> list[tuple[yamlfile.JsonPath, str]]:
    """Ids the catalog does not hold (with the closest one), and an id both required and forbidden, each at its
    JSON path: the schema checks the ids' spelling only, this checks them against the catalog."""
    named = [*policy.require, *policy.forbid, *policy.delegated_administrators]
    if not named:
        return []
    from scanner.integrations import integration_ids  # noqa: PLC0415 - the catalog is read only when needed

    catalog = integration_ids()
    found: list[tuple[yamlfile.JsonPath, str]] = []
    places: list[tuple[yamlfile.JsonPath, str]] = [
        (("integrations", "require", i), v) for i, v in enumerate(policy.require)
    ]
    places += [(("integrations", "forbid", i), v) for i, v in enumerate(policy.forbid)]
    places += [(("integrations", "delegated_administrators", v), v) for v in policy.delegated_administrators]
    for at, value in places:
        if value not in catalog:
            close = difflib.get_close_matches(value, catalog, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            found.append((at, f"unknown integration '{excerpt(value)}' (not in the catalog){hint}"))
    for index, value in enumerate(policy.forbid):
        if value in policy.require:
            found.append((("integrations", "forbid", index),
                          f"integration '{excerpt(value)}' is both required and forbidden: keep it in one list"))
    return found


def _check_external_ids(doc: Any, source: str) -> None:
    """Refuse what STS would refuse, without echoing the value: an external id is a secret."""
    if not isinstance(doc, Mapping):
        return  # the schema says what is wrong
    for section in ("management", "member_accounts"):
        values = doc.get(section)
        value = values.get("external_id") if isinstance(values, Mapping) else None
        if value is not None and not (isinstance(value, str) and EXTERNAL_ID.fullmatch(value)):
            raise ConfigError(
                f"{source}: $.{section}.external_id: not an external id STS accepts (the value is not shown)",
                hint="2 to 1224 characters, each an ASCII letter or digit or one of _+=,.@:/-",
            )


def _from_document(doc: Mapping[str, Any], source: str) -> Config:
    def section(name: str) -> dict[str, Any]:
        value = doc.get(name) or {}
        return {key: tuple(v) if isinstance(v, list) else v for key, v in value.items()}

    rules = section("rules")
    overrides = rules.pop("severity_overrides", {}) or {}
    output = section("output")
    integration_policy = dict(doc.get("integrations") or {})
    return Config(
        management=ManagementAccess(**section("management")),
        member_accounts=MemberAccess(**section("member_accounts")),
        scope=Scope(**section("scope")),
        collection=_collection(section("collection")),
        rules=RulesConfig(
            **rules, severity_overrides={rule: Severity.parse(sev) for rule, sev in overrides.items()}
        ),
        output=OutputConfig(**output),
        fail_on=Severity.parse(doc.get("fail_on", "high")),
        suppressions=_relative_to(doc.get("suppressions"), source),
        integrations=IntegrationPolicy(
            require=tuple(integration_policy.get("require", ())),
            forbid=tuple(integration_policy.get("forbid", ())),
            others=integration_policy.get("others", "allow"),
            delegated_administrators=dict(integration_policy.get("delegated_administrators") or {}),
        ),
        source=source,
    )


def _collection(values: dict[str, Any]) -> Collection:
    """Rates given in the file override the defaults one API at a time."""
    rates = values.pop("max_requests_per_second", None) or {}
    merged = {**DEFAULT_MAX_REQUESTS_PER_SECOND, **{k: float(v) for k, v in rates.items()}}
    return Collection(**values, max_requests_per_second=merged)


def _relative_to(path: str | None, config_file: str) -> str | None:
    """A relative path in the config means relative to the config file, wherever the scan runs from."""
    if path is None or Path(path).is_absolute():
        return path
    return str(Path(config_file).parent / path)
