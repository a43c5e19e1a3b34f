"""What AWS Artifact's integration with AWS Organizations looks like: names, principals, paths.

The one place for these identifiers in Python code. Sources are in docs/aws-facts.md of the design
notes; the README's "What is checked" section repeats them for users.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# NOTE: AWS's own IAM material (AWSArtifactAgreementsFullAccess, the Artifact user guide's example
# policies) enables trusted access for `aws-artifact-account-sync.amazonaws.com`, while the current
# Organizations page shows `artifact.amazonaws.com`. Both are accepted; reports say which was seen.
TRUSTED_ACCESS_PRINCIPALS = (
    "aws-artifact-account-sync.amazonaws.com",
    "artifact.amazonaws.com",
)

# Printed in the Organizations documentation between 2020-11 and 2021-02: a role name used as a
# principal, and a misspelling. Either one enabled means someone followed the old page.
LEGACY_TRUSTED_ACCESS_PRINCIPALS = (
    "AWSArtifactAccountSync",
    "aws-artifact-acount-sync.amazonaws.com",
)

# Service principals a trust policy may name for Artifact. A role trusting any of them without
# source conditions is open to the cross-service confused deputy.
ARTIFACT_SERVICE_PRINCIPALS = (
    "artifact.amazonaws.com",
    "aws-artifact-account-sync.amazonaws.com",
    "aws-artifact-acount-sync.amazonaws.com",
)

SERVICE_LINKED_ROLE_NAME = "AWSServiceRoleForArtifact"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/artifact.amazonaws.com/"
SERVICE_LINKED_ROLE_TRUSTED_SERVICE = "artifact.amazonaws.com"
SERVICE_LINKED_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/AWSArtifactServiceRolePolicy"

LEGACY_ROLE_NAME = "AWSArtifactAccountSync"
LEGACY_ROLE_PATH = "/service-role/"
LEGACY_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AWSArtifactAccountSync"

# The Artifact API answers only at a global endpoint that every commercial region resolves to.
ARTIFACT_API_REGION = "us-east-1"

_NAMES_OF_INTEREST = {SERVICE_LINKED_ROLE_NAME.lower(), LEGACY_ROLE_NAME.lower()}


def is_role_name_of_interest(role_name: str) -> bool:
    """IAM role names are unique case-insensitively, so a look-alike may differ only in case."""
    return role_name.lower() in _NAMES_OF_INTEREST


def is_artifact_service_principal(principal: str) -> bool:
    return principal.strip().lower() in ARTIFACT_SERVICE_PRINCIPALS


def trusted_access_seen(markers: Mapping[str, Any]) -> str:
    """Which Artifact principals have trusted access, with when each was enabled, for a report's header.

    `markers` is `ScanResult.markers`: its `trusted_access` (principal -> DateEnabled) is there only when
    ListAWSServiceAccessForOrganization was read, so an unread list never reads as "not enabled".
    """
    enabled = markers.get("trusted_access")
    if not isinstance(enabled, Mapping):
        return "not read"
    seen = []
    for principal in (*TRUSTED_ACCESS_PRINCIPALS, *LEGACY_TRUSTED_ACCESS_PRINCIPALS):
        if principal in enabled:
            legacy = " (legacy or misspelt)" if principal in LEGACY_TRUSTED_ACCESS_PRINCIPALS else ""
            since = f", enabled {enabled[principal]}" if enabled[principal] else ""
            seen.append(f"{principal}{legacy}{since}")
    return "; ".join(seen) or "not enabled for any AWS Artifact principal"
