"""The integrations catalog: every AWS service that integrates with AWS Organizations through trusted access.

Data, not code: one YAML file per integration under `integrations/`, validated by
`schemas/catalog.schema.json` and cross-checked when loaded. See the README's "Integrations catalog".
"""

from scanner.catalog.loader import SHARED_PRINCIPALS, Catalog, load_catalog, load_catalog_dir
from scanner.catalog.model import (
    DelegatedAdministrator,
    DocumentationTypo,
    Integration,
    LegacyRole,
    ManagedPolicy,
    Principal,
    ServiceLinkedRole,
    Source,
    service_linked_role_path,
)
from scanner.errors import CatalogError  # the catalog's own error, kept with the others

__all__ = [
    "SHARED_PRINCIPALS",
    "Catalog",
    "CatalogError",
    "DelegatedAdministrator",
    "DocumentationTypo",
    "Integration",
    "LegacyRole",
    "ManagedPolicy",
    "Principal",
    "ServiceLinkedRole",
    "Source",
    "load_catalog",
    "load_catalog_dir",
    "service_linked_role_path",
]
