"""The generic Commerce Data resource (create, list, get, update, upsert, delete, by id and by
external id) and the four plain kinds built on it: products, customers, locations, collections.

Each stored body is what Loop returns for the record. Derived fields (a product's
`collections` and `default_variant_id`, a collection's `products`, a variant's `product` and
`inventories`) are recomputed on every write that changes them, so a stored body is never stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.commerce_common import (
    Errors,
    Store,
    as_id,
    endpoint,
    field_error,
    list_filters,
    list_page,
    not_found,
    path_id,
    read_payload,
    unprocessable,
    validate,
)
from engine.sandbox.core import Sandbox, loop_json

Body = dict[str, Any]
Build = Callable[[Store, Body, Body | None], Body]
Hook = Callable[[Store, Body], None]


def _noop(store: Store, body: Body) -> None:
    return None


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Kind:
    """One resource: names, schema, how a payload becomes a stored body, and what follows."""

    kind: str
    plural: str
    build: Build
    filters: dict[str, str] = field(default_factory=dict)
    after_write: Hook = _noop
    after_delete: Hook = _noop

    @property
    def what(self) -> str:
        return self.kind.capitalize()


def base_body(
    store: Store, kind: str, payload: Body, existing: Body | None, defaults: Body
) -> Body:
    """existing (or defaults with a new id) with the payload's fields laid over it."""
    body = dict(existing) if existing else {"id": store.new_ids(1)[0], **defaults}
    body.update({k: v for k, v in payload.items() if k != "id"})
    return body


def resolve(store: Store, kind: str, ref: Any, field_name: str, errors: Errors) -> Body | None:
    """The record a reference ({id} or {external_id}) points at; records a 422 when unknown."""
    if not isinstance(ref, dict):
        return None
    if ref.get("id") is not None:
        found = store.get(kind, as_id(ref["id"]))
        key = f"{field_name}.id"
    else:
        found = store.by_external(kind, str(ref.get("external_id")))
        key = f"{field_name}.external_id"
    if found is None:
        errors.setdefault(key, []).append(f"The selected {key} is invalid.")
    return found


def summary(body: Body, *keys: str) -> Body:
    return {k: body.get(k) for k in ("id", "external_id", *keys)}


# --- derived fields -----------------------------------------------------------------------


def refresh_product(store: Store, product_id: int) -> None:
    product = store.get("product", product_id)
    if product is None:
        return
    collections = [
        summary(c, "name")
        for c in store.where("collection", "TRUE", [])
        if any(p.get("id") == product_id for p in c.get("products") or [])
    ]
    variants = store.where("variant", "parent_id = ?", [product_id])
    product["collections"] = collections
    product["default_variant_id"] = variants[0]["id"] if variants else None
    store.put("product", product)


def refresh_collection(store: Store, collection_id: int) -> None:
    collection = store.get("collection", collection_id)
    if collection is None:
        return
    products = [store.get("product", p["id"]) for p in collection.get("products") or []]
    collection["products"] = [summary(p, "sku", "name") for p in products if p is not None]
    store.put("collection", collection)


def refresh_variant(store: Store, variant_id: int) -> None:
    variant = store.get("variant", variant_id)
    if variant is None:
        return
    product = store.get("product", variant["product"]["id"])
    if product is not None:
        variant["product"] = summary(product, "sku", "name")
    variant["inventories"] = [
        {
            "id": inv["id"],
            "available_count": inv["available_count"],
            "location": summary(inv["location"][0], "name"),
        }
        for inv in store.where("inventory", "parent_id = ?", [variant_id])
    ]
    store.put("variant", variant, parent_id=variant["product"]["id"])


def _collections_with(store: Store, product_id: int) -> list[Body]:
    return [
        c
        for c in store.where("collection", "TRUE", [])
        if any(p.get("id") == product_id for p in c.get("products") or [])
    ]


# --- products -----------------------------------------------------------------------------

PRODUCT_DEFAULTS: Body = dict.fromkeys(
    (
        "external_id",
        "channel",
        "sku",
        "name",
        "weight_grams",
        "barcode",
        "description",
        "type",
        "vendor",
        "price",
        "source",
        "default_variant_id",
    )
) | {"collections": [], "options": [], "images": [], "tags": []}


