"""The generic Commerce Data resource (create, list, get, update, upsert, delete, by id and by
external id) and the four plain kinds built on it: products, customers, locations, collections.

Names, paths, wrappers and list keys come from `engine.loop.kinds`; a `Kind` here adds only
what emulating the kind needs: how a payload becomes a stored body, the list filters, and what
a write or delete changes on other kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.loop.kinds import KINDS as LOOP_KINDS
from engine.loop.kinds import Kind as LoopKind
from engine.sandbox.commerce import common, paging
from engine.sandbox.commerce.common import Body, Errors, Handler, Store
from engine.sandbox.core import Sandbox, loop_json

Build = Callable[[Store, Body, Body | None], Body]
Hook = Callable[[Store, Body], None]


def _noop(store: Store, body: Body) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """How the sandbox emulates one plain Loop kind (`loop`: its row in engine.loop.kinds)."""

    loop: LoopKind
    build: Build
    filters: dict[str, str] = field(default_factory=dict)  # query name -> JSON path
    after_write: Hook = _noop
    after_delete: Hook = _noop

    @property
    def name(self) -> str:
        return self.loop.name

    @property
    def what(self) -> str:
        return self.loop.name.capitalize()


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
    body = common.base_body(store, "product", payload, existing, PRODUCT_DEFAULTS)
    if "channel" in payload:
        body["channel"] = store.channel(payload["channel"])
    body.setdefault("created_at", None)
    body["created_at"] = body["created_at"] or common.now()
    body["updated_at"] = payload.get("updated_at") or common.now()
    return body


def product_written(store: Store, body: Body) -> None:
    for collection in common.collections_with(store, body["id"]):
        common.refresh_collection(store, collection["id"])
    for variant in store.children("variant", body["id"]):
        common.refresh_variant(store, variant["id"])


def product_deleted(store: Store, body: Body) -> None:
    for variant in store.children("variant", body["id"]):
        common.variant_deleted(store, variant)
        store.delete("variant", variant["id"])
    for collection in common.collections_with(store, body["id"]):
        common.refresh_collection(store, collection["id"])


# --- customers, locations -----------------------------------------------------------------

LOCATION_DEFAULTS: Body = dict.fromkeys(("external_id", "channel", "name", "status", "address"))


def build_customer(store: Store, payload: Body, existing: Body | None) -> Body:
    return common.base_body(store, "customer", payload, existing, common.CUSTOMER_DEFAULTS)


def build_location(store: Store, payload: Body, existing: Body | None) -> Body:
    return common.base_body(store, "location", payload, existing, LOCATION_DEFAULTS)


def location_written(store: Store, body: Body) -> None:
    """Inventories and variants show the location's name: rewrite the ones at this location."""
    for inv in store.where("inventory", "json_extract(body, '$.location[0].id') = ?", [body["id"]]):
        inv["location"] = [common.summary(body, "name", "status", "address")]
        variant_id = inv["product_variant"][0]["id"]
        store.put("inventory", inv, parent_id=variant_id, key=f"{variant_id}:{body['id']}")
        common.refresh_variant(store, inv["product_variant"][0]["id"])


def location_deleted(store: Store, body: Body) -> None:
    for inv in store.where("inventory", "json_extract(body, '$.location[0].id') = ?", [body["id"]]):
        store.delete("inventory", inv["id"])
        common.refresh_variant(store, inv["product_variant"][0]["id"])


# --- collections --------------------------------------------------------------------------


def build_collection(store: Store, payload: Body, existing: Body | None) -> Body:
    previous = [p["id"] for p in (existing or {}).get("products") or []]
    body = common.base_body(
        store,
        "collection",
        payload,
        existing,
        {"external_id": None, "channel": None, "name": None, "products": []},
    )
    if "products" in payload:
        errors: Errors = {}
        products = [
            common.resolve(store, "product", ref, f"products.{i}", errors)
            for i, ref in enumerate(payload["products"] or [])
        ]
        if errors:
            raise common.unprocessable(errors)
        unique = {p["id"]: common.summary(p, "sku", "name") for p in products if p is not None}
        body["products"] = list(unique.values())
    body["_previous_products"] = previous
    return body


def collection_written(store: Store, body: Body) -> None:
    previous = body.pop("_previous_products", [])
    store.put("collection", body)
    for product_id in {*previous, *(p["id"] for p in body["products"])}:
        common.refresh_product(store, product_id)


def collection_deleted(store: Store, body: Body) -> None:
    for product in body.get("products") or []:
        common.refresh_product(store, product["id"])


