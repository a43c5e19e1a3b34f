"""The command's answers to credentials that cannot scan: exit 2, one message naming the cause and the fix,
no traceback, and no run folder left behind (nothing was read)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from scanner.cli.command import main
from tests.conftest import MANAGEMENT_ACCOUNT_ID


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str]:
    out = tmp_path / "run"
    code = main(["scan", "--out", str(out), "--quiet", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written when nothing could be read"
    return code, err


def test_no_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, err = run(capsys, tmp_path)
    assert code == 2
    assert "error: no AWS credentials found" in err and "hint: configure credentials" in err


def test_a_profile_the_config_names_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("management:\n  profile: no-such-profile\n")
    code, err = run(capsys, tmp_path, "--config", str(config))
    assert code == 2
    assert f"error: {config}: $.management.profile: the AWS profile 'no-such-profile' does not exist" in err
    assert "hint: list the profiles with `aws configure list-profiles`; fix management.profile" in err


def test_a_profile_aws_profile_names_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "ghost")
    code, err = run(capsys, tmp_path)
    assert code == 2
    assert "error: the AWS profile 'ghost' (from AWS_PROFILE) does not exist" in err
    assert "fix or unset AWS_PROFILE" in err


def test_credentials_of_a_member_account(
    aws: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    organizations = aws.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(AccountName="member", Email="member@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]
    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member_id}:role/OrganizationAccountAccessRole", RoleSessionName="fixture"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    code, err = run(capsys, tmp_path)
    assert code == 2
    assert f"the credentials are for account {member_id}" in err
    assert f"trusted access can only be read from the management account {MANAGEMENT_ACCOUNT_ID}" in err
    assert f"hint: use credentials for account {MANAGEMENT_ACCOUNT_ID}" in err
