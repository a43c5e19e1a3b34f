"""The rule engine: rules + inventory in, results out. Pure: no I/O, no AWS, no clock.

A rule selects resources with `where` and asserts `expect`, both JSON Schema. Missing data is never a
pass: a rule that mentions a fact that could not be read gives `error`, and so does a rule over a
resource type that could not be listed in an account.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from scanner import integrations, schemas
from scanner.evaluate import message
from scanner.evaluate.integration_facts import INTEGRATION
from scanner.evaluate.resources import ACCOUNT_SCOPED_TYPES, ORGANIZATION, ROLE, Inventory
from scanner.model import (
    EVERY_INTEGRATION,
    AccountSnapshot,
    CollectionError,
    Evidence,
    Resource,
    Result,
    Rule,
    Status,
)

FactPath = tuple[str, ...]
ITEMS = "[]"  # stands for "each item of an array" in a fact path


def referenced_paths(schema: Any, prefix: FactPath = ()) -> set[FactPath]:
    """Every fact path a JSON Schema looks at through `properties`, `required` and array items."""
    if not isinstance(schema, dict):
        return set()
    paths: set[FactPath] = set()
    for name, sub in (schema.get("properties") or {}).items():
        paths.add((*prefix, name))
        paths |= referenced_paths(sub, (*prefix, name))
    for name in schema.get("required") or ():
        paths.add((*prefix, str(name)))
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or ():
            paths |= referenced_paths(sub, prefix)
    for keyword in ("not", "if", "then", "else"):
        paths |= referenced_paths(schema.get(keyword), prefix)
    for keyword in ("items", "contains"):
        paths |= referenced_paths(schema.get(keyword), (*prefix, ITEMS))
    return paths


@cache
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    return schemas.rule_schema_validator(json.loads(schema_text))  # regexes on RE2: linear time


# A rule's schema object -> (that object, its validator). The object is kept so that its id is never reused
# while cached: serialising a schema for every resource cost an eighth of an evaluation at 10,000 accounts.
_BY_SCHEMA_OBJECT: dict[int, tuple[object, jsonschema.protocols.Validator]] = {}


def _compiled(schema: Mapping[str, Any] | bool) -> jsonschema.protocols.Validator:
    # Cached by the schema's text, so each rule's schemas are compiled once per process.
    cached = _BY_SCHEMA_OBJECT.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = _validator(json.dumps(schema, sort_keys=True))
    _BY_SCHEMA_OBJECT[id(schema)] = (schema, validator)
    return validator


def _mentions(schema: Any, paths: Iterable[FactPath], unknown_key: str) -> bool:
    """True when a rule's schema that looks at `paths` needs the fact `unknown_key` ('' = the whole resource).

    A path above the unknown fact needs it only when the schema asserts that object as a whole: stepping
    through `delegated_administrator` to its known `expected` does not need its unread `accounts`."""
    if unknown_key == "":
        return True
    unknown = tuple(unknown_key.split("."))
    for path in paths:
        shorter = min(len(path), len(unknown))
        if path[:shorter] == unknown[:shorter] and (len(path) >= len(unknown) or _asserts_whole(schema, path)):
            return True
    return False


# Keywords that only step into an object's named members (or combine schemas that do)
_STEPPING = frozenset({"properties", "required", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
                       "description", "title", "$comment"})


def _asserts(node: Any) -> bool:
    if not isinstance(node, dict):
        return node is False
    return any(key not in _STEPPING and not (key == "type" and value == "object") for key, value in node.items())


def _expand(nodes: list[Any]) -> list[Any]:
    """The schemas that apply to one value: `nodes` and every subschema their combinators hold."""
    found, stack = [], list(nodes)
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, dict):
            for keyword in ("allOf", "anyOf", "oneOf"):
                stack += list(node.get(keyword) or ())
            stack += [node[keyword] for keyword in ("not", "if", "then", "else") if keyword in node]
    return found


def _asserts_whole(schema: Any, path: FactPath) -> bool:
    """Whether `schema` asserts the object at `path` (or above it) by more than stepping into named members
    (conservative: `const`, `additionalProperties`, `minProperties` and the like read every member)."""
    level = [schema]
    for depth in range(len(path) + 1):
        expanded = _expand(level)
        if any(_asserts(node) for node in expanded):
            return True
        if depth == len(path):
            break
        level = [
            node["properties"][path[depth]]
            for node in expanded
            if isinstance(node, dict) and isinstance(node.get("properties"), dict) and path[depth] in node["properties"]
        ]
    return False


def _describe_expectation(error: ValidationError) -> str:
    keyword, value = error.validator, error.validator_value
    if keyword == "const":
        return f"exactly {json.dumps(value)}"
    if keyword == "enum" and isinstance(value, (list, tuple)):
        return "one of " + ", ".join(json.dumps(v) for v in value)
    if keyword == "maxItems" and value == 0:
        return "none"
    if keyword == "minItems":
        return f"at least {value} item{'s' if value != 1 else ''}"
    if keyword == "required":
        return f"{error.message.split(' is a required')[0]} to be present"
    if keyword == "not":
        return f"not {json.dumps(value)}"
    if keyword == "false" or value is False:
        return "nothing (any value here is a finding)"
    return f"{keyword}: {json.dumps(value)}"


def _evidence(rule: Rule, facts: Mapping[str, Any]) -> tuple[Evidence, ...]:
    if rule.expect is False:
        return (Evidence("$", "no such resource", _summary(facts)),)
    errors = list(_compiled(rule.expect).iter_errors(facts))
    evidence = []
    for found in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        error = best_match(found.context) if found.validator in ("anyOf", "oneOf") and found.context else found
        evidence.append(
            Evidence(error.json_path, _describe_expectation(error), error.instance, _reason_beside(facts, error))
        )
    return tuple(evidence)


def _reason_beside(facts: Mapping[str, Any], error: ValidationError) -> str | None:
    """Facts that explain themselves (an Artifact trust statement's `reason`) lend that to the evidence."""
    parent: Any = facts
    for part in list(error.absolute_path)[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return None
    reason = parent.get("reason") if isinstance(parent, dict) else None
    return reason if isinstance(reason, str) else None


def _summary(facts: Mapping[str, Any]) -> Any:
    return {key: facts[key] for key in ("name", "path", "arn", "id") if key in facts}


def _matches(schema: Mapping[str, Any] | bool | None, facts: Mapping[str, Any]) -> bool:
    return schema is None or _compiled(schema).is_valid(facts)


def _evidence_text(evidence: tuple[Evidence, ...]) -> str:
    """The first failing fact in JSON-path terms: the sentence of a rule without a message template."""
    first = evidence[0]
    found = json.dumps(first.found, sort_keys=True, default=str)
    if len(found) > 160:
        found = found[:157] + "..."
    more = f" (+{len(evidence) - 1} more)" if len(evidence) > 1 else ""
    note = f" ({first.note})" if first.note else ""
    return f"{first.path}: expected {first.expected}, found {found}{note}{more}"


@cache
def _template(text: str) -> message.Template:
    return message.parse(text)  # checked when the rule was loaded


def _message(rule: Rule, resource: Resource, account_name: str, evidence: tuple[Evidence, ...]) -> str:
    label = resource.name or resource.arn
    if rule.message is None:
        text = _evidence_text(evidence) if evidence else rule.title
        return f"{label} in {resource.account_id}: {text}"
    context = {"account_id": resource.account_id, "account_name": account_name,
               "resource_name": resource.name, "resource_arn": resource.arn}
    return message.render(_template(rule.message), resource.facts, context)


def _unread(keys: list[str], label: str) -> str:
    """What could not be read, in words: "the trust of X", or X itself when nothing of it was read."""
    if "" in keys:
        return label
    return f"the {', '.join(key.replace('_', ' ').replace('.', ' ') for key in keys)} of {label}"


class _RuleRun:
    """One rule over an inventory."""

    def __init__(self, rule: Rule, inventory: Inventory) -> None:
        self.rule = rule
        self.inventory = inventory
        self.where_paths = referenced_paths(rule.where)
        self.expect_paths = referenced_paths(rule.expect)
        self.names = {account.id: account.name for account in inventory.accounts}
        self._needed: dict[tuple[bool, tuple[str, ...]], list[str]] = {}
        integration = rule.integration
        # Data a collection was not made for was never read (its roles were not kept): fail closed. A rule
        # of every integration on integration resources is told per fact (each resource says what was not
        # kept); on roles, a role never kept is no resource at all, so any uncollected integration decides.
        if integration == EVERY_INTEGRATION:
            needed = () if rule.resource == INTEGRATION else integrations.integration_ids()
        else:
            needed = () if integration is None else (integration,)
        missing = [i for i in needed if i not in inventory.collected]
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        self.uncollected = (
            f"the snapshot was not collected for integration{'s' if len(missing) > 1 else ''} {shown}: "
            "run collect with this rule pack loaded"
            if missing
            else None
        )

    def result(
        self,
        status: Status,
        account_id: str,
        arn: str,
        name: str,
        message: str,
        *,
        evidence: tuple[Evidence, ...] = (),
        causes: tuple[CollectionError, ...] = (),
        document: Mapping[str, Any] | None = None,
    ) -> Result:
        return Result(
            rule_id=self.rule.id,
            status=status,
            severity=self.rule.severity,
            account_id=account_id,
            account_name=self.names.get(account_id, ""),
            resource_type=self.rule.resource,
            resource_arn=arn,
            resource_name=name,
            message=message,
            evidence=evidence,
            causes=causes,
            document=document,
        )

    def unreadable(self, resource: Resource, schema: Any, paths: set[FactPath]) -> Result | None:
        if not resource.unknown:
            return None
        # Resources of a type mostly lack the same facts (a role kept from its listing: its details), so the
        # answer is kept per set of unknown keys for this rule's `where` or `expect`.
        asked = (paths is self.where_paths, tuple(resource.unknown))
        keys = self._needed.get(asked)
        if keys is None:
            keys = self._needed[asked] = sorted(key for key in resource.unknown if _mentions(schema, paths, key))
        if not keys:
            return None
        reasons = "; ".join(sorted({resource.unknown[key] for key in keys}))
        label = resource.name or resource.arn
        label = "the organization" if resource.type == ORGANIZATION and not resource.arn else label
        where = f" in {resource.account_id}" if resource.account_id else ""
        text = f"could not read {_unread(keys, label)}{where}: {reasons}"
        return self.result(Status.ERROR, resource.account_id, resource.arn, resource.name, text)

    def on_resource(self, resource: Resource) -> Result | None:
        # `where` first: a rule that does not apply needs none of the facts its `expect` mentions.
        unreadable = self.unreadable(resource, self.rule.where, self.where_paths)
        if unreadable is not None:
            return unreadable
        if not _matches(self.rule.where, resource.facts):
            return None
        unreadable = self.unreadable(resource, self.rule.expect, self.expect_paths)
        if unreadable is not None:
            return unreadable
        if resource.type == "aws.account" and not resource.facts.get("scanned", True):
            account = next(a for a in self.inventory.accounts if a.id == resource.account_id)
            return self.result(
                Status.SKIPPED, resource.account_id, resource.arn, resource.name, account.skip_reason or "not scanned"
            )
        evidence = _evidence(self.rule, resource.facts)
        if self.rule.expect is not False and not evidence:
            return self.result(Status.PASS, resource.account_id, resource.arn, resource.name, self.rule.title)
        return self.result(
            Status.FAIL,
            resource.account_id,
            resource.arn,
            resource.name,
            _message(self.rule, resource, self.names.get(resource.account_id, ""), evidence),
            evidence=evidence,
            document=resource.document,
        )

    def in_scope(self, account: AccountSnapshot) -> bool:
        if self.rule.resource == INTEGRATION:  # the integrations are the organization's: in its management account
            return account.is_management and self.rule.accounts != "members"
        scope = self.rule.accounts
        return scope == "all" or (scope == "management") == account.is_management

    def run(self) -> Iterator[Result]:
        resources = self.inventory.resources.get(self.rule.resource, ())
        if self.rule.resource == INTEGRATION and self.rule.integration not in (None, EVERY_INTEGRATION):
            resources = tuple(r for r in resources if r.name == self.rule.integration)  # its own integration's
        if self.rule.resource not in ACCOUNT_SCOPED_TYPES:
            for resource in resources:
                if self.uncollected is not None:
                    yield self.result(Status.ERROR, resource.account_id, resource.arn, resource.name, self.uncollected)
                    continue
                result = self.on_resource(resource)
                # One result per organization-wide rule, so every rule shows in every report.
                yield result or self.result(
                    Status.SKIPPED,
                    resource.account_id,
                    resource.arn,
                    resource.name,
                    "not applicable: the rule's `where` condition does not hold",
                )
            return
        by_account: dict[str, list[Resource]] = {}
        for resource in resources:
            by_account.setdefault(resource.account_id, []).append(resource)
        for account in self.inventory.accounts:
            if not self.in_scope(account) or (not account.scanned and self.rule.resource != "aws.account"):
                continue
            yield from self.run_account(account, by_account.get(account.id, []))
        if self.inventory.unlisted and self.rule.accounts != "management":
            yield self.unlisted_accounts()

    def unlisted_accounts(self) -> Result:
        """Accounts the failed listing never named have no result of their own: this one says that the
        rule's verdict leaves them out (the management account is always read, see scanner.collect)."""
        causes = self.inventory.unlisted
        organization = next(iter(self.inventory.resources.get(ORGANIZATION, ())), None)
        reason = "; ".join(e.describe() for e in causes)
        return self.result(
            Status.ERROR,
            self.inventory.organization.management_account_id or "",
            organization.arn if organization is not None else "",
            "accounts not listed",
            f"the account list is incomplete, so this rule's results may leave accounts out: {reason}",
            causes=causes,
        )

    def run_account(self, account: AccountSnapshot, resources: list[Resource]) -> Iterator[Result]:
        arn = str(account.listing.get("Arn") or f"arn:aws:organizations:::account/{account.id}")
        if self.uncollected is not None and account.scanned:
            yield self.result(Status.ERROR, account.id, arn, account.name, self.uncollected)
            return
        causes = self.inventory.unread.get((self.rule.resource, account.id))
        if causes:
            reason = "; ".join(e.describe() for e in causes)
            what = {ROLE: "the IAM roles"}.get(self.rule.resource, self.rule.resource)
            named = f" ({account.name})" if account.name else ""
            text = f"could not read {what} of account {account.id}{named}: {reason}"
            yield self.result(Status.ERROR, account.id, arn, account.name, text, causes=causes)
            return
        matched = False
        for resource in resources:
            result = self.on_resource(resource)
            if result is not None:
                matched = True
                yield result
        if not matched:
            status = Status.PASS if self.rule.none_matched == "pass" else Status.SKIPPED
            text = "no matching resource found" if status is Status.PASS else "not applicable: no matching resource"
            yield self.result(status, account.id, arn, account.name, text)


def evaluate_rules(rules: Iterable[Rule], inventory: Inventory) -> tuple[Result, ...]:
    results = [result for rule in rules for result in _RuleRun(rule, inventory).run()]
    results.sort(key=lambda r: (r.rule_id, r.account_id, r.resource_arn))
    return tuple(results)
