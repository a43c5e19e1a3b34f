"""The real command against a moto server named by AWS_ENDPOINT_URL: the same findings as in process.

Nothing in the scanner knows it is talking to moto: the subprocess gets only AWS_ENDPOINT_URL and
credentials, exactly as it would for any endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from scanner import demo
from scanner.cli.command import main
from tests.conftest import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _failures(results: dict[str, Any]) -> set[demo.PlantedProblem]:
    return {demo.PlantedProblem(r["rule_id"], r["account_id"], r["resource_name"])
            for r in results["results"] if r["status"] == "fail"}


def test_scan_through_aws_endpoint_url_finds_the_planted_problems(
    moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = boto3.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                            region_name="us-east-1")
    population = demo.populate(session, "drifted", endpoint_url=moto_server)
    config = tmp_path / "config.yaml"
    # moto's server answers the Artifact API with HTTP 500, which the scanner would retry with backoff. The
    # organization's integrations policy is the one its planted problems break (JSON is YAML).
    config.write_text(json.dumps({"collection": {"max_attempts": 1},
                                  "integrations": asdict(population.integration_policy)}) + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY_ID,
               AWS_SECRET_ACCESS_KEY=FAKE_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    completed = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--config", str(config), "--out", str(tmp_path / "server"),
         "--quiet"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert "Traceback" not in completed.stderr
    # Incomplete: the Artifact API does not exist at a moto server, and the report says so.
    assert completed.returncode == 3, completed.stderr
    server = json.loads((tmp_path / "server" / "results.json").read_text())
    assert _failures(server) == set(population.planted_without_handlers)
    assert server["run"]["complete"] is False
    assert [e["api"] for e in server["errors"]] == ["artifact:ListCustomerAgreements"]
    snapshot = json.loads((tmp_path / "server" / "snapshot.json").read_text())
    assert snapshot["metadata"]["endpoint_url"] == moto_server

    # The in-process demo of the same scenario finds the same failures, plus the one that needs its
    # in-process stand-in: the account whose role cannot be assumed. Account ids are random per build,
    # so failures are compared by account name and resource.
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    capsys.readouterr()
    in_process = json.loads((tmp_path / "demo" / "results.json").read_text())
    locked = {account.name for account in population.accounts if account.id in population.unassumable_account_ids}
    assert _by_name(in_process) - _by_name(server) == {("ART-014", name, name) for name in locked}
    assert _by_name(server) <= _by_name(in_process)


def _by_name(results: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (r["rule_id"], r["account_name"],
         "organization" if r["resource_type"] == "aws.organizations.organization" else r["resource_name"])
        for r in results["results"] if r["status"] == "fail"
    }
