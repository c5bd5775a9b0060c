"""The one table of Loop's Commerce Data kinds: what every part of loop-etl knows about a kind.

The mapping reads it (entity kinds, build order, payload schema), the Loop client and the loader
(collection path, response wrapper, list key, how a payload is written), reconcile (how Loop
lists the kind) and the sandbox (which kinds it emulates). Adding a Loop kind means one row
here, one payload schema in `schemas/loop/` and its emulation in the sandbox.

Write strategies (how the pipeline sends a ready payload):
- `upsert`: PUT on the collection, keyed by the payload's external_id;
- `child`: PUT under the parent's external path (variants: /products/external/{id}/...);
- `path`: PUT at a URL built from the payload's `path_keys` (inventories), no Loop id of its own;
- `order`: an upsert whose refunds may need the Loop ids of the order's own lines first.

List strategies (how reconcile reads Loop's side):
- `collection`: the kind's list endpoint, keyed by external_id;
- `per_parent`: one list per parent record (variants per product);
- `pairs`: the list endpoint, keyed by the pair of Loop ids in `path_keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Write = Literal["upsert", "child", "path", "order"]
Listing = Literal["collection", "per_parent", "pairs"]


@dataclass(frozen=True)
class Kind:
    """One Loop resource."""

    name: str  # singular: "product"
    plural: str  # the entity name that defaults to it: "products"
    schema: str  # payload schema under schemas/: "loop/product"
    path: str  # the collection: "/products" (for a child kind: its path under the parent)
    wrapper: str  # the key Loop may wrap one record in: {"product": {...}}
    list_key: str  # the key of a list answer: {"products": [...], "next_page_url": ...}
    write: Write = "upsert"
    listing: Listing = "collection"
    path_keys: tuple[str, ...] = ()  # payload keys that address the record in the URL
    parent: str | None = None  # the kind a child kind is written under

    def child_path(self, parent_segment: str) -> str:
        """A child kind's collection under its parent (a URL segment, already encoded)."""
        parent = KINDS[self.parent or ""]
        return f"{parent.path}/{parent_segment}{self.path}"


# Rows in Loop's build order: locations, customers, products, variants, inventories,
# collections, orders (a kind is written after every kind before it).
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("location", "locations", "loop/location", "/locations", "location", "locations"),
        Kind("customer", "customers", "loop/customer", "/customers", "customer", "customers"),
        Kind("product", "products", "loop/product", "/products", "product", "products"),
        Kind(
            "variant",
            "variants",
            "loop/variant",
            "/product-variants",
            "product_variant",
            "product_variants",
            write="child",
            listing="per_parent",
            parent="product",
        ),
        Kind(
            "inventory",
            "inventories",
            "loop/inventory",
            "/inventories",
            "inventory",
            "inventories",
            write="path",
            listing="pairs",
            path_keys=("product_variant_id", "location_id"),
        ),
        Kind(
            "collection",
            "collections",
            "loop/collection",
            "/collections",
            "collection",
            "collections",
        ),
        Kind("order", "orders", "loop/order", "/orders", "order", "orders", write="order"),
    )
}
BY_PLURAL: dict[str, Kind] = {k.plural: k for k in KINDS.values()}
BUILD_ORDER: tuple[str, ...] = tuple(KINDS)


def kind_for_entity(name: str, declared: str | None) -> Kind | None:
    """The declared kind, else the one whose plural (or singular) is the entity's name."""
    if declared:
        return KINDS.get(declared)
    return BY_PLURAL.get(name) or KINDS.get(name)


def kind_named(name: str) -> Kind:
    """A kind by its singular or plural name; a miss lists the known kinds."""
    found = KINDS.get(name) or BY_PLURAL.get(name)
    if found is None:
        raise ValueError(f"unknown Loop kind {name!r} (known: {', '.join(KINDS)})")
    return found
