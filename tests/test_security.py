"""Security properties: YAML is loaded safely and nothing from a file is ever executed; no secret leaves
memory; member roles are assumed with the configured external id and a session name naming the scanner;
every AWS call of a full scan is read-only.

The secret test plants recognisable fake credentials (access key id, secret key, session token in the
environment, external ids in the config file), runs the real command against moto with --debug, every
format and an evidence bundle, and fails if any of them, or any credential moto's AssumeRole handed out,
appears in any byte of any file written, of stdout or stderr, or of any log record.
"""

from __future__ import annotations

import ast
import io
import logging
import os
import re
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from scanner import demo
from scanner.cli.command import main
from scanner.errors import RuleError
from scanner.report import WRITERS
from scanner.rules import builtin_packs_dir, load_rules
from tests.conftest import MANAGEMENT_ACCOUNT_ID, CallLog

PACKAGE = Path(__file__).resolve().parents[1] / "scanner"
TEMPLATES = PACKAGE / "report" / "templates"

# ============================================================================================
# Nothing from a file is executed
# ============================================================================================

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "subprocess", "pty", "code", "codeop"}
FORBIDDEN_ATTRIBUTES = {
    ("yaml", "load"), ("yaml", "load_all"), ("yaml", "unsafe_load"), ("yaml", "unsafe_load_all"),
    ("yaml", "full_load"), ("yaml", "full_load_all"), ("yaml", "Loader"), ("yaml", "UnsafeLoader"),
    ("yaml", "FullLoader"), ("yaml", "CLoader"), ("yaml", "CUnsafeLoader"), ("yaml", "CFullLoader"),
    ("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execve"), ("os", "execvp"), ("os", "spawnv"),
    ("importlib", "import_module"), ("jinja2", "Template"),
}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _violations(path: Path, root: Path = PACKAGE.parent) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(root)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            yield f"{where}:{node.lineno}: calls {node.func.id}()"
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES):
            yield f"{where}:{node.lineno}: uses {node.value.id}.{node.attr}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    yield f"{where}:{node.lineno}: imports {alias.name}"
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                yield f"{where}:{node.lineno}: imports from {node.module}"
            if node.module == "yaml" and {a.name for a in node.names} & {"load", "unsafe_load", "full_load", "Loader",
                                                                         "UnsafeLoader", "FullLoader"}:
                yield f"{where}:{node.lineno}: imports an unsafe YAML loader"
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "yaml"
                        and base.attr not in ("SafeLoader", "CSafeLoader", "SafeDumper", "YAMLError")):
                    yield f"{where}:{node.lineno}: {node.name} derives from yaml.{base.attr}"


def test_the_package_loads_yaml_safely_and_executes_nothing() -> None:
    sources = _sources()
    assert len(sources) > 20, "the source tree was not found"
    problems = [problem for path in sources for problem in _violations(path)]
    assert problems == []


def test_the_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import yaml, pickle\nimport subprocess\nyaml.load(x, Loader=yaml.Loader)\neval('1')\n"
                      "class L(yaml.FullLoader): pass\n")
    found = sorted(_violations(sample, tmp_path))
    assert found == sorted([
        "sample.py:1: imports pickle", "sample.py:2: imports subprocess", "sample.py:3: uses yaml.load",
        "sample.py:3: uses yaml.Loader", "sample.py:4: calls eval()", "sample.py:5: uses yaml.FullLoader",
        "sample.py:5: L derives from yaml.FullLoader",
    ])


def test_templates_autoescape_and_never_mark_data_safe() -> None:
    from scanner.report import html

    assert html._ENV.autoescape is True
    for template in TEMPLATES.glob("*.j2"):
        text = re.sub(r"\{#.*?#\}", "", template.read_text(), flags=re.DOTALL)  # comments may say "never |safe"
        assert not re.search(r"\|\s*safe\b", text), template
        assert "autoescape false" not in text.replace(" ", " ").lower(), template


