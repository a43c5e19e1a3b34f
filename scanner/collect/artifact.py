"""AWS Artifact reads: the customer agreements visible to the management account.

The Artifact integration's own reader (scanner/catalog/integrations/artifact.yaml). The Artifact API
answers only at its global endpoint (`API_REGION`); the caller creates the client in that region.
"""

from __future__ import annotations

from typing import Any, Final

from scanner.collect.calls import Calls
from scanner.collect.session import jsonable, next_token_field, pages
from scanner.config import DEFAULT_MAX_PAGES
from scanner.model import AGREEMENTS_INTEGRATION

SERVICE: Final = "artifact"  # the boto3 client
API = "artifact:ListCustomerAgreements"
PERMISSIONS = (API,)
# Read (and allowed by `artifact-scan permissions --management`) only when the rules apply to Artifact.
CALLS = Calls("ReadArtifactAgreements", PERMISSIONS, "management", frozenset({AGREEMENTS_INTEGRATION}))

# The Artifact API answers only at a global endpoint that every commercial region resolves to.
API_REGION = "us-east-1"

_PAGE = 300  # the API's maximum


def customer_agreements(client: Any, max_pages: int = DEFAULT_MAX_PAGES) -> tuple[dict[str, Any], ...]:
    """ListCustomerAgreements across all pages: the agreements active for the caller (and terminated
    ones where the API returns them; rules look at `state`)."""
    listing = pages(
        client.list_customer_agreements,
        request_token="nextToken",
        next_token=next_token_field("nextToken"),
        max_pages=max_pages,
        maxResults=_PAGE,
    )
    return tuple(jsonable(item) for page in listing for item in page["customerAgreements"])
