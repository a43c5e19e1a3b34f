"""No input makes matching super-linear: IAM wildcards and rule regexes on worst-case inputs.

The worst cases here made the previous matchers backtrack exponentially (a regex built from the
policy's `*` and Python's `re` for rule patterns); each must now finish well inside a generous timeout.
The timeouts assert behaviour (it finishes), not speed figures: those are in bench/.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner import snapshot as snapshots
from scanner.errors import RuleError
from scanner.iam_eval import arn_match, wildcard_match
from scanner.policy import OrganizationContext
from scanner.rules import load_rules
from tests.artifact_facts import trust_facts
from tests.test_rule_cases import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
WORST_ACTION = "sts:" + "*" * 20 + "AssumeRole"
ORG = OrganizationContext("o-exampleorg1", "111111111111", frozenset({"111111111111", "222222222222"}))


def finishes(function: Callable[[], Any], seconds: float = 5.0) -> Any:
    """function() if it returns within `seconds` (the thread is left behind, as a daemon, if not)."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"did not finish within {seconds} s"
    return box[0]


WILDCARD_CASES = [
    ("*", "", True),
    ("*", "anything", True),
    ("?", "", False),
    ("?", "x", True),
    ("a*", "a", True),
    ("a*b?c", "aXXbYc", True),
    ("a*b?c", "aXXbc", False),
    ("*Session", "sts:TagSession", True),
    ("sts:Assume*", "sts:AssumeRoleWithSAML", True),
    ("sts:AssumeRol?", "sts:AssumeRole", True),
    ("sts:AssumeRol?", "sts:AssumeRoles", False),
    ("a**b", "ab", True),
    ("*a*a*a*", "aa", False),
    (WORST_ACTION, "sts:AssumeRole", True),
    (WORST_ACTION, "sts:AssumeRoleWithSAML", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), WILDCARD_CASES)
def test_wildcard_match(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_match(pattern, text) is expected


def test_wildcard_match_ignore_case_only_when_asked() -> None:
    assert wildcard_match("STS:assume*", "sts:AssumeRole", ignore_case=True)
    assert not wildcard_match("STS:assume*", "sts:AssumeRole")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b", True),  # the resource field keeps colons
        ("arn:aws:*:*:111111111111:*", "arn:aws:iam::111111111111:role/x", True),
        ("arn:aws:*:*:111111111111:*", "arn:aws:iam::999999999999:role/111111111111:x", False),
        ("arn:*:111111111111:*", "arn:aws:iam::111111111111:role/x", None),  # not an ARN pattern
        ("arn:aws:iam::*:role/x", "not-an-arn", False),
    ],
)
def test_arn_match_is_field_by_field(pattern: str, text: str, expected: bool | None) -> None:
    assert arn_match(pattern, text) is expected


def test_worst_case_wildcards_finish() -> None:
    text = "sts:" + "A" * 10_000 + "AssumeRolx"
    assert finishes(lambda: wildcard_match("*" * 200 + "x" + "*" * 200 + "y", text)) is False
    assert finishes(lambda: wildcard_match(WORST_ACTION, text, ignore_case=True)) is False


def test_worst_case_trust_policy_facts_finish() -> None:
    statements = [
        {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": WORST_ACTION,
         "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:*" + "*" * 30 + f":{i}"}}}
        for i in range(50)
    ]
    facts = finishes(lambda: trust_facts({"Statement": statements}, ORG))
    assert facts["allowed_actions"] == ["sts:AssumeRole"]


# --------------------------------------------------------------------------------------------
# Rule patterns run on RE2
# --------------------------------------------------------------------------------------------

CATASTROPHIC = "^([a-z]+-?)+$"
LONG_NAME = "a" * 60 + "!"  # Python's re needs ~2^60 steps to reject this with CATASTROPHIC


def _rule(pattern: str, tmp_path: Path) -> Path:
    rule = yaml.safe_load((ROOT / "rules/artifact/ART-010.yaml").read_text())
    rule.update(id="CUS-001", where={"required": ["name"], "properties": {"name": {"pattern": pattern}}})
    path = tmp_path / "CUS-001.yaml"
    path.write_text(yaml.safe_dump(rule))
    return path


def test_catastrophic_rule_pattern_scans_a_long_role_name(tmp_path: Path) -> None:
    snapshot = build_snapshot(
        {"roles": [{"name": LONG_NAME, "path": "/", "trust": {"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "artifact.amazonaws.com"}, "Action": WORST_ACTION}]}}]}
    )
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_bytes(snapshots.dumps(snapshot))
    command = [sys.executable, "-m", "scanner", "scan", "-q", "--snapshot", str(snapshot_file),
               "--rules", str(_rule(CATASTROPHIC, tmp_path)), "--out", str(tmp_path / "out"), "--format", "json"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "out" / "results.json").is_file()


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"^(a)\1$", "invalid escape sequence"), ("^(?=admin)", "invalid perl operator"), ("(?<!x)y", "(?<")],
    ids=["backreference", "lookahead", "lookbehind"],
)
def test_patterns_re2_cannot_run_are_refused_at_load(tmp_path: Path, pattern: str, why: str) -> None:
    path = _rule(pattern, tmp_path)
    with pytest.raises(RuleError) as caught:
        load_rules([path], builtin=False)
    (problem,) = caught.value.problems
    assert str(path) in problem
    assert "$.where.properties.name.pattern" in problem
    assert why in problem and "RE2" in problem


def test_pattern_properties_keys_run_on_re2(tmp_path: Path) -> None:
    rule = yaml.safe_load(_rule(CATASTROPHIC, tmp_path).read_text())
    rule["where"] = {"required": ["tags"], "properties": {"tags": {"patternProperties": {"(?=x)": {}}}}}
    path = tmp_path / "CUS-001.yaml"
    path.write_text(yaml.safe_dump(rule))
    with pytest.raises(RuleError) as caught:
        load_rules([path], builtin=False)
    assert "$.where.properties.tags.patternProperties" in caught.value.problems[0]


def test_rule_validator_uses_re2_for_pattern_and_pattern_properties() -> None:
    from scanner.schemas import rule_schema_validator

    validator = rule_schema_validator(
        {"properties": {"name": {"pattern": CATASTROPHIC}, "tags": {"patternProperties": {CATASTROPHIC: False}}}}
    )
    assert finishes(lambda: validator.is_valid({"name": LONG_NAME})) is False
    assert finishes(lambda: validator.is_valid({"name": "abc-def"})) is True
    assert finishes(lambda: validator.is_valid({"tags": {LONG_NAME: 1}})) is True  # no key matches
    assert validator.is_valid({"tags": {"abc": 1}}) is False
