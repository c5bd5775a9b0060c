"""The Loop kinds an entity can be, with their payload schema and how entity names map to them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A Loop resource: its payload schema, and the payload keys that address it in the URL
    rather than travel in the body (inventories are PUT at /inventories/{variant}/{location})."""

    name: str
    plural: str
    schema: str
    path_keys: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("product", "products", "loop/product"),
        Kind("variant", "variants", "loop/variant"),
        Kind("customer", "customers", "loop/customer"),
        Kind("location", "locations", "loop/location"),
        Kind("inventory", "inventories", "loop/inventory", ("product_variant_id", "location_id")),
        Kind("collection", "collections", "loop/collection"),
        Kind("order", "orders", "loop/order"),
    )
}
BY_PLURAL = {k.plural: k for k in KINDS.values()}
# Loop's build order: locations, customers, products, variants, inventories, collections, orders.
BUILD_ORDER = ("location", "customer", "product", "variant", "inventory", "collection", "order")


def kind_for_entity(name: str, declared: str | None) -> Kind | None:
    """The declared kind, else the one whose plural (or singular) is the entity's name."""
    if declared:
        return KINDS.get(declared)
    return BY_PLURAL.get(name) or KINDS.get(name)
