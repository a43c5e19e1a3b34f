"""Loading rule packs: every file is checked and every problem reported at once.

A pack is a folder with a `pack.yaml` and one `<RULE-ID>.yaml` per rule. Checks beyond the rule schema:
the file name equals the id, ids are unique across everything loaded, the resource type exists,
`where`/`expect` are valid JSON Schema, and every fact they mention exists for the resource type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from scanner import files, integrations, schemas, yamlfile
from scanner.errors import RuleError
from scanner.evaluate import message
from scanner.evaluate.engine import ITEMS, referenced_paths
from scanner.evaluate.resources import FACT_SCHEMAS, RESOURCE_TYPES
from scanner.model import ALL_INTEGRATIONS, Reference, Remediation, Rule, RulePack, RuleSet, Severity


def builtin_packs_dir() -> Path:
    return Path(str(resources.files("scanner").joinpath("builtin_rules")))


@dataclass
class _Loading:
    """Problems found so far, and every file's bytes by `<pack id>/<file name>` (hashed and kept)."""

    problems: list[str]
    files: dict[str, bytes]
    # (id, source) of the rules that did not load: their ids still count for duplicates, so that one run
    # of `rules validate` reports every problem, not the duplicates only once the schema problems are fixed.
    failed_ids: list[tuple[str, str]] = field(default_factory=list)


def load_rules(
    paths: Sequence[str | Path] = (),
    *,
    builtin: bool = True,
    disabled: Sequence[str] = (),
    severity_overrides: Mapping[str, Severity] | None = None,
    config_source: str | None = None,
) -> RuleSet:
    """Load the built-in pack (unless `builtin` is False) and every pack folder or rule file in `paths`."""
    loading = _Loading([], {})
    packs: list[RulePack] = []
    if builtin:
        for pack_dir in sorted(p for p in builtin_packs_dir().iterdir() if p.is_dir()):
            # Shown as in the source tree (rules/<pack>/<id>.yaml), wherever the package is installed.
            packs.append(_load_pack(pack_dir, loading, display_prefix=f"rules/{pack_dir.name}"))
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            packs.append(_load_pack(path, loading, display_prefix=None))
        elif path.exists():  # a file; anything else (a FIFO, a device) is refused by name when read
            rule = _load_rule(path, loading, pack_id=path.stem, display=str(path))
            packs.append(RulePack(id=path.stem, title=path.name, version="0.0.0", rules=(rule,) if rule else ()))
        else:
            loading.problems.append(f"{path}: no such rule file or pack folder")
    _check_unique(packs, loading)
    overrides = dict(severity_overrides or {})
    known = {rule.id for pack in packs for rule in pack.rules}
    settings = [(rule_id, f"$.rules.severity_overrides.{rule_id}") for rule_id in overrides]
    settings += [(rule_id, f"$.rules.disabled[{index}]") for index, rule_id in enumerate(disabled)]
    rules_loaded = not loading.problems  # a rule that failed to load is no proof a setting names nothing
    for rule_id, json_path in settings:
        if rule_id not in known and rules_loaded:
            loading.problems.append(
                f"{config_source or 'config'}: {json_path}: rule {rule_id} is not among the loaded rules "
                f"(loaded: {', '.join(sorted(known)) or 'none'})"
            )
    if loading.problems:
        raise RuleError(loading.problems)
    final = tuple(
        replace(
            pack,
            rules=tuple(
                replace(rule, severity=overrides.get(rule.id, rule.severity))
                for rule in pack.rules
                if rule.id not in disabled
            ),
        )
        for pack in packs
    )
    files = tuple(sorted(loading.files.items()))
    return RuleSet(packs=final, sha256=rules_sha256(files), files=files)


