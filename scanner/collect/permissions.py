"""The least-privilege IAM policies the scanner needs, derived from what its callers declare they call.

Each reader declares its calls (`CALLS`, a scanner.collect.calls.Calls: the actions, where they are made,
and for which integrations); this module only selects the declarations the loaded rules need and groups
them by where they are called. Artifact's customer agreements, for instance, are read (and allowed) only
when the rules apply to the Artifact integration. A test records every call of moto scans for a rule set and
checks that the calls are exactly the derived policy's actions, and the CloudFormation examples are checked
against it, so the documentation cannot drift from the code.

Publishing to Security Hub (`scan --security-hub`) is not collection: its calls (writes among them) are
declared in scanner.publish.securityhub and printed as a policy of their own (`policy`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner import integrations as integration_ids
from scanner.collect import artifact, iam, organizations
from scanner.collect.calls import Calls
from scanner.config import Config

# The Organizations reader's calls, from the management account only: the organization and its accounts for
# any rule set; the delegated administrators only for rules of an integration that can have one (the same
# catalog test the collector makes). sts:GetCallerIdentity needs no permission and cannot be denied: not listed.
ORGANIZATION_CALLS = Calls("ReadOrganization", organizations.READ_ACTIONS, "management")
DELEGATED_ADMINISTRATOR_CALLS = Calls(
    "ReadDelegatedAdministrators", organizations.DELEGATED_ADMINISTRATOR_ACTIONS, "management"
)
ASSUME_SID = "AssumeMemberReadRole"
ASSUME_ACTIONS: tuple[str, ...] = ("sts:AssumeRole",)

# Every collector declaration, in the order of the printed policy's statements.
READERS: tuple[Calls, ...] = (ORGANIZATION_CALLS, iam.CALLS, artifact.CALLS)

READ_ONLY_PREFIXES = ("List", "Get", "Describe")


def is_read_only(action: str) -> bool:
    """List/Get/Describe calls read; AssumeRole only hands out the member role's read-only session."""
    operation = action.split(":", 1)[1]
    return operation.startswith(READ_ONLY_PREFIXES) or action == "sts:AssumeRole"


def member_role_arn_pattern(config: Config) -> str:
    access = config.member_accounts
    return f"arn:aws:iam::*:role{access.role_path}{access.role_name}"


def _scope(rule_integrations: Iterable[str] | None) -> tuple[str, ...]:
    """The integrations the rules apply to; None: the built-in packs' (what `collect` reads by default)."""
    if rule_integrations is None:
        return integration_ids.builtin_pack_integrations()
    return tuple(rule_integrations)


def collector_calls(config: Config, rule_integrations: Iterable[str] | None = None) -> tuple[Calls, ...]:
    """The declarations a collection for rules of these integrations makes use of, AssumeRole included."""
    scope = _scope(rule_integrations)
    assume = Calls(ASSUME_SID, ASSUME_ACTIONS, "management", resource=member_role_arn_pattern(config))
    readers = READERS
    if integration_ids.needs_delegated_administrators(scope):
        readers = (ORGANIZATION_CALLS, DELEGATED_ADMINISTRATOR_CALLS, *READERS[1:])
    return (*(c for c in readers if c.needed_for(scope)), assume)


def management_policy(config: Config, rule_integrations: Iterable[str] | None = None) -> dict[str, Any]:
    """For the identity that runs the scan in (or assumes into) the management account: every call it makes."""
    return policy(collector_calls(config, rule_integrations))


def member_policy(rule_integrations: Iterable[str] | None = None) -> dict[str, Any]:
    """For the read-only role assumed in each member account."""
    return policy(c for c in collector_calls(Config(), rule_integrations) if c.where == "every account")


def every_action() -> tuple[str, ...]:
    """Every action the collector may call, for any rule set."""
    readers = (*READERS, DELEGATED_ADMINISTRATOR_CALLS)
    return tuple(sorted({a for c in readers for a in c.actions} | set(ASSUME_ACTIONS)))


def policy(calls: Iterable[Calls]) -> dict[str, Any]:
    statements = [
        {"Sid": c.sid, "Effect": "Allow", "Action": sorted(c.actions), "Resource": c.resource} for c in calls
    ]
    return {"Version": "2012-10-17", "Statement": statements}
