"""Property-based tests (hypothesis): IAM facts, the loaders on hostile input, and the writers on hostile text.

Each property runs a bounded number of generated inputs (see the `settings` of each; `EXAMPLES` sums
them up) so that the suite stays fast; the database is off, so nothing is written to the repository.

- IAM facts: equivalent trust policies give the same facts (string or list, the letter case of condition
  keys, statement order, Sid or not, an account id or its root ARN); adding a Deny never widens what the
  facts say is allowed, adding an Allow never narrows it.
- Loaders (config, rules, suppressions, snapshots): arbitrary YAML, JSON and bytes (wrong types, deep
  nesting, huge strings, unicode, duplicate keys, anchors and aliases) give either a value or the loader's
  own error naming the file; never another exception, never a hang. What loads can be used: a loaded
  snapshot evaluates and renders, loaded suppressions apply, loaded rules evaluate.
- Writers: AWS-sourced strings (control characters, bidi marks, lone surrogates, markup, 100 KB values)
  keep the SARIF valid against its schema, the HTML, Markdown and console free of data-made markup or
  control sequences, results.json exact, and JUnit parseable.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scanner import snapshot as snapshots
from scanner.audit.suppressions import apply_suppressions, is_expired, load_suppressions
from scanner.cli.command import main
from scanner.config import load_config
from scanner.errors import ConfigError, RuleError, ScannerError, SnapshotError, SuppressionError
from scanner.evaluate import evaluate
from scanner.model import CollectionError, ScanResult, Status
from scanner.policy import OrganizationContext
from scanner.report import WRITERS, table
from scanner.rules import builtin_packs_dir, load_rules
from tests.artifact_facts import trust_facts
from tests.scan_fixture import build_scan
from tests.test_report_sarif import ALL_FORMATS
from tests.test_rule_cases import build_snapshot

ROOT = Path(__file__).resolve().parents[1]

# Inputs generated per property. ARTIFACT_SCAN_FUZZ_SCALE=20 multiplies them for a deeper run by hand.
SCALE = int(os.environ.get("ARTIFACT_SCAN_FUZZ_SCALE", "1"))
IAM_EXAMPLES = 200 * SCALE
LOADER_EXAMPLES = 100 * SCALE
SNAPSHOT_EXAMPLES = 200 * SCALE  # cheap, and only a fifth survive the schema to reach evaluation
WRITER_EXAMPLES = 50 * SCALE


def bounded(examples: int, deadline_ms: int | None = 60_000) -> Callable[[Any], Any]:
    """Every property: a fixed budget, no example database, and a deadline that turns a hang into a failure.
    The deadline is a minute, not seconds: a deeply nested YAML example takes 3-7 s on a loaded 2-core CI
    machine, while a real hang (the backtracking this suite guards against) never ends."""
    return settings(
        max_examples=examples,
        deadline=None if deadline_ms is None else timedelta(milliseconds=deadline_ms),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# ============================================================================================
# IAM facts
# ============================================================================================

ORG_ID = "o-abc123"
MGMT = "111111111111"
MEMBER = "222222222222"
OTHER = "999999999999"
ORG = OrganizationContext(ORG_ID, MGMT, frozenset({MGMT, MEMBER}))

SERVICES = ["artifact.amazonaws.com", "aws-artifact-account-sync.amazonaws.com", "ec2.amazonaws.com",
            "aws-artifact-acount-sync.amazonaws.com", "lambda.amazonaws.com"]
AWS_PRINCIPALS = [MGMT, MEMBER, OTHER, f"arn:aws:iam::{OTHER}:role/Deployer", f"arn:aws:iam::{MEMBER}:user/alice",
                  "*"]
ACTIONS = ["sts:AssumeRole", "sts:assumerole", "sts:*", "sts:Assume*", "sts:TagSession", "sts:SetSourceIdentity",
           "sts:AssumeRoleWith*", "*", "s3:GetObject", "sts:?etContext"]
CONDITION_KEYS = ["aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths",
                  "aws:PrincipalOrgID", "sts:ExternalId"]
OPERATORS = ["StringEquals", "StringLike", "ArnLike", "ArnEquals", "StringNotEquals", "StringEqualsIgnoreCase",
             "ForAnyValue:StringEquals", "ForAllValues:StringLike", "StringEqualsIfExists", "Null", "Bool"]
CONDITION_VALUES = [MGMT, MEMBER, OTHER, "*", "1111*", ORG_ID, "o-other", f"{ORG_ID}/*", f"{ORG_ID}/r-ab12/*",
                    f"arn:aws:artifact::{MGMT}:report/*", f"arn:aws:*:*:{OTHER}:*", f"arn:aws:s3:::{MEMBER}",
                    "arn:*:artifact:*:*:*", "true"]


def one_or_more(values: list[str]) -> st.SearchStrategy[list[str]]:
    """Always a list: the equivalence transforms turn one-element lists into strings and back."""
    return st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(["Trust", "AllowArtifact", "S1", "x"]))
    principal = draw(st.sampled_from(["star", "mapping", "mapping", "mapping", "not", "missing"]))
    if principal == "star":
        statement["Principal"] = "*"
    elif principal in ("mapping", "not"):
        kinds = draw(st.lists(st.sampled_from(["Service", "AWS", "Federated", "CanonicalUser"]), min_size=1,
                              max_size=2, unique=True))
        value = {}
        for kind in kinds:
            pool = {"Service": SERVICES, "AWS": AWS_PRINCIPALS, "Federated": ["accounts.google.com"],
                    "CanonicalUser": ["79a59df900b949e55d96a1e698fbaced"]}[kind]
            value[kind] = draw(one_or_more(pool))
        statement["NotPrincipal" if principal == "not" else "Principal"] = value
    action = draw(st.sampled_from(["action", "action", "action", "not", "missing"]))
    if action != "missing":
        statement["NotAction" if action == "not" else "Action"] = draw(one_or_more(ACTIONS))
    if draw(st.booleans()):
        condition: dict[str, Any] = {}
        for operator in draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True)):
            keys = draw(st.lists(st.sampled_from(CONDITION_KEYS), min_size=1, max_size=2, unique=True))
            condition[operator] = {key: draw(one_or_more(CONDITION_VALUES)) for key in keys}
        statement["Condition"] = condition
    return statement


def policies(min_size: int = 0) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(statements(), min_size=min_size, max_size=5)


def facts(statement_list: list[Any]) -> dict[str, Any]:
    return trust_facts({"Version": "2012-10-17", "Statement": statement_list}, ORG)


def order_free(result: dict[str, Any]) -> dict[str, Any]:
    """Facts without what depends on a statement's position or Sid (a witness names a statement by
    position, and which of several open requests it shows may follow the order)."""
    entries = sorted(
        json.dumps({k: v for k, v in entry.items() if k not in ("index", "sid", "reason", "witness")},
                   sort_keys=True)
        for entry in result["artifact_statements"]
    )
    return {**result, "artifact_statements": entries}


def _map_values(statement: dict[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
    """`change` applied to every string-or-list value: principals, actions, condition values."""
    out = copy.deepcopy(statement)
    for field in ("Principal", "NotPrincipal"):
        if isinstance(out.get(field), dict):
            out[field] = {kind: change(names) for kind, names in out[field].items()}
    for field in ("Action", "NotAction"):
        if field in out:
            out[field] = change(out[field])
    if isinstance(out.get("Condition"), dict):
        out["Condition"] = {op: {key: change(v) for key, v in block.items()} for op, block in out["Condition"].items()}
    return out


def as_strings(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def as_lists(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


GRANTED = ("allowed_principals", "allowed_actions", "artifact_principals", "condition_keys")


@bounded(IAM_EXAMPLES)
@given(policies())
def test_a_string_and_a_list_of_one_are_the_same(policy: list[dict[str, Any]]) -> None:
    strings = [_map_values(s, as_strings) for s in policy]
    lists = [_map_values(s, as_lists) for s in strings]
    assert facts(strings) == facts(lists) == facts(policy)


@bounded(IAM_EXAMPLES)
@given(policies(), st.randoms(use_true_random=False))
def test_the_letter_case_of_condition_keys_does_not_matter(policy: list[dict[str, Any]], rnd: Any) -> None:
    def recase(key: str) -> str:
        return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in key)

    recased = copy.deepcopy(policy)
    for statement in recased:
        if isinstance(statement.get("Condition"), dict):
            statement["Condition"] = {op: {recase(k): v for k, v in block.items()}
                                      for op, block in statement["Condition"].items()}
    assert facts(recased) == facts(policy)


@bounded(IAM_EXAMPLES)
@given(policies(min_size=1), st.randoms(use_true_random=False))
def test_statement_order_does_not_matter(policy: list[dict[str, Any]], rnd: Any) -> None:
    shuffled = list(policy)
    rnd.shuffle(shuffled)
    assert order_free(facts(shuffled)) == order_free(facts(policy))


@bounded(IAM_EXAMPLES)
@given(policies(), st.randoms(use_true_random=False))
def test_a_sid_does_not_matter(policy: list[dict[str, Any]], rnd: Any) -> None:
    without = [{k: v for k, v in s.items() if k != "Sid"} for s in policy]
    renamed = [{**s, "Sid": f"Statement{rnd.randint(0, 99)}"} for s in policy]
    assert order_free(facts(without)) == order_free(facts(policy)) == order_free(facts(renamed))


@bounded(IAM_EXAMPLES)
@given(statements())
def test_a_single_statement_object_is_a_list_of_one(statement: dict[str, Any]) -> None:
    assert trust_facts({"Statement": statement}, ORG) == facts([statement])


@bounded(IAM_EXAMPLES)
@given(policies())
def test_an_account_id_and_its_root_arn_are_one_principal(policy: list[dict[str, Any]]) -> None:
    def root(names: Any) -> Any:
        if isinstance(names, list):
            return [f"arn:aws:iam::{n}:root" if re.fullmatch(r"\d{12}", n) else n for n in names]
        return names

    rooted = []
    for statement in policy:
        copy_ = copy.deepcopy(statement)
        for field in ("Principal", "NotPrincipal"):
            if isinstance(copy_.get(field), dict) and "AWS" in copy_[field]:
                copy_[field]["AWS"] = root(copy_[field]["AWS"])
        rooted.append(copy_)
    assert facts(rooted) == facts(policy)


def _within_an_account(principal: object, listed: list[Any]) -> bool:
    """An IAM ARN principal ("aws:arn:aws:iam::ACCOUNT:...") whose whole account is listed ("aws:ACCOUNT")."""
    if not isinstance(principal, str) or not principal.startswith("aws:arn:"):
        return False
    parts = principal[len("aws:"):].split(":")
    return len(parts) > 4 and f"aws:{parts[4]}" in listed


@bounded(IAM_EXAMPLES)
@given(policies(), statements(effect="Deny"), st.integers(min_value=0, max_value=5))
def test_adding_a_deny_never_widens_what_is_allowed(policy: list[dict[str, Any]], extra: dict[str, Any],
                                                     at: int) -> None:
    before = order_free(facts(policy))
    after = order_free(facts([*policy[:at], extra, *policy[at:]]))
    # A Deny is credited: it can only take away. A principal it names may be listed by name where "*", or
    # its whole account, stood for it before (Allow account 999999999999, Deny its role Deployer under a
    # condition: the role is still allowed when the condition fails, and is now named).
    for key in GRANTED:
        widest = set(before[key]) | (set(after[key]) if "*" in before[key] else set())
        assert {item for item in after[key] if not _within_an_account(item, before[key])} <= widest, key
    assert after["condition_keys"] == before["condition_keys"]  # those of Allow statements
    assert after["allows_any_action"] == before["allows_any_action"]
    assert after["trusts_artifact_principal"] <= before["trusts_artifact_principal"]
    assert after["artifact_trust_pinned"] >= before["artifact_trust_pinned"]  # a Deny never unpins


@bounded(IAM_EXAMPLES)
@given(policies(), statements(effect="Allow"), st.integers(min_value=0, max_value=5))
def test_adding_an_allow_never_narrows_what_is_allowed(policy: list[dict[str, Any]], extra: dict[str, Any],
                                                        at: int) -> None:
    before = order_free(facts(policy))
    after = order_free(facts([*policy[:at], extra, *policy[at:]]))
    for key in (*GRANTED, "artifact_statements"):
        assert set(before[key]) <= set(after[key]), key
    assert after["allows_any_action"] >= before["allows_any_action"]
    assert after["trusts_artifact_principal"] >= before["trusts_artifact_principal"]
    assert after["artifact_trust_pinned"] <= before["artifact_trust_pinned"]  # an Allow never pins a trust


# ============================================================================================
# Loaders
# ============================================================================================

# Nine levels of nine aliases each: 9**9 "lol"s once expanded, from 500 bytes.
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n" for previous, name in zip("abcdefgh", "bcdefghi", strict=False)
)
HOSTILE_YAML = [
    BILLION_LAUGHS,
    "a: &anchor {x: 1}\nb: *anchor\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n",
    "[" * 5000 + "]" * 5000,
    "{a: " * 2000 + "1" + "}" * 2000,
    "- " * 3000 + "x",
    "key: 1\nkey: 2\n",
    "suppressions: []\nsuppressions: []\n",
    "a: " + "x" * 100_000 + "\n",
    "!!python/object/apply:os.system ['echo pwned']\n",
    "a: !!python/name:os.system\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
    "a: !custom x\n",
    "? [complex, key]\n: value\n",
    "a: 2024-02-30\nb: 1e309\nc: .nan\nd: 0x1F\ne: 0o17\nf: ~\ng: yes\n",
    "\ufeffa: 1\n",
    "a: \"\\ud800\"\n",
    "a: \"\\x00\\x1b[2J\\u202e\"\n",
    "\ta: 1\n",
    "a: 1\n---\nb: 2\n",
    "%YAML 1.1\n%TAG ! tag:evil.example,2000:\n---\n!x a: 1\n",
    "",
    "---\n",
    "null\n",
    "[]\n",
    "'unterminated\n",
    "a: [1, 2\n",
    "a:\n  - b\n c: 1\n",
]
SPECIAL_STRINGS = ["", "*", "yes", "~", "null", "2024-01-01", "2024-02-30", "1e309", "0x1F", "<script>alert(1)</script>",
                   "\u202eevil", "\x00", "\x1b[2J", "\ud800", "ART-001", "../../etc/passwd", "$.x", "%s%n", "#",
                   "http://127.0.0.1:9/x.json"]
# Keys that mean something to a JSON Schema (rules embed schemas): references, patterns, combinators.
SCHEMA_KEYWORDS = ["$ref", "$dynamicRef", "$id", "$schema", "pattern", "const", "properties", "items", "required",
                   "not", "anyOf", "enum", "type", "format"]


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20), st.sampled_from(SPECIAL_STRINGS), st.integers(1, 20_000).map(lambda n: "x" * n),
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(SPECIAL_STRINGS[:15] + SCHEMA_KEYWORDS), children,
                          max_size=4),
        max_leaves=max_leaves,
    )


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with a few random edits: a value replaced by anything, a key removed or added, deep nesting."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths))
        edit = draw(st.sampled_from(["same-type", "same-type", "same-type", "replace", "replace", "delete", "add",
                                     "nest", "huge"]))
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        if not path:
            if edit == "replace":
                document = draw(json_values())
            continue
        last = path[-1]
        if edit == "same-type":  # keeps the shape: what survives the schema reaches the code behind it
            parent[last] = draw(_same_type(parent[last]))
        elif edit == "replace":
            parent[last] = draw(json_values())
        elif edit == "delete":
            del parent[last]
        elif edit == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values())
        elif edit == "nest":
            nested: Any = parent[last]
            for _ in range(draw(st.integers(min_value=10, max_value=300))):
                nested = [nested]
            parent[last] = nested
        elif edit == "huge":
            parent[last] = "x" * 100_000
    return document


def _same_type(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers()
    if isinstance(value, str):
        return st.one_of(st.text(max_size=30), st.sampled_from(SPECIAL_STRINGS), st.just(value + value))
    if isinstance(value, list):
        return st.one_of(st.just([]), st.just(value + value), st.lists(json_values(4), max_size=3))
    if isinstance(value, dict):
        return st.one_of(st.just({}), st.dictionaries(st.text(max_size=8), json_values(4), max_size=3).map(
            lambda extra: {**value, **extra}))
    return json_values(4)


def yaml_text(value: Any, style: str) -> str:
    if style == "json":
        return json.dumps(value, allow_nan=True, ensure_ascii=False, default=str)
    return str(yaml.safe_dump(value, allow_unicode=style == "unicode", default_flow_style=None, sort_keys=False))


def yaml_documents(base: Any) -> st.SearchStrategy[bytes]:
    """YAML or JSON text of mutated or arbitrary documents, hostile snippets, arbitrary text and bytes."""

    def encode(text: str) -> bytes:
        return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes that are not UTF-8

    structured = st.builds(yaml_text, st.one_of(mutated(base), json_values()),
                           st.sampled_from(["json", "yaml", "unicode"]))
    return st.one_of(
        structured.map(encode),
        structured.map(encode),
        st.sampled_from(HOSTILE_YAML).map(encode),
        st.text(max_size=200).map(encode),
        st.binary(max_size=200),
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, bytes], Path]]:
    """Writes a file with a fresh folder per call (hypothesis and function-scoped tmp_path do not mix)."""
    root = tmp_path_factory.mktemp("properties")
    counter = itertools.count()

    def write(name: str, data: bytes) -> Path:
        folder = root / str(next(counter))
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        return path

    yield write


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[None]:
    """Nothing a loader reads may reach the network (a JSON Schema `$ref` would try)."""

    def connect(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"a loaded file made the scanner connect to {address}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        yield


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


CONFIG_BASE = _load_yaml(ROOT / "config.example.yaml")
SUPPRESSIONS_BASE = _load_yaml(ROOT / "suppressions.example.yaml")
RULE_BASE = {**_load_yaml(builtin_packs_dir() / "artifact" / "ART-006.yaml"), "id": "TEST-001"}
PACK_BASE = {**_load_yaml(builtin_packs_dir() / "artifact" / "pack.yaml"), "id": "fuzz"}
# Every kind of raw answer the evaluation reads: roles with tags, a boundary, inline and attached policies.
SNAPSHOT_BASE = snapshots.to_document(build_snapshot({
    "slr": {"tags": {"owner": "team"}, "boundary": "arn:aws:iam::aws:policy/AdministratorAccess",
            "inline": {"extra": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}},
    "roles": [{"name": "AWSArtifactAccountSync", "path": "/service-role/", "attached": None,
               "trust": {"Statement": {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"},
                                       "Action": "sts:AssumeRole", "Condition": {"StringLike": {"aws:SourceAccount": "*"}}}}}],
    "organization_errors": [{"api": "organizations:ListAccounts", "code": "Throttling", "message": "Rate exceeded"}],
}))
RULES = load_rules()


def assert_names_the_file(error: ScannerError, path: Path) -> None:
    assert str(path) in str(error), f"the message does not name {path}: {error}"


@bounded(LOADER_EXAMPLES)
@given(data=yaml_documents(CONFIG_BASE))
def test_config_loader_on_anything(scratch: Callable[[str, bytes], Path], data: bytes) -> None:
    path = scratch("config.yaml", data)
    try:
        config = load_config(path)
    except ConfigError as error:
        assert_names_the_file(error, path)
        return
    config.public_json()  # what a loaded config is used for
    config.sha256()


@bounded(LOADER_EXAMPLES)
@given(data=yaml_documents(SUPPRESSIONS_BASE))
def test_suppressions_loader_on_anything(scratch: Callable[[str, bytes], Path], data: bytes) -> None:
    path = scratch("suppressions.yaml", data)
    try:
        loaded = load_suppressions(path)
    except SuppressionError as error:
        assert_names_the_file(error, path)
        return
    for suppression in loaded:  # loaded entries are usable: their dates parse, they match and apply
        is_expired(suppression, date(2026, 1, 1))
    apply_suppressions(SCAN, loaded, today=date(2026, 1, 1))


@bounded(LOADER_EXAMPLES)
@given(data=yaml_documents(RULE_BASE), manifest=st.booleans())
def test_rules_loader_on_anything(scratch: Callable[[str, bytes], Path], data: bytes, manifest: bool) -> None:
    if manifest:  # the fuzzed file is a pack's manifest beside a valid rule
        path = scratch("pack.yaml", data)
        (path.parent / "TEST-001.yaml").write_text(yaml.safe_dump(RULE_BASE))
        target = path.parent
    else:
        path = scratch("TEST-001.yaml", data)
        target = path
    try:
        ruleset = load_rules([target], builtin=False)
    except RuleError as error:
        assert error.problems and all(str(path) in p or str(target) in p for p in error.problems), error
        return
    evaluate(ruleset, build_snapshot({}), run_id="fuzz")  # a rule that loads can be evaluated


def snapshot_bytes() -> st.SearchStrategy[bytes]:
    def encode(value: Any) -> bytes:
        return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")

    whole = json.dumps(SNAPSHOT_BASE).encode()
    return st.one_of(
        mutated(SNAPSHOT_BASE).map(encode),
        mutated(SNAPSHOT_BASE).map(encode),
        mutated(SNAPSHOT_BASE).map(encode),
        json_values().map(encode),
        st.integers(min_value=0, max_value=len(whole)).map(lambda n: whole[:n]),  # truncated
        st.just(whole.replace(b'"snapshot_version": 1', b'"snapshot_version": 1, "snapshot_version": 1', 1)),
        st.just(b"[" * 100_000 + b"]" * 100_000),
        st.binary(max_size=200),
    )


@bounded(SNAPSHOT_EXAMPLES)
@given(data=snapshot_bytes())
def test_snapshot_loader_on_anything(data: bytes) -> None:
    source = "fuzzed/snapshot.json"
    try:
        loaded = snapshots.loads(data, source)
    except SnapshotError as error:
        assert source in str(error), error
        event("refused")
        return
    event("loaded, evaluated and written")
    # What `scan --snapshot` does with it next: evaluate, and write every report.
    result = evaluate(RULES, loaded, run_id="fuzz")
    for writer in WRITERS.values():
        writer.render(result)
    table.render(result)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        pytest.param("config", BILLION_LAUGHS, id="config-billion-laughs"),
        pytest.param("config", "collection:\n  concurrency: " + "[" * 1000 + "]" * 1000, id="config-deep"),
        pytest.param("config", "fail_on: high\nfail_on: low\n", id="config-duplicate-key"),
        pytest.param("suppressions", "!!python/object/apply:os.system ['echo pwned']\n", id="suppressions-python-tag"),
        pytest.param("suppressions", "suppressions:\n  - rule: ART-001\n    reason: " + "x" * 100_000 + "\n",
                     id="suppressions-huge-string"),
        pytest.param("rules", "a: &a [x]\nb: *a\n", id="rules-alias"),
        pytest.param("rules", "\xff\xfe not utf-8", id="rules-not-utf-8"),
        pytest.param("snapshot", '{"snapshot_version": 1, "metadata": ' + "[" * 100_000, id="snapshot-deep-truncated"),
        pytest.param("snapshot", '{"snapshot_version": "1"}', id="snapshot-wrong-type"),
        pytest.param("snapshot", '{"snapshot_version": 1, "snapshot_version": 1}', id="snapshot-duplicate-key"),
        pytest.param("snapshot", '{"snapshot_version": NaN}', id="snapshot-nan"),
    ],
)
def test_bad_input_through_the_command_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, text: str
) -> None:
    path = tmp_path / ("TEST-001.yaml" if kind == "rules" else f"{kind}.{'json' if kind == 'snapshot' else 'yaml'}")
    path.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1"))
    snapshot = tmp_path / "good.json"
    snapshot.write_bytes(snapshots.dumps(build_snapshot({})))
    argv = {
        "config": ["scan", "--snapshot", str(snapshot), "--config", str(path)],
        "suppressions": ["scan", "--snapshot", str(snapshot), "--suppressions", str(path)],
        "rules": ["rules", "validate", str(path)],
        "snapshot": ["scan", "--snapshot", str(path)],
    }[kind]
    code = main([*argv, "--out", str(tmp_path / "run")] if argv[0] == "scan" else argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ") and str(path) in err
    assert not (tmp_path / "run").exists()


# ============================================================================================
# Writers
# ============================================================================================

SCAN: ScanResult = build_scan()
MARK = "<x-data>"  # every generated string starts with it: it must never reach HTML or Markdown raw
HOSTILE_TEXT = [
    "<script>alert(1)</script>", "</script><script>alert(2)</script>", "<!--", "]]>", "<img src=x onerror=alert(3)>",
    "\u202eevil\u202c", "\u200f\u200e\u2066\u2069", "\x00\x01\x07\x08\x0b\x0c\x1b[31m\x1b]0;title\x07\x7f", "\r\n\r\n# Heading",
    "| a | b |", "`code` *em* _u_ [link](http://x) ![i](http://x)", "\ud800", "\udfff\ud83d", "\U0001f4a9", "&amp;&lt;",
    "{{ 7*7 }}", "{% raw %}", "${jndi:ldap://x}", "\\u003c", "\u2028\u2029", "'\"", "\ufeff", "\ufffe\uffff",
]


def hostile_strings(*, huge: bool = False) -> st.SearchStrategy[str]:
    """Text with markup, controls, bidi marks, lone surrogates; `huge`: the same, repeated to 100 KB."""
    if huge:
        return st.tuples(st.sampled_from(HOSTILE_TEXT), st.text(min_size=1, max_size=5)).map(
            lambda parts: MARK + ((parts[0] + parts[1]) * (100_000 // len(parts[0] + parts[1]) + 1))[:100_000]
        )
    pieces = st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3F), max_size=40),  # controls, markup
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.lists(pieces, min_size=1, max_size=4).map(lambda parts: MARK + "".join(parts))


HUGE_FIELDS = ("none", "account", "resource", "message", "evidence", "error", "document", "suppression")


@st.composite
def hostile_scans(draw: st.DrawFn) -> tuple[ScanResult, str]:
    """The writer fixture with every AWS-sourced string replaced; one kind of field gets 100 KB values
    (all of them at once would make each example megabytes, and the budget is seconds)."""
    huge_field = draw(st.sampled_from(HUGE_FIELDS))

    class _Text:
        def __init__(self) -> None:
            self.normal, self.huge = hostile_strings(), hostile_strings(huge=True)

        def __call__(self, field: str) -> str:
            return str(draw(self.huge if field == huge_field else self.normal))

    pick = _Text()
    name = pick("account")
    results = []
    for result in SCAN.results:
        results.append(replace(
            result,
            account_name=name,
            resource_name=pick("resource"),
            message=pick("message"),
            evidence=tuple(replace(e, expected=pick("evidence"), found=[pick("evidence"), {"k": pick("evidence")}],
                                   note=pick("evidence")) for e in result.evidence),
            causes=tuple(replace(c, message=pick("error"), resource=pick("error")) for c in result.causes),
            document={"Statement": [{"Effect": "Allow", "Principal": {"AWS": pick("document")},
                                     "Sid": pick("document")}]} if result.document is not None else None,
        ))
    scan = replace(
        SCAN,
        results=tuple(results),
        accounts=tuple(replace(a, name=name, skip_reason=pick("message") if a.skip_reason else None)
                       for a in SCAN.accounts),
        errors=tuple(CollectionError(e.api, e.code, pick("error"), e.account_id, pick("error")) for e in SCAN.errors),
        unused_suppressions=tuple(replace(s, reason=pick("suppression"), owner=pick("suppression"))
                                  for s in SCAN.unused_suppressions),
        resolved=tuple(replace(r, resource_name=pick("resource"), message=pick("message")) for r in SCAN.resolved),
        drift=tuple(replace(d, message=pick("message"), before={"v": pick("document")}) for d in SCAN.drift),
    )
    return scan, name


BASELINE_MARKDOWN_LINES = len(WRITERS["markdown"].render(SCAN).decode().splitlines())
BASELINE_TABLE_LINES = len(table.render(SCAN, width=10**9).splitlines())  # no wrapping: structure only
TEMPLATE_SCRIPTS = WRITERS["html"].render(SCAN).decode().count("<script")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


@bounded(WRITER_EXAMPLES)
@given(hostile_scans())
def test_writers_on_hostile_aws_strings(case: tuple[ScanResult, str]) -> None:
    scan, account_name = case
    rendered = {name: writer.render(scan) for name, writer in WRITERS.items()}

    sarif = json.loads(rendered["sarif"])
    errors = [error.message for error in ALL_FORMATS.iter_errors(sarif)]
    assert errors == [], errors[:3]

    results = json.loads(rendered["json"])  # valid JSON, and the strings exactly as AWS sent them
    assert {r["account_name"] for r in results["results"]} == {account_name}
    assert [r["message"] for r in results["results"]] == [r.message for r in scan.results]

    html = rendered["html"].decode("utf-8")
    assert MARK not in html, "markup from the data reached the HTML unescaped"
    assert html.count("<script") == TEMPLATE_SCRIPTS and html.count("</script") == TEMPLATE_SCRIPTS
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert {row[1] for row in data["accounts"]} == {account_name}

    ET.fromstring(rendered["junit"])  # parses, whatever the text

    markdown = rendered["markdown"].decode("utf-8")
    assert MARK not in markdown and "<x-" not in markdown
    assert len(markdown.splitlines()) == BASELINE_MARKDOWN_LINES, "data text broke the Markdown structure"
    assert len(markdown.encode()) < 64 * 1024

    console = table.render(scan, width=10**9)
    assert not CONTROL.search(console)
    assert len(console.splitlines()) == BASELINE_TABLE_LINES
    assert not CONTROL.search(table.render(scan, width=80))


def test_every_status_is_in_the_writer_fixture() -> None:
    """The writer property covers every status, an error with causes, evidence and a document."""
    assert {r.status for r in SCAN.results} == set(Status)
    assert any(r.causes for r in SCAN.results) and any(r.evidence for r in SCAN.results)
    assert any(r.document for r in SCAN.results) and SCAN.errors and SCAN.drift and SCAN.unused_suppressions


EXAMPLES = {
    "IAM facts (each of 8 properties)": IAM_EXAMPLES,
    "loaders (each of config, suppressions, rules)": LOADER_EXAMPLES,
    "snapshot loader": SNAPSHOT_EXAMPLES,
    "writers": WRITER_EXAMPLES,
}