def build_product(store: Store, payload: Body, existing: Body | None) -> Body:
    body = base_body(store, "product", payload, existing, PRODUCT_DEFAULTS)
    if "channel" in payload:
        body["channel"] = store.channel(payload["channel"])
    body.setdefault("created_at", None)
    body["created_at"] = body["created_at"] or now()
    body["updated_at"] = payload.get("updated_at") or now()
    return body


def product_written(store: Store, body: Body) -> None:
    for collection in _collections_with(store, body["id"]):
        refresh_collection(store, collection["id"])
    for variant in store.where("variant", "parent_id = ?", [body["id"]]):
        refresh_variant(store, variant["id"])


def product_deleted(store: Store, body: Body) -> None:
    for variant in store.where("variant", "parent_id = ?", [body["id"]]):
        variant_deleted(store, variant)
        store.delete("variant", variant["id"])
    for collection in _collections_with(store, body["id"]):
        refresh_collection(store, collection["id"])


def variant_deleted(store: Store, body: Body) -> None:
    store.db.execute(
        "DELETE FROM commerce_records WHERE kind = 'inventory' AND parent_id = ?", [body["id"]]
    )


# --- customers, locations -----------------------------------------------------------------

CUSTOMER_DEFAULTS: Body = dict.fromkeys(
    ("external_id", "channel", "first_name", "last_name", "email", "phone")
) | {"tags": []}
LOCATION_DEFAULTS: Body = dict.fromkeys(("external_id", "channel", "name", "status", "address"))


def build_customer(store: Store, payload: Body, existing: Body | None) -> Body:
    return base_body(store, "customer", payload, existing, CUSTOMER_DEFAULTS)


def build_location(store: Store, payload: Body, existing: Body | None) -> Body:
    return base_body(store, "location", payload, existing, LOCATION_DEFAULTS)


def location_written(store: Store, body: Body) -> None:
    """Inventories and variants show the location's name: rewrite the ones at this location."""
    for inv in store.where("inventory", "json_extract(body, '$.location[0].id') = ?", [body["id"]]):
        inv["location"] = [summary(body, "name", "status", "address")]
        variant_id = inv["product_variant"][0]["id"]
        store.put("inventory", inv, parent_id=variant_id, key=f"{variant_id}:{body['id']}")
        refresh_variant(store, inv["product_variant"][0]["id"])


def location_deleted(store: Store, body: Body) -> None:
    for inv in store.where("inventory", "json_extract(body, '$.location[0].id') = ?", [body["id"]]):
        store.delete("inventory", inv["id"])
        refresh_variant(store, inv["product_variant"][0]["id"])


# --- collections --------------------------------------------------------------------------


def build_collection(store: Store, payload: Body, existing: Body | None) -> Body:
    previous = [p["id"] for p in (existing or {}).get("products") or []]
    body = base_body(
        store,
        "collection",
        payload,
        existing,
        {"external_id": None, "channel": None, "name": None, "products": []},
    )
    if "products" in payload:
        errors: Errors = {}
        products = [
            resolve(store, "product", ref, f"products.{i}", errors)
            for i, ref in enumerate(payload["products"] or [])
        ]
        if errors:
            raise unprocessable(errors)
        unique = {p["id"]: summary(p, "sku", "name") for p in products if p is not None}
        body["products"] = list(unique.values())
    body["_previous_products"] = previous
    return body


def collection_written(store: Store, body: Body) -> None:
    previous = body.pop("_previous_products", [])
    store.put("collection", body)
    for product_id in {*previous, *(p["id"] for p in body["products"])}:
        refresh_product(store, product_id)


def collection_deleted(store: Store, body: Body) -> None:
    for product in body.get("products") or []:
        refresh_product(store, product["id"])


PRODUCTS = Kind(
    "product", "products", build_product, {"barcode": "$.barcode"}, product_written, product_deleted
)
CUSTOMERS = Kind("customer", "customers", build_customer, {"email": "$.email"})
LOCATIONS = Kind("location", "locations", build_location, {}, location_written, location_deleted)
COLLECTIONS = Kind(
    "collection", "collections", build_collection, {}, collection_written, collection_deleted
)