_LOOP = LOOP_KINDS
PRODUCTS = Kind(
    _LOOP["product"], build_product, {"barcode": "$.barcode"}, product_written, product_deleted
)
CUSTOMERS = Kind(_LOOP["customer"], build_customer, {"email": "$.email"})
LOCATIONS = Kind(_LOOP["location"], build_location, {}, location_written, location_deleted)
COLLECTIONS = Kind(
    _LOOP["collection"], build_collection, {}, collection_written, collection_deleted
)
# The kinds served by the generic handlers below (variants, inventories and orders have their own).
PLAIN_KINDS = (PRODUCTS, CUSTOMERS, LOCATIONS, COLLECTIONS)


def collection_product_routes(sb: Sandbox) -> list[BaseRoute]:
    """POST / DELETE /collections/{cid}/products/{pid}: attach or detach one product."""

    @common.endpoint
    async def attach(request: Request) -> Response:
        cid = common.path_id(request, "cid", "Collection")
        pid = common.path_id(request, "pid", "Product")
        with sb.transaction() as db:
            store = Store(sb, db)
            collection, product = store.get("collection", cid), store.get("product", pid)
            if collection is None or product is None:
                raise common.not_found("Collection" if collection is None else "Product")
            ids = [p["id"] for p in collection["products"]]
            if request.method == "POST" and pid not in ids:
                collection["products"].append(common.summary(product, "sku", "name"))
            elif request.method == "DELETE":
                collection["products"] = [p for p in collection["products"] if p["id"] != pid]
            store.put("collection", collection)
            common.refresh_product(store, pid)
            body = store.get("collection", cid)
        return loop_json(request, {COLLECTIONS.loop.wrapper: body})

    path = f"{COLLECTIONS.loop.path}/{{cid}}{PRODUCTS.loop.path}/{{pid}}"
    return [Route(path, attach, methods=["POST", "DELETE"])]


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
    common.validate(kind.loop.schema, payload, partial=partial)
    with sb.transaction() as db:
        store = Store(sb, db)
        existing = target(store)
        external = payload.get("external_id")
        if external is not None:
            owner = store.by_external(kind.name, str(external))
            if owner is not None and (create_only or (existing and owner["id"] != existing["id"])):
                raise common.field_error("external_id", "The external_id has already been taken.")
        body = kind.build(store, payload, existing)
        store.put(kind.name, {k: v for k, v in body.items() if not k.startswith("_")})
        kind.after_write(store, body)
        stored = store.get(kind.name, body["id"])
    assert stored is not None
    return stored


def _find(request: Request, store: Store, kind: Kind) -> Body:
    if "external_id" in request.path_params:
        found = store.by_external(kind.name, request.path_params["external_id"])
    else:
        found = store.get(kind.name, common.path_id(request, "id", kind.what))
    if found is None:
        raise common.not_found(kind.what)
    return found


def _page(sb: Sandbox, request: Request, kind: Kind) -> Body:
    where, params = paging.list_filters(request, kind.filters)
    with sb.transaction() as db:
        store = Store(sb, db)
        return paging.list_page(request, store, kind.name, kind.loop.list_key, where, params)


def resource_routes(sb: Sandbox, kind: Kind) -> list[BaseRoute]:
    """The collection (list, create, upsert) and one record (by id or external id) of a kind."""
    collection, one = _collection_endpoint(sb, kind), _record_endpoint(sb, kind)
    path = kind.loop.path
    return [
        Route(path, collection, methods=["GET", "POST", "PUT"]),
        Route(f"{path}/external/{{external_id}}", one, methods=["GET", "DELETE"]),
        Route(f"{path}/{{id}}", one, methods=["GET", "PUT", "DELETE"]),
    ]


def _collection_endpoint(sb: Sandbox, kind: Kind) -> Handler:
    wrapper = kind.loop.wrapper

    @common.endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            return loop_json(request, _page(sb, request, kind))
        payload = await common.read_payload(request)
        if request.method == "POST":
            body = save(sb, kind, payload, lambda store: None, create_only=True)
            return loop_json(request, {wrapper: body}, 201)
        external = payload.get("external_id")
        body = save(
            sb,
            kind,
            payload,
            lambda store: None if external is None else store.by_external(kind.name, str(external)),
        )
        return loop_json(request, {wrapper: body})

    return collection


def _record_endpoint(sb: Sandbox, kind: Kind) -> Handler:
    wrapper = kind.loop.wrapper

    @common.endpoint
    async def one(request: Request) -> Response:
        if request.method == "PUT":
            payload = await common.read_payload(request)
            body = save(sb, kind, payload, lambda store: _find(request, store, kind), partial=True)
            return loop_json(request, {wrapper: body})
        with sb.transaction() as db:
            store = Store(sb, db)
            found = _find(request, store, kind)
            if request.method == "DELETE":
                store.delete(kind.name, found["id"])
                kind.after_delete(store, found)
                return loop_json(request, {"id": found["id"], "success": True})
        return loop_json(request, {wrapper: found})

    return one
