"""`permissions`: the least-privilege IAM policies the collector needs, derived from what it calls."""

from __future__ import annotations

import argparse
import json
from typing import Any

from scanner import terminal
from scanner.cli.common import load_config
from scanner.errors import ExitCode


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.collect import permissions  # noqa: PLC0415

    config = load_config(args.config)
    policies = {
        "management_account": permissions.management_policy(config),
        "member_accounts": permissions.member_policy(),
    }
    if args.management or args.member:
        document: Any = policies["management_account" if args.management else "member_accounts"]
    else:
        document = policies
    terminal.out(json.dumps(document, indent=2))
    return ExitCode.OK