def collection_product_routes(sb: Sandbox) -> list[BaseRoute]:
    """POST / DELETE /collections/{cid}/products/{pid}: attach or detach one product."""

    @endpoint
    async def attach(request: Request) -> Response:
        cid = path_id(request, "cid", "Collection")
        pid = path_id(request, "pid", "Product")
        with sb.transaction() as db:
            store = Store(sb, db)
            collection, product = store.get("collection", cid), store.get("product", pid)
            if collection is None or product is None:
                raise not_found("Collection" if collection is None else "Product")
            ids = [p["id"] for p in collection["products"]]
            if request.method == "POST" and pid not in ids:
                collection["products"].append(summary(product, "sku", "name"))
            elif request.method == "DELETE":
                collection["products"] = [p for p in collection["products"] if p["id"] != pid]
            store.put("collection", collection)
            refresh_product(store, pid)
            body = store.get("collection", cid)
        return loop_json(request, {"collection": body})

    return [Route("/collections/{cid}/products/{pid}", attach, methods=["POST", "DELETE"])]


# --- the generic handlers -----------------------------------------------------------------


def save(
    sb: Sandbox,
    kind: Kind,
    payload: Body,
    target: Callable[[Store], Body | None],
    *,
    create_only: bool = False,
    partial: bool = False,
) -> Body:
    """Validate, build and store one record inside one transaction; the stored body."""
    validate(kind.kind, payload, partial=partial)
    with sb.transaction() as db:
        store = Store(sb, db)
        existing = target(store)
        external = payload.get("external_id")
        if external is not None:
            owner = store.by_external(kind.kind, str(external))
            if owner is not None and (create_only or (existing and owner["id"] != existing["id"])):
                raise field_error("external_id", "The external_id has already been taken.")
        body = kind.build(store, payload, existing)
        store.put(kind.kind, {k: v for k, v in body.items() if not k.startswith("_")})
        kind.after_write(store, body)
        stored = store.get(kind.kind, body["id"])
    assert stored is not None
    return stored


def resource_routes(sb: Sandbox, kind: Kind) -> list[BaseRoute]:
    plural = kind.plural

    def find(request: Request, store: Store) -> Body:
        if "external_id" in request.path_params:
            found = store.by_external(kind.kind, request.path_params["external_id"])
        else:
            found = store.get(kind.kind, path_id(request, "id", kind.what))
        if found is None:
            raise not_found(kind.what)
        return found

    @endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            where, params = list_filters(request, kind.filters)
            with sb.transaction() as db:
                page = list_page(request, Store(sb, db), kind.kind, plural, where, params)
            return loop_json(request, page)
        payload = await read_payload(request)
        if request.method == "POST":
            body = save(sb, kind, payload, lambda store: None, create_only=True)
            return loop_json(request, {kind.kind: body}, 201)
        external = payload.get("external_id")
        body = save(
            sb,
            kind,
            payload,
            lambda store: None if external is None else store.by_external(kind.kind, str(external)),
        )
        return loop_json(request, {kind.kind: body})

    @endpoint
    async def one(request: Request) -> Response:
        if request.method == "PUT":
            payload = await read_payload(request)
            body = save(sb, kind, payload, lambda store: find(request, store), partial=True)
            return loop_json(request, {kind.kind: body})
        with sb.transaction() as db:
            store = Store(sb, db)
            found = find(request, store)
            if request.method == "DELETE":
                store.delete(kind.kind, found["id"])
                kind.after_delete(store, found)
                return loop_json(request, {"id": found["id"], "success": True})
        return loop_json(request, {kind.kind: found})

    return [
        Route(f"/{plural}", collection, methods=["GET", "POST", "PUT"]),
        Route(f"/{plural}/external/{{external_id}}", one, methods=["GET", "DELETE"]),
        Route(f"/{plural}/{{id}}", one, methods=["GET", "PUT", "DELETE"]),
    ]