def test_python_tags_in_yaml_build_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "config.yaml"
    config.write_text(f"output: !!python/object/apply:os.system ['touch {marker}']\n")
    assert main(["rules", "list", "--config", str(config)]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert f"{config}:1" in err and "Traceback" not in err


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.mark.parametrize("reference", ["http://127.0.0.1:9/evil.json", "file:///etc/passwd", "other.yaml", "#",
                                       "#/nowhere"])
def test_a_rule_cannot_reach_outside_itself(tmp_path: Path, no_network: list[Any], reference: str) -> None:
    rule = yaml.safe_load((builtin_packs_dir() / "artifact" / "ART-006.yaml").read_text())
    rule.update(id="EVIL-001", expect={"properties": {"trust": {"$ref": reference}}})
    path = tmp_path / "EVIL-001.yaml"
    path.write_text(yaml.safe_dump(rule))
    with pytest.raises(RuleError) as caught:
        load_rules([path], builtin=False)
    assert f"{path}:" in str(caught.value) and "references are not supported" in str(caught.value)
    assert no_network == []


# ============================================================================================
# No secret leaves memory
# ============================================================================================

PLANTED = {
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDLEAKCHECK",
    "AWS_SECRET_ACCESS_KEY": "planted-secret-access-key-0f7e1c9a2b",
    "AWS_SESSION_TOKEN": "planted-session-token-FQoGZXIvYXdzEJr-9d1",
}
MANAGEMENT_EXTERNAL_ID = "planted-external-id-management-5d2c"
MEMBER_EXTERNAL_ID = "planted-external-id-member-8a41"
SESSION_NAME = "artifact-scan"  # the default: it names the scanner in the member accounts' CloudTrail


class Planted(CallLog):
    """The calls of every session the command creates; `handlers` are registered on each of them too."""

    handlers: list[tuple[str, Any]]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Planted:
    """Planted credentials in the environment, and every boto3 session created from now on recorded (and
    given the Artifact API, which moto lacks; the demo installs its own answer over it)."""
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    log = Planted(accounts_by_key={PLANTED["AWS_ACCESS_KEY_ID"]: MANAGEMENT_ACCOUNT_ID})
    log.handlers = []
    original_init = boto3.Session.__init__

    def init(self: boto3.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        log.attach(self)
        demo.stub_customer_agreements(self, [])
        for event, handler in log.handlers:
            self.events.register_first(event, handler)

    monkeypatch.setattr(boto3.Session, "__init__", init)
    return log


@pytest.fixture
def planted(recorded: Planted) -> Iterator[Planted]:
    """`recorded`, with the demo's drifted organization built in moto for the planted credentials."""
    with mock_aws():
        # moto puts credentials of its own into the environment while it runs: plant ours over them (its
        # patch of os.environ is undone as a whole when it stops).
        os.environ.update(PLANTED)
        demo.populate(boto3.Session(region_name="us-east-1"), "drifted")
        recorded.clear()
        yield recorded


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root`, and every member of every tar (the evidence bundles) as well."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found[str(path)] = data
        if path.suffix == ".tar":
            with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
                for member in bundle.getmembers():
                    extracted = bundle.extractfile(member)
                    if extracted is not None:
                        found[f"{path}!{member.name}"] = extracted.read()
    return found


def _forms(secret: str) -> list[bytes]:
    """The secret as it could be written: plain, JSON/HTML/XML-escaped forms are the same for these
    characters, and UTF-16 would hide it from a plain search."""
    return [secret.encode(), secret.encode("utf-16-le")]


def assert_nothing_leaked(secrets: list[str], outputs: dict[str, bytes]) -> None:
    assert secrets and all(len(s) >= 8 for s in secrets)
    for name, data in outputs.items():
        for secret in secrets:
            for form in _forms(secret):
                assert form not in data, f"{secret[:6]}… leaked into {name}"


def test_no_secret_in_any_output_of_a_full_scan(
    tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = boto3.Session(region_name="us-east-1").client("organizations").list_roots()["Roots"][0]["Id"]
    planted.clear()
    config = tmp_path / "config.yaml"
    config.write_text(  # an OU filter (the root: every account) adds the OU walk to the footprint
        f"scope:\n  include_ous: [{root}]\n"
        "management:\n"
        f"  role_arn: arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/ArtifactScanAuditor\n"
        f"  external_id: {MANAGEMENT_EXTERNAL_ID}\n"
        "member_accounts:\n"
        f"  external_id: {MEMBER_EXTERNAL_ID}\n"
        "collection:\n  max_attempts: 2\n"
    )
    out = tmp_path / "out"
    code = main(["scan", "--config", str(config), "--out", str(out / "run"), "--evidence", "--debug",
                 "--format", ",".join(WRITERS)])
    collect_code = main(["collect", "--config", str(config), "-o", str(out / "snapshot.json"), "--debug"])
    captured = capsys.readouterr()

    assert code == 1 and collect_code == 0, captured.err  # findings, complete: every account was read
    files = _files(out)
    assert {f"{out / 'run'}/{w.filename}" for w in WRITERS.values()} <= set(files)
    assert any(name.endswith(".tar") for name in files), "no evidence bundle was written"
    outputs = {**files, "stdout": captured.out.encode(), "stderr": captured.err.encode(),
               "logs": "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records).encode()}
    issued = planted.issued_secrets
    assert len(issued) >= 3 * 2, "moto handed out no member credentials"
    assert_nothing_leaked([*PLANTED.values(), MANAGEMENT_EXTERNAL_ID, MEMBER_EXTERNAL_ID, *issued], outputs)

    # Member roles: the configured external id and a session name naming the scanner.
    assumed = planted.of(api="sts:AssumeRole")
    management = [c for c in assumed if c.params["RoleArn"].endswith(":role/ArtifactScanAuditor")]
    members = [c for c in assumed if c not in management]
    assert management and all(c.params["ExternalId"] == MANAGEMENT_EXTERNAL_ID for c in management)
    assert members and all(c.params["RoleArn"].endswith(":role/OrganizationAccountAccessRole") for c in members)
    assert {(c.params["ExternalId"], c.params["RoleSessionName"]) for c in members} == {
        (MEMBER_EXTERNAL_ID, SESSION_NAME)
    }

    # The planted credentials were the ones used: every call is attributed to a known key.
    assert not [c for c in planted.calls if c.account_id.startswith("unknown")]

    # The footprint of the whole command: List, Get, Describe, AssumeRole, GetCallerIdentity, nothing else.
    calls = {call.api for call in planted.calls}
    assert {"sts:AssumeRole", "iam:ListRoles", "organizations:ListAccounts", "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent", "artifact:ListCustomerAgreements"} <= calls
    writes = sorted(api for api in calls if not re.match(r"[a-z]+:(List|Get|Describe)", api)
                    and api not in ("sts:AssumeRole", "sts:GetCallerIdentity"))
    assert writes == []


def test_no_secret_in_any_output_of_the_demo(
    tmp_path: Path, recorded: Planted, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "demo"
    planted = recorded
    code = main(["demo", "--out", str(out), "--debug"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    outputs = {**_files(out), "stdout": captured.out.encode(), "stderr": captured.err.encode(),
               "logs": "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records).encode()}
    assert planted.issued_secrets, "the demo assumed no member role"
    assert_nothing_leaked([*PLANTED.values(), "demo-secret-access-key", *planted.issued_secrets], outputs)


def _echo_credentials(of: str) -> Any:
    """A before-call handler answering AccessDenied with the request's own credentials in the message, for
    calls signed with the base credentials (`of="base"`) or with AssumeRole's (`of="assumed"`)."""

    def echo(request_signer: Any, **_: Any) -> Any:
        credentials = request_signer._credentials.get_frozen_credentials()
        if (credentials.access_key == PLANTED["AWS_ACCESS_KEY_ID"]) != (of == "base"):
            return None
        return demo.error_response(
            403, "AccessDenied",
            f"denied: key {credentials.access_key} secret {credentials.secret_key} token {credentials.token}",
        )

    return echo


def _scan_echoing(tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str], of: str) -> None:
    planted.handlers.append(("before-call.iam.ListRoles", _echo_credentials(of)))
    config = tmp_path / "config.yaml"
    config.write_text("collection:\n  max_attempts: 1\n")
    code = main(["scan", "--config", str(config), "--out", str(tmp_path / "run"), "--format", ",".join(WRITERS)])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    outputs = {**_files(tmp_path / "run"), "stdout": captured.out.encode(), "stderr": captured.err.encode()}
    assert b"<redacted>" in outputs[str(tmp_path / "run" / "snapshot.json")]
    assert_nothing_leaked([*PLANTED.values(), *planted.issued_secrets], outputs)


def test_member_credentials_echoed_in_an_error_are_redacted(
    tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint (or a proxy) that echoes the request's credentials in its error message: the message is
    recorded as evidence, and must not carry them."""
    _scan_echoing(tmp_path, planted, capsys, "assumed")


def test_base_credentials_echoed_in_an_error_are_redacted(
    tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    _scan_echoing(tmp_path, planted, capsys, "base")


def test_the_security_policy_says_how_to_report_and_how_to_trust_the_member_role() -> None:
    policy = (PACKAGE.parent / "SECURITY.md").read_text()
    for needed in ("private security advisory", "aws:PrincipalOrgID", "sts:ExternalId", "Principal",
                   "What an attacker who controls a member account can do", "Evidence integrity",
                   "What the scanner trusts"):
        assert needed in policy, needed