def rules_sha256(files: Sequence[tuple[str, bytes]]) -> str:
    """Names are `<pack id>/<file name>`, so a copy of the packs in another folder hashes the same."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _load_pack(pack_dir: Path, loading: _Loading, display_prefix: str | None) -> RulePack:
    def display(path: Path) -> str:
        return f"{display_prefix}/{path.name}" if display_prefix else str(path)

    manifest = pack_dir / "pack.yaml"
    meta: dict[str, Any] = {"id": pack_dir.name, "title": pack_dir.name, "version": "0.0.0"}
    if manifest.is_file():
        document = _parse(manifest, "rule pack manifest", loading, display(manifest), pack_id=pack_dir.name)
        if document is not None:
            found = schemas.problems(document.data, "pack", where=document.where)
            loading.problems.extend(found)
            if not found:
                meta.update(document.data)
    rule_files = sorted(path for path in pack_dir.glob("*.yaml") if path.name != "pack.yaml")
    if not rule_files:
        loading.problems.append(f"{pack_dir}: no rule files (*.yaml) in this folder")
    rules = []
    for path in rule_files:
        rule = _load_rule(
            path, loading, pack_id=str(meta["id"]), display=display(path), integration=meta.get("integration")
        )
        if rule is not None:
            rules.append(rule)
    if manifest.is_file() and meta["id"] != pack_dir.name:  # filed under the folder's name until now
        loading.files[f"{meta['id']}/pack.yaml"] = loading.files.pop(f"{pack_dir.name}/pack.yaml")
    return RulePack(id=str(meta["id"]), title=str(meta["title"]), version=str(meta["version"]), rules=tuple(rules))


def _parse(
    path: Path, what: str, loading: _Loading, display: str, *, pack_id: str | None
) -> yamlfile.YamlDocument | None:
    try:
        raw = files.read_limited(path, what=what, limit=files.MAX_YAML_BYTES, error=RuleError)
    except RuleError as exc:
        loading.problems.extend(exc.problems)
        return None
    if pack_id is not None:
        loading.files[f"{pack_id}/{path.name}"] = raw
    try:
        return yamlfile.parse_bytes(raw, display, what=what, error=RuleError)
    except RuleError as exc:
        loading.problems.extend(exc.problems)
        return None


def _load_rule(
    path: Path, loading: _Loading, *, pack_id: str, display: str, integration: str | None = None
) -> Rule | None:
    document = _parse(path, "rule file", loading, display, pack_id=pack_id)
    if document is None:
        return None
    data = document.data
    found = schemas.problems(data, "rule", where=document.where)
    if isinstance(data, dict):
        # Every check whose part of the rule has the right shape runs even when the schema found problems
        # elsewhere: one run reports them all (a wrong id, an unknown fact and a missing title together).
        found += _semantic_problems(path, document)
        integration = data.get("integration", integration)
        if integration is None or isinstance(integration, str):
            found += _integration_problems(document, integration)
    loading.problems.extend(found)
    if found:
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            loading.failed_ids.append((data["id"], display))
        return None
    return Rule(
        id=data["id"],
        title=data["title"],
        severity=Severity.parse(data["severity"]),
        resource=data["resource"],
        description=data["description"].strip(),
        rationale=data["rationale"].strip(),
        remediation=Remediation(data["remediation"]["text"].strip(), data["remediation"]["command"].strip()),
        expect=data["expect"],
        where=data.get("where"),
        accounts=data.get("accounts", "all"),
        none_matched=data.get("none_matched", "skip"),
        references=tuple(Reference(r["title"], r["url"]) for r in data.get("references", [])),
        compliance={framework: tuple(ids) for framework, ids in data.get("compliance", {}).items()},
        tags=tuple(data.get("tags", [])),
        pack=pack_id,
        source=display,
        message=data.get("message"),
        integration=integration,
    )


_MESSAGE_INTEGRATION = re.compile(r"\bintegrations\.([a-z0-9-]+)")


def _integration_problems(document: yamlfile.YamlDocument, integration: str | None) -> list[str]:
    """The integration must be in the catalog, and the rule may use only its own `integrations.<id>` facts:
    the collector reads only what the loaded rules' integrations need, so another's facts are never there."""
    data = document.data
    if integration is not None and integration != ALL_INTEGRATIONS:
        try:
            integrations.known(integration)
        except integrations.UnknownIntegration:
            where = ("integration",) if "integration" in data else ()
            return [f"{document.where(where)}: unknown integration {integration!r} (not in the catalog, "
                    f"scanner/catalog/integrations/)"]
    used: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict) and isinstance(value.get("integrations"), dict):
                    inner = value["integrations"]
                    used.update(inner.get("properties", {}) if isinstance(inner.get("properties"), dict) else ())
                    used.update(i for i in inner.get("required", []) if isinstance(i, str))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data.get("where"))
    walk(data.get("expect"))
    used.update(_MESSAGE_INTEGRATION.findall(str(data.get("message") or "")))
    foreign = sorted(used - {integration} if integration else used)
    if not foreign:
        return []
    own = f"its integration is {integration!r}" if integration else "it names no `integration:` (nor does its pack)"
    return [f"{document.where(())}: uses the facts of integration {', '.join(map(repr, foreign))} but {own}"]


def _id_problems(path: Path, document: yamlfile.YamlDocument) -> list[str]:
    rule_id = document.data.get("id")
    if not isinstance(rule_id, str) or path.stem == rule_id:
        return []
    return [
        f"{document.where(('id',))}: $.id: the id {rule_id!r} differs from the file name {path.name!r} "
        f"(name the file {rule_id}.yaml)"
    ]


def _semantic_problems(path: Path, document: yamlfile.YamlDocument) -> list[str]:
    data = document.data
    problems = _id_problems(path, document)
    resource = data.get("resource")
    if not isinstance(resource, str):
        return problems  # the schema says what is wrong with it; facts cannot be checked without it
    if resource not in RESOURCE_TYPES:
        problems.append(
            f"{document.where(('resource',))}: $.resource: unknown resource type {resource!r} "
            f"(expected one of: {', '.join(RESOURCE_TYPES)})"
        )
        return problems
    problems += _message_problems(document, FACT_SCHEMAS[resource])
    for key in ("where", "expect"):
        if not isinstance(data.get(key), (dict, bool)):
            continue
        schema = data[key]
        invalid = schemas.rule_schema_problems(schema)
        for inner, reason in invalid:
            where = document.where((key, *inner))
            problems.append(f"{where}: {yamlfile.format_json_path((key, *inner))}: {reason}")
        if invalid:
            continue
        references = _references(schema, (key,))
        for at, reference in references:
            problems.append(
                f"{document.where(at)}: {yamlfile.format_json_path(at)}: references are not supported in "
                f"rules ({reference!r}): write the schema inline, so that every fact the rule mentions is "
                "checked here and evaluating it never reads a URL or a file, nor loops"
            )
        if references:
            continue
        for fact_path in sorted(referenced_paths(schema)):
            if not message.schema_has(FACT_SCHEMAS[resource], fact_path, items=ITEMS):
                shown = ".".join(fact_path)
                problems.append(
                    f"{document.where((key,))}: $.{key}: {resource} has no fact {shown!r} "
                    f"(see the facts listed by `artifact-scan rules facts {resource}`)"
                )
    return problems


def _message_problems(document: yamlfile.YamlDocument, fact_schema: Mapping[str, Any]) -> list[str]:
    """A template that does not parse, or names a fact the resource type lacks, fails at load, not in a report."""
    text = document.data.get("message")
    if text is None:
        return []
    where = f"{document.where(('message',))}: $.message"
    try:
        template = message.parse(text)
    except message.TemplateError as exc:
        return [f"{where}: {exc}"]
    resource = document.data["resource"]
    return [
        f"{where}: {resource} has no fact {name!r} (see `artifact-scan rules facts {resource}`; every resource "
        f"also has {', '.join(message.CONTEXT_FIELDS)})"
        for name in message.check(template, fact_schema)
    ]


_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def _references(schema: Any, path: yamlfile.JsonPath) -> list[tuple[yamlfile.JsonPath, object]]:
    """Every `$ref` (and its dynamic kin) in `schema`. The fact check cannot see through a reference, the
    JSON Schema library resolves a non-local one by reading a URL or a file, and a local one can dangle or
    loop (`{"$ref": "#"}`): a rule's schemas have none."""
    found: list[tuple[yamlfile.JsonPath, object]] = []
    for inner, value in yamlfile.walk(schema, path):
        if isinstance(value, dict):
            found += [((*inner, keyword), value[keyword]) for keyword in _REFERENCE_KEYWORDS if keyword in value]
    return found


def _check_unique(packs: Sequence[RulePack], loading: _Loading) -> None:
    first_seen: dict[str, str] = {}
    loaded = [(rule.id, rule.source) for pack in packs for rule in pack.rules]
    # Loaded rules first, in order (the built-in pack's ids are the ones kept), then the ones that failed.
    for rule_id, source in [*loaded, *loading.failed_ids]:
        if rule_id in first_seen:
            loading.problems.append(
                f"{source}: $.id: duplicate rule id {rule_id!r} (also defined in {first_seen[rule_id]})"
            )
        else:
            first_seen[rule_id] = source
