"""Orders: create (POST), upsert by external_id (PUT /orders), get / update / delete by id and
by external id; line ids stable across upserts; refunds write-once per external_id.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.loop.kinds import KINDS
from engine.sandbox.commerce import common, paging
from engine.sandbox.commerce.common import Body, Errors, Store
from engine.sandbox.core import Sandbox, loop_json

ORDER = KINDS["order"]
PROFILE = ("first_name", "last_name", "email", "phone")
# created_at became required in 2026-10; older versions (and the v1 alias) accept it missing.
OPTIONAL_BY_VERSION = {"2026-07": frozenset({"created_at"}), "v1": frozenset({"created_at"})}
ORDER_DEFAULTS: Body = dict.fromkeys(
    (
        "external_id",
        "name",
        "secondary_identifier",
        "source",
        "channel",
        "customer",
        "shipping_address",
        "billing_address",
        "taxes_included",
        "total_price",
        "total_discounts",
        "total_taxes",
        "total_shipping",
        "created_at",
        "updated_at",
    )
) | {
    "status": "unknown",
    "order_discounts": [],
    "shipping_lines": [],
    "tags": [],
    "line_items": [],
    "fulfillments": [],
    "refunds": [],
}


def order_customer(store: Store, ref: Body, errors: Errors) -> Body | None:
    """The order's customer. By id it must exist. By external_id it must exist, unless all four
    profile fields ride along: then it is created (or, when it exists, its profile updated).
    Some but not all of them is refused before this, by the order schema the engine validates
    with too (loop-api.md §2.2: "An inline upsert needs all four profile fields" [3P])."""
    if ref.get("id") is not None or ref.get("external_id") is None:
        found = common.resolve(store, "customer", ref, "customer", errors)
    else:
        found = store.by_external("customer", ref["external_id"])
        given = {k: ref[k] for k in PROFILE if k in ref}
        if found is None and len(given) < len(PROFILE):
            errors["customer.external_id"] = [
                "The selected customer.external_id is invalid: no such customer, and creating "
                "one inline needs first_name, last_name, email and phone."
            ]
            return None
        if found is None:
            found = {
                "id": store.new_ids(1)[0],
                **common.CUSTOMER_DEFAULTS,
                "external_id": ref["external_id"],
            }
        if given:
            found.update(given)
            store.put("customer", found)
    return None if found is None else common.summary(found, *PROFILE)


def order_lines(
    store: Store, lines: list[Body], existing: Body | None, update: bool, errors: Errors
) -> list[Body]:
    """Lines with Loop ids: a line keeps its id across upserts, matched by external_id (or
    named by id on update); references to products and variants must resolve."""
    old = (existing or {}).get("line_items") or []
    by_external = {li["external_id"]: li["id"] for li in old if li.get("external_id")}
    old_ids = {li["id"] for li in old}
    fresh = iter(store.new_ids(len(lines)))
    out = []
    for i, line in enumerate(lines):
        at = f"line_items.{i}"
        line_id = next(fresh)
        if update and line.get("id") is None and line.get("external_id") is None:
            errors[at] = [f"The {at} must be identified by id or external_id."]
        if line.get("id") is not None:
            line_id = common.as_id(line["id"]) or 0
            if line_id not in old_ids:
                errors[f"{at}.id"] = [f"The selected {at}.id is invalid."]
        elif line.get("external_id") in by_external:
            line_id = by_external[line["external_id"]]
        product = common.resolve(store, "product", line.get("product"), f"{at}.product", errors)
        variant = None
        if line.get("product_variant") is not None:
            variant = common.resolve(
                store, "variant", line["product_variant"], f"{at}.product_variant", errors
            )
        if product and variant and variant["product"]["id"] != product["id"]:
            errors[f"{at}.product_variant"] = [
                f"The {at}.product_variant is not a variant of {at}.product."
            ]
        body = {**line, "id": line_id}
        body["product"] = common.summary(product) if product else line.get("product")
        if variant:
            body["product_variant"] = common.summary(variant)
        out.append(body)
    return out


def order_fulfillments(
    store: Store, items: list[Body], existing: Body | None, line_externals: set[str], errors: Errors
) -> list[Body]:
    old = {
        f["external_id"]: f["id"]
        for f in (existing or {}).get("fulfillments") or []
        if f.get("external_id")
    }
    fresh = iter(store.new_ids(len(items)))
    out = []
    for i, item in enumerate(items):
        at = f"fulfillments.{i}"
        body = {**item, "id": old.get(item.get("external_id") or "", next(fresh))}
        if item.get("location") is not None:
            location = common.resolve(store, "location", item["location"], f"{at}.location", errors)
            body["location"] = common.summary(location, "name") if location else item["location"]
        for j, fli in enumerate(item.get("fulfillment_line_items") or []):
            ref = fli.get("order_line_item_external_id")
            if ref is not None and ref not in line_externals:
                key = f"{at}.fulfillment_line_items.{j}.order_line_item_external_id"
                errors[key] = [f"The selected {key} is not a line of this order."]
        out.append(body)
    return out


def order_refunds(
    store: Store, refunds: list[Body], existing: Body | None, line_ids: set[int], errors: Errors
) -> list[Body]:
    """Write-once: a known external_id is ignored (even when changed), a new one or a null
    external_id appends, and refunds not sent are kept."""
    kept = list((existing or {}).get("refunds") or [])
    known = {r["external_id"] for r in kept if r.get("external_id") is not None}
    for i, refund in enumerate(refunds):
        external = refund.get("external_id")
        if external is not None and external in known:
            continue
        line = refund.get("line_item")
        if line is not None and common.as_id(line.get("id")) not in line_ids:
            errors[f"refunds.{i}.line_item.id"] = [
                f"The selected refunds.{i}.line_item.id is not a line of this order."
            ]
        if line is not None:
            refund = {**refund, "line_item": {**line, "id": common.as_id(line.get("id"))}}
        kept.append({**refund, "id": store.new_ids(1)[0]})
        if external is not None:
            known.add(external)
    return kept


def build_order(store: Store, payload: Body, existing: Body | None, update: bool) -> Body:
    errors: Errors = {}
    body = dict(existing) if existing else {"id": store.new_ids(1)[0], **ORDER_DEFAULTS}
    body.update({k: v for k, v in payload.items() if k not in ("id", "sales_channel")})
    channel = payload.get("sales_channel", payload.get("channel"))
    if channel is not None or existing is None:
        body["channel"] = store.channel(channel)
    if payload.get("customer") is not None:
        body["customer"] = order_customer(store, payload["customer"], errors)
    if "line_items" in payload:
        body["line_items"] = order_lines(store, payload["line_items"], existing, update, errors)
    line_externals = {li["external_id"] for li in body["line_items"] if li.get("external_id")}
    if "fulfillments" in payload:
        body["fulfillments"] = order_fulfillments(
            store, payload["fulfillments"], existing, line_externals, errors
        )
    line_ids = {li["id"] for li in body["line_items"]}
    body["refunds"] = order_refunds(store, payload.get("refunds") or [], existing, line_ids, errors)
    if errors:
        raise common.unprocessable(errors)
    body["created_at"] = body.get("created_at") or common.now()
    body["updated_at"] = payload.get("updated_at") or common.now()
    return body


def save_order(sb: Sandbox, request: Request, payload: Body, mode: str) -> Body:
    """mode: create (duplicate external_id is 422), upsert (by external_id) or update (by id)."""
    optional = OPTIONAL_BY_VERSION.get(request.path_params.get("version", ""), frozenset())
    common.validate(ORDER.schema, payload, partial=mode == "update", optional=optional)
    with sb.transaction() as db:
        store = Store(sb, db)
        external = payload.get("external_id")
        owner = None if external is None else store.by_external("order", external)
        existing = owner if mode == "upsert" else None
        if mode == "create" and owner is not None:
            raise common.field_error("external_id", "The external_id has already been taken.")
        if mode == "update":
            existing = store.get("order", common.path_id(request, "id", "Order"))
            if existing is None:
                raise common.not_found("Order")
            if owner is not None and owner["id"] != existing["id"]:
                raise common.field_error("external_id", "The external_id has already been taken.")
        body = build_order(store, payload, existing, update=mode == "update")
        store.put("order", body)
    return body


def order_routes(sb: Sandbox) -> list[BaseRoute]:
    @common.endpoint
    async def orders(request: Request) -> Response:
        if request.method == "GET":
            where, params = paging.list_filters(request, {"name": "$.name", "status": "$.status"})
            with sb.transaction() as db:
                store = Store(sb, db)
                page = paging.list_page(request, store, "order", ORDER.list_key, where, params)
            return loop_json(request, page)
        mode = "create" if request.method == "POST" else "upsert"
        body = save_order(sb, request, await common.read_payload(request), mode)
        return loop_json(request, {ORDER.wrapper: body}, 201 if mode == "create" else 200)

    @common.endpoint
    async def order(request: Request) -> Response:
        if request.method == "PUT":
            body = save_order(sb, request, await common.read_payload(request), "update")
            return loop_json(request, {ORDER.wrapper: body})
        with sb.transaction() as db:
            store = Store(sb, db)
            if "external_id" in request.path_params:
                found = store.by_external("order", request.path_params["external_id"])
            else:
                found = store.get("order", common.path_id(request, "id", "Order"))
            if found is None:
                raise common.not_found("Order")
            if request.method == "DELETE":
                store.delete("order", found["id"])
                return loop_json(request, {"id": found["id"], "success": True})
        return loop_json(request, {ORDER.wrapper: found})

    return [
        Route(ORDER.path, orders, methods=["GET", "POST", "PUT"]),
        Route(f"{ORDER.path}/external/{{external_id}}", order, methods=["GET", "DELETE"]),
        Route(f"{ORDER.path}/{{id}}", order, methods=["GET", "PUT", "DELETE"]),
    ]
