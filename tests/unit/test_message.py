"""Message templates: parsed without running anything, checked against the facts at load, rendered as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import RuleError
from scanner.evaluate import message
from scanner.evaluate.resources import FACT_SCHEMAS, ROLE
from scanner.rules import load_rules

RULE = """\
id: T-001
title: A rule for testing messages
severity: high
resource: aws.iam.role
message: {message}
description: Checks something about a role.
rationale: Because the tests need one.
expect:
  properties:
    permissions_boundary: {{const: null}}
remediation:
  text: Fix the role as described.
  command: aws iam get-role --role-name Foo
"""


def render(text: str, facts: dict[str, object]) -> str:
    context = {"account_id": "111111111111", "account_name": "prod", "resource_name": "R", "resource_arn": "arn:r"}
    return message.render(message.parse(text), facts, context)


@pytest.mark.parametrize(
    ("template", "facts", "expected"),
    [
        ("{name} in {account_id} ({account_name})", {"name": "Role"}, "Role in 111111111111 (prod)"),
        ("trusts {trust.allowed_principals}", {"trust": {"allowed_principals": ["aws:1", "service:x"]}},
         "trusts aws:1, service:x"),
        ("has {inline_policy_names}", {"inline_policy_names": []}, "has none"),
        ("boundary {permissions_boundary}", {"permissions_boundary": None}, "boundary none"),
        ("pinned {trust.integrations.artifact.pinned}", {"trust": {"integrations": {"artifact": {"pinned": False}}}},
         "pinned no"),
        ("{a}", {"a": [str(i) for i in range(8)]}, "0, 1, 2, 3, 4 and 3 more"),
        # Through an array: every item's fact, the absent ones (null) left out
        ("why: {trust.integrations.artifact.statements.reason}",
         {"trust": {"integrations": {"artifact": {"statements": [{"reason": None}, {"reason": "no Condition block"}]}}}},
         "why: no Condition block"),
        ("{{literal}} {name}", {"name": "x"}, "{literal} x"),
        ("{missing}", {}, "unknown"),
        # A value is text only: braces, format fields and newlines from AWS are inserted as they are (one line)
        ("{name}", {"name": "{account_id}\n{0.__class__}"}, "{account_id} {0.__class__}"),
    ],
)
def test_render(template: str, facts: dict[str, object], expected: str) -> None:
    assert render(template, facts) == expected


@pytest.mark.parametrize(
    "template",
    ["{0}", "{name!r}", "{name:>10}", "{name.__class__}", "{trust[0]}", "{ name }", "{name", "name}", "{Name}",
     "{}"],
)
def test_anything_but_a_dotted_fact_path_is_refused(template: str) -> None:
    with pytest.raises(message.TemplateError):
        message.parse(template)


def test_fields_are_checked_against_the_resource_types_facts() -> None:
    schema = FACT_SCHEMAS[ROLE]
    good = message.parse("{name} {account_id} {trust.allowed_principals} {trust.integrations.artifact.statements.reason} {tags.env}")
    assert message.check(good, schema) == []
    bad = message.parse("{nmae} {trust.allowed_principal} {trust.integrations.artifact.statements.nope}")
    assert message.check(bad, schema) == ["nmae", "trust.allowed_principal", "trust.integrations.artifact.statements.nope"]


def test_context_fields_are_not_facts() -> None:
    """A fact of the same name would be shadowed by the context field: none exists."""
    for schema in FACT_SCHEMAS.values():
        assert not set(message.CONTEXT_FIELDS) & set(schema["properties"])


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ('"{nmae} is wrong here"', "rules/T-001.yaml:5: $.message: aws.iam.role has no fact 'nmae'"),
        ('"{name.__class__} is wrong"', "$.message: '{name.__class__}' at character 1 is not a field"),
        ('"{name:>10} is wrong"', "is not a field"),
    ],
)
def test_a_bad_template_fails_at_load(tmp_path: Path, template: str, fragment: str) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "T-001.yaml").write_text(RULE.format(message=template))
    with pytest.raises(RuleError) as caught:
        load_rules([folder / "T-001.yaml"], builtin=False)
    text = "\n".join(caught.value.problems).replace(str(tmp_path) + "/", "")
    assert fragment in text, text


def test_every_builtin_rule_has_a_template_naming_real_facts() -> None:
    for rule in load_rules().rules:
        assert rule.message and message.check(message.parse(rule.message), FACT_SCHEMAS[rule.resource]) == []
