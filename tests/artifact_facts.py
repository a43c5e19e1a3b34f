"""Trust facts for the Artifact integration, in the flat shape the trust tests were written against.

`scanner.policy.trust_facts` keys its per-integration answers by catalog id (`integrations.<id>.*`); the
trust tests predate that and ask only about Artifact's principals, so this adapter asks for those (from
the catalog) and lifts `integrations.artifact` back to the top level under its former names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner import integrations, policy

ARTIFACT = integrations.known("artifact")


def trust_facts(document: Mapping[str, Any], org: policy.OrganizationContext) -> dict[str, Any]:
    facts = policy.trust_facts(document, org, {ARTIFACT.id: ARTIFACT.service_principals})
    own = facts.pop("integrations")[ARTIFACT.id]
    return {
        **facts,
        "artifact_principals": own["principals"],
        "trusts_artifact_principal": own["trusted"],
        "artifact_statements": own["statements"],
        "artifact_trust_pinned": own["pinned"],
    }
