"""The least-privilege IAM policies the scanner needs, derived from what the collector calls.

Each collector module declares the actions it calls (`PERMISSIONS`); this module only groups them by
where they are called. A test records every call of a full moto scan and checks that each one is in
these policies and is read-only, and the CloudFormation examples are checked against them, so the
documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from scanner.collect import artifact, iam, organizations
from scanner.config import Config

# Called in every scanned account with the member role's credentials (and in the management account
# with the scanner's own).
MEMBER_ACTIONS: tuple[str, ...] = tuple(sorted(iam.PERMISSIONS))

# Called only from the management account. sts:GetCallerIdentity needs no permission and cannot be
# denied, so it is not listed.
ORGANIZATION_ACTIONS: tuple[str, ...] = tuple(sorted(organizations.PERMISSIONS))
ARTIFACT_ACTIONS: tuple[str, ...] = tuple(sorted(artifact.PERMISSIONS))
ASSUME_ACTIONS: tuple[str, ...] = ("sts:AssumeRole",)

READ_ONLY_PREFIXES = ("List", "Get", "Describe")


def is_read_only(action: str) -> bool:
    """List/Get/Describe calls read; AssumeRole only hands out the member role's read-only session."""
    operation = action.split(":", 1)[1]
    return operation.startswith(READ_ONLY_PREFIXES) or action == "sts:AssumeRole"


def member_role_arn_pattern(config: Config) -> str:
    access = config.member_accounts
    return f"arn:aws:iam::*:role{access.role_path}{access.role_name}"


def management_policy(config: Config) -> dict[str, Any]:
    """For the identity that runs the scan in (or assumes into) the management account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ReadOrganization", ORGANIZATION_ACTIONS, "*"),
            _statement("ReadRoles", MEMBER_ACTIONS, "*"),
            _statement(artifact.POLICY_SID, ARTIFACT_ACTIONS, "*"),
            _statement("AssumeMemberReadRole", ASSUME_ACTIONS, member_role_arn_pattern(config)),
        ],
    }


def member_policy() -> dict[str, Any]:
    """For the read-only role assumed in each member account."""
    return {"Version": "2012-10-17", "Statement": [_statement("ReadRoles", MEMBER_ACTIONS, "*")]}


def every_action() -> tuple[str, ...]:
    return tuple(sorted({*MEMBER_ACTIONS, *ORGANIZATION_ACTIONS, *ARTIFACT_ACTIONS, *ASSUME_ACTIONS}))


def _statement(sid: str, actions: tuple[str, ...], resource: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resource}
