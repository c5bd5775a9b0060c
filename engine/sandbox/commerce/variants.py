"""Product variants (under their product) and inventories (keyed by variant and location)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.loop.kinds import KINDS
from engine.sandbox.commerce import common, paging
from engine.sandbox.commerce.common import Body, Errors, Store
from engine.sandbox.core import Sandbox, loop_json

VARIANT, INVENTORY = KINDS["variant"], KINDS["inventory"]
VARIANT_DEFAULTS: Body = dict.fromkeys(
    (
        "external_id",
        "sku",
        "name",
        "weight_grams",
        "barcode",
        "price",
        "taxable",
        "dimensions",
        "logistics_information",
    )
) | {"images": [], "options": [], "inventories": []}


def check_options(product: Body, options: list[Body]) -> None:
    """A variant's option value must be one of the product's values at that position
    (exactly, case included): exchange matching in Loop relies on it."""
    axes = {o.get("position"): o.get("values") or [] for o in product.get("options") or []}
    errors: Errors = {}
    for i, option in enumerate(options):
        if option.get("value") not in axes.get(option.get("position"), []):
            errors[f"options.{i}.value"] = [
                f"The options.{i}.value must be one of the product's option values at "
                f"position {option.get('position')}."
            ]
    if errors:
        raise common.unprocessable(errors)


def save_variant(
    sb: Sandbox, request: Request, payload: Body, *, mode: str, variant_id: int | None = None
) -> Body:
    """mode: create (duplicate external_id is 422), upsert (by external_id) or update."""
    common.validate(VARIANT.schema, payload, partial=mode == "update")
    with sb.transaction() as db:
        store = Store(sb, db)
        product = _parent(request, store)
        existing = store.get("variant", variant_id) if variant_id is not None else None
        if mode == "update" and (existing is None or existing["product"]["id"] != product["id"]):
            raise common.not_found("Product variant")
        external = payload.get("external_id")
        owner = None if external is None else store.by_external("variant", external, product["id"])
        if owner is not None and mode == "create":
            raise common.field_error("external_id", "The external_id has already been taken.")
        if mode == "upsert":
            existing = owner
        elif owner is not None and existing is not None and owner["id"] != existing["id"]:
            raise common.field_error("external_id", "The external_id has already been taken.")
        check_options(product, payload.get("options") or [])
        body = common.base_body(store, "variant", payload, existing, VARIANT_DEFAULTS)
        body["product"] = common.summary(product, "sku", "name")
        store.put("variant", body, parent_id=product["id"])
        common.refresh_variant(store, body["id"])
        common.refresh_product(store, product["id"])
        stored = store.get("variant", body["id"])
    assert stored is not None
    return stored


def _parent(request: Request, store: Store) -> Body:
    if "product_external_id" in request.path_params:
        product = store.by_external("product", request.path_params["product_external_id"])
    else:
        product = store.get("product", common.path_id(request, "pid", "Product"))
    if product is None:
        raise common.not_found("Product")
    return product


def variant_routes(sb: Sandbox) -> list[BaseRoute]:
    @common.endpoint
    async def variants(request: Request) -> Response:
        if request.method == "GET":
            return loop_json(request, _list_variants(sb, request))
        payload = await common.read_payload(request)
        mode = "create" if request.method == "POST" else "upsert"
        body = save_variant(sb, request, payload, mode=mode)
        return loop_json(request, {VARIANT.wrapper: body}, 201 if mode == "create" else 200)

    @common.endpoint
    async def variant(request: Request) -> Response:
        vid = common.path_id(request, "vid", "Product variant")
        if request.method == "PATCH":
            payload = await common.read_payload(request)
            body = save_variant(sb, request, payload, mode="update", variant_id=vid)
            return loop_json(request, {VARIANT.wrapper: body})
        with sb.transaction() as db:
            store = Store(sb, db)
            product = _parent(request, store)
            found = store.get("variant", vid)
            if found is None or found["product"]["id"] != product["id"]:
                raise common.not_found("Product variant")
            if request.method == "DELETE":
                common.variant_deleted(store, found)
                store.delete("variant", vid)
                common.refresh_product(store, product["id"])
                return loop_json(request, {"id": vid, "success": True})
        return loop_json(request, {VARIANT.wrapper: found})

    under_external = VARIANT.child_path("external/{product_external_id}")
    under_id = VARIANT.child_path("{pid}")
    return [
        Route(under_external, variants, methods=["PUT"]),
        Route(under_id, variants, methods=["GET", "POST", "PUT"]),
        Route(f"{under_id}/{{vid}}", variant, methods=["GET", "PATCH", "DELETE"]),
    ]


def _list_variants(sb: Sandbox, request: Request) -> Body:
    where, params = paging.list_filters(request, {"barcode": "$.barcode", "sku": "$.sku"})
    ids = [
        common.as_id(part)
        for value in request.query_params.getlist("ids") + request.query_params.getlist("ids[]")
        for part in value.split(",")
        if part
    ]
    if ids:
        where.append(f"id IN ({', '.join('?' * len(ids))})")
        params.extend(i or 0 for i in ids)
    with sb.transaction() as db:
        store = Store(sb, db)
        product = _parent(request, store)
        return paging.list_page(
            request,
            store,
            "variant",
            VARIANT.list_key,
            ["parent_id = ?", *where],
            [product["id"], *params],
        )


# --- inventories --------------------------------------------------------------------------


def inventory_key(variant: Body, location: Body) -> str:
    """Inventories have no external_id; this key (kept in that column) finds them by pair."""
    return f"{variant['id']}:{location['id']}"


def _inventory_keys(request: Request, store: Store) -> tuple[Body, Body, Body | None]:
    variant = store.get("variant", common.path_id(request, "vid", "Product variant"))
    location = store.get("location", common.path_id(request, "lid", "Location"))
    if variant is None or location is None:
        raise common.not_found("Product variant" if variant is None else "Location")
    found = store.by_external("inventory", inventory_key(variant, location))
    return variant, location, found


def save_inventory(sb: Sandbox, request: Request, payload: Body) -> Body:
    common.validate(INVENTORY.schema, payload)
    with sb.transaction() as db:
        store = Store(sb, db)
        variant, location, found = _inventory_keys(request, store)
        if found is not None and request.method == "POST":
            raise common.field_error(
                "product_variant_id", "An inventory for this variant and location already exists."
            )
        body = {
            "id": found["id"] if found else store.new_ids(1)[0],
            "available_count": payload["available_count"],
            "product_variant": [common.summary(variant, "sku", "name", "weight_grams", "barcode")],
            "location": [common.summary(location, "name", "status", "address")],
        }
        store.put("inventory", body, parent_id=variant["id"], key=inventory_key(variant, location))
        common.refresh_variant(store, variant["id"])
    return body


def _list_inventories(sb: Sandbox, request: Request) -> Body:
    where, params = [], []
    for name, sql in (
        ("product_variant_id", "parent_id = ?"),
        ("location_id", "json_extract(body, '$.location[0].id') = ?"),
    ):
        if name in request.query_params:
            value = common.as_id(request.query_params[name])
            if value is None:
                raise common.field_error(name, f"The {name} must be a Loop id.")
            where.append(sql)
            params.append(value)
    with sb.transaction() as db:
        store = Store(sb, db)
        return paging.list_page(request, store, "inventory", INVENTORY.list_key, where, params)


def inventory_routes(sb: Sandbox) -> list[BaseRoute]:
    @common.endpoint
    async def listing(request: Request) -> Response:
        return loop_json(request, _list_inventories(sb, request))

    @common.endpoint
    async def one(request: Request) -> Response:
        if request.method in ("POST", "PUT"):
            body = save_inventory(sb, request, await common.read_payload(request))
            return loop_json(request, body, 201 if request.method == "POST" else 200)
        with sb.transaction() as db:
            store = Store(sb, db)
            variant, location, found = _inventory_keys(request, store)
            if found is None:
                raise common.ApiError(
                    404, {"errors": {"code": "NOT_FOUND", "message": "Inventory not found."}}
                )
            if request.method == "DELETE":
                store.delete("inventory", found["id"])
                common.refresh_variant(store, variant["id"])
                return loop_json(
                    request,
                    {
                        "product_variant_id": variant["id"],
                        "location_id": location["id"],
                        "success": True,
                    },
                )
        return loop_json(request, found)

    return [
        Route(INVENTORY.path, listing, methods=["GET"]),
        Route(f"{INVENTORY.path}/{{vid}}/{{lid}}", one, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
