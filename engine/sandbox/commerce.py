"""Loop's Commerce Data API in the sandbox: every resource's routes, and the reset of its table.

The pieces live in commerce_common (errors, validation, store, pagination), commerce_resources
(products, customers, locations, collections), commerce_variants (variants, inventories) and
commerce_orders.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from engine.sandbox.commerce_orders import order_routes
from engine.sandbox.commerce_resources import (
    COLLECTIONS,
    CUSTOMERS,
    LOCATIONS,
    PRODUCTS,
    collection_product_routes,
    resource_routes,
)
from engine.sandbox.commerce_variants import inventory_routes, variant_routes
from engine.sandbox.core import Sandbox


def routes(sb: Sandbox) -> list[BaseRoute]:
    """Every Commerce Data route, without the /api/{version} prefix."""

    def reset() -> None:
        sb.db.execute("DELETE FROM commerce_records")

    sb.reset_hooks.append(reset)
    # Variant routes go first: /products/external/{id}/product-variants must not be taken
    # for /products/external/{id}.
    found: list[BaseRoute] = [*variant_routes(sb), *collection_product_routes(sb)]
    for kind in (PRODUCTS, CUSTOMERS, LOCATIONS, COLLECTIONS):
        found.extend(resource_routes(sb, kind))
    return [*found, *inventory_routes(sb), *order_routes(sb)]
