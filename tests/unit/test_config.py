"""Configuration: defaults, the example file, and every kind of bad input naming its place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.config import Config, load_config
from scanner.errors import ConfigError
from scanner.model import Severity

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_defaults() -> None:
    config = load_config(None)
    assert config == Config()
    assert config.member_accounts.role_name == "OrganizationAccountAccessRole"
    assert config.fail_on is Severity.HIGH


def test_example_file_is_valid_and_equals_the_defaults() -> None:
    config = load_config(ROOT / "config.example.yaml")
    assert config == Config(source=str(ROOT / "config.example.yaml"))


def _schema_keys(schema: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        keys.add(path)
        if "$ref" not in sub and sub.get("type") == "object" and "properties" in sub:
            keys |= _schema_keys(sub, path)
    return keys


def _document_keys(document: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in document.items():
        path = f"{prefix}.{name}" if prefix else name
        keys.add(path)
        if isinstance(value, dict) and path != "rules.severity_overrides":
            keys |= _document_keys(value, path)
    return keys


def test_example_file_shows_every_key() -> None:
    from scanner import schemas

    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    assert _document_keys(example) == _schema_keys(schemas.load("config"))


def test_values_are_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
member_accounts: {role_name: ArtifactScanReader, external_id: ext-123}
scope: {exclude_accounts: ["123456789012"]}
rules: {severity_overrides: {ART-011: high}}
fail_on: medium
"""))
    assert config.member_accounts.role_name == "ArtifactScanReader"
    assert config.scope.exclude_accounts == ("123456789012",)
    assert config.rules.severity_overrides == {"ART-011": Severity.HIGH}
    assert config.fail_on is Severity.MEDIUM


def test_hash_leaves_out_external_ids(tmp_path: Path) -> None:
    one = load_config(write(tmp_path, "member_accounts: {external_id: secret-one}\n"))
    two = load_config(write(tmp_path, "member_accounts: {external_id: secret-two}\n"))
    assert one.sha256() == two.sha256()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("collection:\n  concurency: 4\n", ["config.yaml:2", "$.collection.concurency", "unknown key 'concurency'"]),
        ("collection:\n  concurrency: many\n", ["config.yaml:2", "$.collection.concurrency", "'many' is not of type"]),
        ("fail_on: severe\n", ["config.yaml:1", "$.fail_on", '"severe" is not one of']),
        ("scope:\n  include_accounts: ['12345']\n", ["config.yaml:2", "$.scope.include_accounts[0]"]),
        ("colection: {}\n", ["$.colection", "unknown key", "expected one of: collection"]),
        ("- a list\n", ["$:", "is not of type 'object'"]),
        ("management: {profile: a\n", ["config.yaml:2", "not valid YAML"]),
        ("fail_on: high\nfail_on: low\n", ["config.yaml:2", "duplicate key 'fail_on'"]),
        ("a: &x [1]\nb: *x\n", ["anchors and aliases are not supported"]),
        ("member_accounts: !!python/object/apply:os.system ['true']\n", ["config.yaml:1", "unsupported YAML tag"]),
    ],
)
def test_bad_config_names_the_place(tmp_path: Path, text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "fail_on: severe\ncollection: {concurrency: 0}\nextra: 1\n"))
    message = str(caught.value)
    assert "3 problems" in message
    assert "$.fail_on" in message and "$.collection.concurrency" in message and "$.extra" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("ab", True),
        ("Audit/2026:ext@id=1,x+y.z_w-v", True),
        ("a" * 1224, True),
        ("a", False),  # STS's minimum is 2
        ("a" * 1225, False),
        ("abc\n", False),  # `$` in a search pattern would take this
        ("caf\u00e9-id", False),  # \w in Python is Unicode; STS's is ASCII
        ("two words", False),
        ("\u0661\u0662\u0663", False),  # Arabic-Indic digits match \d and \w, not STS
        (12345678, False),
    ],
)
def test_external_ids_are_exactly_what_sts_accepts_and_never_quoted(
    tmp_path: Path, value: object, accepted: bool
) -> None:
    import json

    for section in ("management", "member_accounts"):
        path = tmp_path / f"{section}.yaml"
        path.write_text(f"{section}:\n  external_id: {json.dumps(value)}\n")
        if accepted:
            loaded = load_config(path)
            assert getattr(loaded, section).external_id == value
            if len(str(value)) >= 8:  # shorter ones occur in ordinary words
                assert str(value) not in loaded.public_json().decode()
            continue
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        assert f"$.{section}.external_id" in str(raised.value)
        if len(str(value)) >= 8:
            assert str(value).strip() not in str(raised.value)


def test_the_schema_pattern_refuses_a_trailing_newline_too() -> None:
    from scanner import schemas

    validator = schemas.validator("config")
    assert validator.is_valid({"member_accounts": {"external_id": "abc"}})
    assert not validator.is_valid({"member_accounts": {"external_id": "abc\n"}})
    assert not validator.is_valid({"member_accounts": {"external_id": "caf\u00e9"}})


def test_collection_bounds_are_configurable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "collection: {call_timeout_seconds: 9, account_timeout_seconds: 60, "
                                         "max_pages_per_listing: 7}\n"))
    assert (config.collection.call_timeout_seconds, config.collection.account_timeout_seconds,
            config.collection.max_pages_per_listing) == (9, 60, 7)
