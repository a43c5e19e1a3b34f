"""Rule loading: the built-in pack is valid, and every bad rule is reported with file, line and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scanner import integrations
from scanner.errors import RuleError
from scanner.model import Severity
from scanner.rules import builtin_packs_dir, load_rules

VALID = """\
id: {id}
title: A rule for testing the loader
severity: high
resource: aws.iam.role
description: Checks something about a role.
rationale: Because the tests need one.
where:
  properties:
    name: {{const: Foo}}
expect:
  properties:
    permissions_boundary: {{const: null}}
remediation:
  text: Fix the role as described.
  command: aws iam get-role --role-name Foo
"""


def make_pack(tmp_path: Path, files: dict[str, str]) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("id: test\ntitle: Test pack\nversion: 1.0.0\n")
    for name, text in files.items():
        (pack / name).write_text(text)
    return pack


def test_builtin_pack_loads() -> None:
    ruleset = load_rules()
    ids = [rule.id for rule in ruleset.rules]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) >= 14
    assert [(p.id, p.version) for p in ruleset.packs] == [("artifact", "1.0.0"), ("organizations", "1.0.0"),
                                                          ("ssm", "1.0.0")]
    assert all(rule.source.startswith(f"rules/{rule.pack}/") for rule in ruleset.rules)
    # every built-in rule applies to its pack's integration, declared once in pack.yaml ("*": every one)
    own = {"artifact": "artifact", "ssm": "ssm", "organizations": "*"}
    assert all(rule.integration == own[rule.pack] for rule in ruleset.rules)
    assert ruleset.integrations == integrations.integration_ids()
    assert ruleset.dedicated == ("artifact", "ssm")
    assert len(ruleset.sha256) == 64


INTEGRATION_RULE = VALID.replace(
    "    name: {{const: Foo}}",
    "    integrations:\n      properties:\n        {uses}:\n          properties:\n"
    "            service_linked_role: {{const: true}}",
)


@pytest.mark.parametrize(("pack_integration", "rule_integration", "uses", "problem"), [
    ("ssm", None, "ssm", None),
    (None, "ssm", "ssm", None),
    ("artifact", "ssm", "ssm", None),  # the rule's own wins over its pack's
    ("ssm", None, "artifact", "uses the facts of integration 'artifact' but its integration is 'ssm'"),
    (None, None, "ssm", "uses the facts of integration 'ssm' but it names no `integration:`"),
    ("nosuch", None, "ssm", "unknown integration 'nosuch'"),
])
def test_a_rule_uses_only_its_own_integrations_facts(
    tmp_path: Path, pack_integration: str | None, rule_integration: str | None, uses: str, problem: str | None
) -> None:
    text = INTEGRATION_RULE.format(id="T-001", uses=uses)
    if rule_integration:
        text += f"integration: {rule_integration}\n"
    pack = make_pack(tmp_path, {"T-001.yaml": text})
    if pack_integration:
        (pack / "pack.yaml").write_text(f"id: test\ntitle: Test pack\nversion: 1.0.0\nintegration: {pack_integration}\n")
    if problem is None:
        (rule,) = load_rules([pack], builtin=False).rules
        assert rule.integration == (rule_integration or pack_integration)
    else:
        with pytest.raises(RuleError) as raised:
            load_rules([pack], builtin=False)
        assert problem in str(raised.value)


def test_builtin_remediation_uses_the_correct_flag() -> None:
    for rule in load_rules().rules:
        assert "--service-principle" not in rule.remediation.command
        assert rule.remediation.command.startswith("aws ")


def test_hash_changes_with_rule_bytes(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {"T-001.yaml": VALID.format(id="T-001")})
    first = load_rules([pack], builtin=False).sha256
    (pack / "T-001.yaml").write_text(VALID.format(id="T-001").replace("Fix the role", "Repair the role"))
    assert load_rules([pack], builtin=False).sha256 != first


def test_overrides_and_disabled() -> None:
    ruleset = load_rules(disabled=["ART-005"], severity_overrides={"ART-011": Severity.CRITICAL})
    rules = {rule.id: rule for rule in ruleset.rules}
    assert "ART-005" not in rules
    assert rules["ART-011"].severity is Severity.CRITICAL


def test_override_of_unknown_rule_is_an_error() -> None:
    with pytest.raises(RuleError, match="rule ART-999 is not among the loaded rules"):
        load_rules(severity_overrides={"ART-999": Severity.LOW})


def test_an_unknown_rule_in_the_config_names_the_file_and_the_setting() -> None:
    with pytest.raises(RuleError) as raised:
        load_rules(disabled=["ART-001", "ART-998"], severity_overrides={"ART-999": Severity.LOW},
                   config_source="audit/config.yaml")
    message = str(raised.value)
    assert "audit/config.yaml: $.rules.severity_overrides.ART-999: rule ART-999 is not among" in message
    assert "audit/config.yaml: $.rules.disabled[1]: rule ART-998 is not among" in message


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("T-001.yaml", VALID.format(id="T-002"), ["T-001.yaml:1", "$.id", "differs from the file name"]),
        ("T-001.yaml", VALID.format(id="T-001").replace("aws.iam.role", "aws.iam.user"),
         ["T-001.yaml:4", "unknown resource type 'aws.iam.user'", "aws.iam.role"]),
        ("T-001.yaml", VALID.format(id="T-001").replace("severity: high", "severity: urgent"),
         ["T-001.yaml:3", "$.severity", '"urgent" is not one of']),
        ("T-001.yaml", VALID.format(id="T-001").replace("{const: null}", "{type: nonsense}"),
         ["T-001.yaml:12", "$.expect.properties.permissions_boundary.type", "not a valid JSON Schema"]),
        ("T-001.yaml", VALID.format(id="T-001").replace("permissions_boundary", "permission_boundary"),
         ["$.expect", "has no fact 'permission_boundary'"]),
        ("T-001.yaml", VALID.format(id="T-001").replace("title: A rule", "titel: A rule"),
         ["T-001.yaml:2", "unknown key 'titel'"]),
        ("T-001.yaml", VALID.format(id="T-001").replace("remediation:\n  text: Fix the role as described.\n", "remediation:\n"),
         ["$.remediation", "'text' is required but missing"]),
        ("T-001.yaml", "id: [unclosed\n", ["T-001.yaml:2", "not valid YAML"]),
    ],
)
def test_bad_rule_names_file_line_and_path(tmp_path: Path, name: str, text: str, fragments: list[str]) -> None:
    pack = make_pack(tmp_path, {name: text})
    with pytest.raises(RuleError) as caught:
        load_rules([pack], builtin=False)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_every_problem_at_once(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {
        "T-001.yaml": VALID.format(id="T-009"),
        "T-002.yaml": VALID.format(id="T-002").replace("severity: high", "severity: 5"),
        "T-003.yaml": "::: not yaml :::\n  - [",
    })
    with pytest.raises(RuleError) as caught:
        load_rules([pack], builtin=False)
    assert len(caught.value.problems) == 3
    assert {p.split(":")[0].rsplit("/", 1)[-1] for p in caught.value.problems} == {
        "T-001.yaml", "T-002.yaml", "T-003.yaml"}


def test_duplicate_id_across_packs(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {"ART-001.yaml": VALID.format(id="ART-001")})
    with pytest.raises(RuleError) as caught:
        load_rules([pack])
    assert "duplicate rule id 'ART-001'" in str(caught.value)
    assert "rules/artifact/ART-001.yaml" in str(caught.value)


def test_missing_path_and_empty_pack(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path / "nowhere", empty], builtin=False)
    assert "no such rule file or pack folder" in str(caught.value)
    assert "no rule files" in str(caught.value)


def test_a_copy_of_the_builtin_pack_validates(tmp_path: Path) -> None:
    copies = []
    for pack in ("artifact", "organizations", "ssm"):
        copies.append(tmp_path / pack)
        shutil.copytree(builtin_packs_dir() / pack, copies[-1])
    assert len(load_rules(copies, builtin=False).rules) == len(load_rules().rules)
