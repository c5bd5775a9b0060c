"""Loop's Commerce Data API in the sandbox: every resource's routes, and the reset of its table.

The pieces: `common` (errors, validation, the record store, references, derived fields),
`paging` (cursor pagination, list filters), `resources` (the generic resource and products,
customers, locations, collections), `variants` (variants, inventories), `orders` and `bulk`
(bulk operations, run through the other routes).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from engine.sandbox.commerce.bulk import bulk_routes
from engine.sandbox.commerce.orders import order_routes
from engine.sandbox.commerce.resources import (
    PLAIN_KINDS,
    collection_product_routes,
    resource_routes,
)
from engine.sandbox.commerce.variants import inventory_routes, variant_routes
from engine.sandbox.core import Routes, Sandbox


def routes(sb: Sandbox) -> Routes:
    """Every Commerce Data route, without the /api/{version} prefix (no admin routes)."""

    def reset() -> None:
        sb.db.execute("DELETE FROM commerce_records")
        sb.records.clear()

    sb.reset_hooks.append(reset)
    # Variant routes go first: /products/external/{id}/product-variants must not be taken
    # for /products/external/{id}.
    found: list[BaseRoute] = [*variant_routes(sb), *collection_product_routes(sb)]
    for kind in PLAIN_KINDS:
        found.extend(resource_routes(sb, kind))
    found += [*inventory_routes(sb), *order_routes(sb)]
    return Routes([*found, *bulk_routes(sb, found)])
