"""`permissions`: the least-privilege IAM policies the collector needs, derived from what it calls."""

from __future__ import annotations

import argparse
import json
from typing import Any

from scanner import terminal
from scanner.cli.common import load_config, load_ruleset
from scanner.errors import ExitCode


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.collect import permissions  # noqa: PLC0415
    from scanner.publish import securityhub  # noqa: PLC0415

    config = load_config(args.config)
    integrations = load_ruleset(config, args.rules, builtin=not args.no_builtin_rules).integrations
    policies = {
        "management_account": permissions.management_policy(config, integrations),
        "member_accounts": permissions.member_policy(integrations),
        "security_hub_publishing": permissions.policy((securityhub.CALLS,)),
    }
    chosen = {"management_account": args.management, "member_accounts": args.member,
              "security_hub_publishing": args.security_hub}
    picked = [name for name, wanted in chosen.items() if wanted]
    document: Any = policies[picked[0]] if picked else policies
    terminal.out(json.dumps(document, indent=2))
    return ExitCode.OK
