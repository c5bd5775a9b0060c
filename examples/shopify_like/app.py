"""The HTTP face of the shopify-like demo: Shopify REST Admin API paths, auth, Link pagination.

Reads: `GET /admin/api/<version>/<resource>.json` (+ `/count.json`, `/<id>.json`); writes:
refunds, orders and gift cards (both honouring `Idempotency-Key`), inventory levels; demo admin
under `/_demo/` (no auth).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.common import iso
from examples.shopify_like import admin, ids
from examples.shopify_like import gift_cards as gc
from examples.shopify_like import writes as w
from examples.shopify_like.idempotency import HEADER as IDEMPOTENCY_HEADER
from examples.shopify_like.idempotency import idempotent
from examples.shopify_like.query import QueryError, parse_filter, parse_limit
from examples.shopify_like.store import Filter, Store
from examples.shopify_like.webhooks import Webhooks, webhook_routes

try:  # orjson is optional: several times faster on big pages; json is the fallback.
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - depends on the environment

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


API = "/admin/api/{version}"
TOKEN_HEADER = "X-Shopify-Access-Token"
UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
SINGULAR = {"products": "product", "customers": "customer", "orders": "order",
            "locations": "location", "custom_collections": "custom_collection",
            "collects": "collect", "inventory_levels": "inventory_level"}  # fmt: skip
Handler = Callable[[Request], Awaitable[Response]]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(value), status, headers, media_type="application/json; charset=utf-8")


def _encode_cursor(filt: Filter, pos: int, direction: str) -> str:
    raw = json.dumps({"f": filt.to_dict(), "p": pos, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[Filter, int, bool]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return Filter(**raw["f"]), int(raw["p"]), raw["d"] == "next"
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise QueryError(400, {"page_info": "Invalid value."}) from exc


class ShopApp:
    """Request handlers bound to one store and one accepted token."""

    def __init__(self, store: Store, token: str) -> None:
        self.store, self.token = store, token

    def guard(self, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            if request.headers.get(TOKEN_HEADER) != self.token:
                return json_response(UNAUTHORIZED, 401)
            try:
                return await handler(request)
            except (QueryError, w.WriteError) as exc:
                return json_response({"errors": exc.errors}, exc.status)

        return checked

    async def list_records(self, request: Request) -> Response:
        resource = request.path_params["resource"]
        if resource not in SINGULAR:
            return json_response({"errors": "Not Found"}, 404)
        query = request.query_params
        limit = parse_limit(query.get("limit"))
        if "page_info" in query:
            others = sorted(set(query.keys()) - {"page_info", "limit", "fields"})
            if others:
                raise QueryError(
                    400,
                    {
                        "page_info": f"cannot be combined with {', '.join(others)}"
                        " (only limit and fields may accompany it)"
                    },
                )
            filt, pos, forward = _decode_cursor(query["page_info"])
        else:
            filt, pos, forward = parse_filter(resource, query), 0, True
        with self.store.lock:
            found = list(islice(self.store.scan(resource, filt, pos, forward), limit + 1))
            more, found = len(found) > limit, found[:limit]
            if not forward:
                found.reverse()
            records = [self.store.get(resource, p) for p in found]
        body = _dumps({resource: _select(records, query.get("fields"))})
        links = self._links(request, filt, found, more, forward, "page_info" in query, limit)
        headers = {"Link": links} if links else {}
        headers["X-Shopify-Shop-Api-Call-Limit"] = "1/40"
        return Response(body, 200, headers, media_type="application/json; charset=utf-8")

    @staticmethod
    def _links(request: Request, filt: Filter, found: list[int], more: bool, forward: bool,
               via_cursor: bool, limit: int) -> str:  # fmt: skip
        if not found:
            return ""
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        fields = request.query_params.get("fields")
        suffix = f"&limit={limit}" + (f"&fields={fields}" if fields else "")
        has_prev = via_cursor if forward else more
        has_next = more if forward else True
        parts = []
        if has_prev:
            parts.append(
                f'<{base}?page_info={_encode_cursor(filt, found[0], "prev")}{suffix}>; rel="previous"'
            )
        if has_next:
            parts.append(
                f'<{base}?page_info={_encode_cursor(filt, found[-1] + 1, "next")}{suffix}>; rel="next"'
            )
        return ", ".join(parts)

    async def count(self, request: Request) -> Response:
        resource = request.path_params["resource"]
        if resource not in SINGULAR:
            return json_response({"errors": "Not Found"}, 404)
        filt = parse_filter(resource, request.query_params)
        return json_response({"count": self.store.count(resource, filt)})

    async def show(self, request: Request) -> Response:
        resource, record_id = request.path_params["resource"], request.path_params["id"]
        if resource == "variants":
            return self._variant(record_id)
        if resource not in SINGULAR or resource == "inventory_levels":
            return json_response({"errors": "Not Found"}, 404)
        with self.store.lock:
            record = self.store.find(resource, record_id)
        if record is None:
            return json_response({"errors": "Not Found"}, 404)
        return json_response(
            {SINGULAR[resource]: _select([record], request.query_params.get("fields"))[0]}
        )

    def _variant(self, variant_id: int) -> Response:
        product_pos, k = divmod(variant_id - ids.VARIANT, ids.MAX_VARIANTS)
        with self.store.lock:
            product = (
                self.store.find("products", ids.PRODUCT + product_pos) if product_pos >= 0 else None
            )
        if product is None or k >= len(product["variants"]):
            return json_response({"errors": "Not Found"}, 404)
        return json_response({"variant": product["variants"][k]})

    async def refunds(self, request: Request) -> Response:
        with self.store.lock:
            order = self.store.find("orders", request.path_params["id"])
        if order is None:
            return json_response({"errors": "Not Found"}, 404)
        return json_response({"refunds": order["refunds"]})

    async def calculate(self, request: Request) -> Response:
        body = await _json(request)
        return json_response(
            {"refund": w.calculate_refund(self.store, request.path_params["id"], body)}
        )

    def recorded(
        self, key: str, action: Callable[[Request, Any], Any], status: int = 201
    ) -> Handler:
        """A write endpoint: runs `action`, answers `{key: result}` and records the write."""

        async def write(request: Request) -> Response:
            body = await _json(request)
            try:
                result = action(request, body)
                code, payload = status, {key: result}
            except w.WriteError as exc:
                code, payload = exc.status, {"errors": exc.errors}
            self._record(request, body, code, payload)
            return json_response(payload, code)

        return write

    def _record(
        self, request: Request, body: Any, status: int, payload: Any, replayed: bool = False
    ) -> None:
        with self.store.lock:
            result = next(iter(payload.values()), None) if isinstance(payload, dict) else None
            self.store.writes.append({
                "seq": len(self.store.writes) + 1, "received_at": iso(self.store.now()),
                "method": request.method, "path": request.url.path, "body": body,
                "status": status, "result_id": result.get("id") if isinstance(result, dict) else None,
                "response": payload,
                "idempotency_key": request.headers.get(IDEMPOTENCY_HEADER), "replayed": replayed,
            })  # fmt: skip


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise w.WriteError(400, {"body": "is not valid JSON"}) from exc


def _select(records: list[dict[str, Any]], fields: str | None) -> list[dict[str, Any]]:
    if not fields:
        return records
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    return [{k: r[k] for k in wanted if k in r} for r in records]


class AnswerDelay:
    """The `answer_delay` fault: a POST to a path ending as configured runs (and is recorded) at
    once, and its answer leaves late."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app, self.store = app, store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self._take(scope) if scope["type"] == "http" else 0.0
        if not delay:
            await self.app(scope, receive, send)
            return

        async def late(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(delay)
            await send(message)

        await self.app(scope, receive, late)

    def _take(self, scope: Scope) -> float:
        if scope.get("method") != "POST":
            return 0.0
        with self.store.lock:
            for suffix, (seconds, count) in self.store.answer_delays.items():
                if count > 0 and str(scope.get("path", "")).endswith(suffix):
                    self.store.answer_delays[suffix] = (seconds, count - 1)
                    return seconds
        return 0.0


def create_app(store: Store, token: str = "demo", webhooks: Webhooks | None = None) -> Starlette:
    """The Starlette app serving `store`; requests must carry `X-Shopify-Access-Token: token`.
    `webhooks`: the shop's change webhooks (webhooks.py; default: a new set, default secret)."""
    shop = ShopApp(store, token)
    g = shop.guard
    routes = [
        *webhook_routes(API, webhooks or Webhooks(store), g),
        *outcome_routes(shop),
        Route(API + "/orders/{id:int}/refunds.json",
              g(shop.recorded("refund", lambda r, b: w.create_refund(store, r.path_params["id"], b))),
              methods=["POST"]),
        Route(API + "/orders/{id:int}/refunds/calculate.json", g(shop.calculate), methods=["POST"]),
        Route(API + "/inventory_levels/adjust.json", g(shop.recorded(
            "inventory_level", lambda r, b: w.change_inventory(store, b, absolute=False), 200)),
              methods=["POST"]),
        Route(API + "/inventory_levels/set.json", g(shop.recorded(
            "inventory_level", lambda r, b: w.change_inventory(store, b, absolute=True), 200)),
              methods=["POST"]),
        Route(API + "/orders/{id:int}/refunds.json", g(shop.refunds), methods=["GET"]),
        Route(API + "/{resource}/count.json", g(shop.count), methods=["GET"]),
        Route(API + "/{resource}/{id:int}.json", g(shop.show), methods=["GET"]),
        Route(API + "/{resource}.json", g(shop.list_records), methods=["GET"]),
        *admin_routes(store),
    ]  # fmt: skip
    return Starlette(routes=routes, middleware=[Middleware(AnswerDelay, store=store)])


def outcome_routes(shop: ShopApp) -> list[Route]:
    """Creating orders and gift cards (with `Idempotency-Key`), and reading gift cards."""
    store, g = shop.store, shop.guard

    def once(handler: Handler) -> Handler:
        return idempotent(store.idempotency, store.now, shop._record, handler)

    async def gift_card_list(request: Request) -> Response:
        return json_response({"gift_cards": gc.list_gift_cards(store, request.query_params)})

    async def gift_card(request: Request) -> Response:
        card = gc.find_gift_card(store, request.path_params["id"])
        if card is None:
            return json_response({"errors": "Not Found"}, 404)
        return json_response({"gift_card": card})

    return [
        Route(API + "/orders.json", g(once(shop.recorded("order", lambda r, b: w.create_order(store, b)))),
              methods=["POST"]),
        Route(API + "/gift_cards.json",
              g(once(shop.recorded("gift_card", lambda r, b: gc.create_gift_card(store, b)))),
              methods=["POST"]),
        Route(API + "/gift_cards.json", g(gift_card_list), methods=["GET"]),
        Route(API + "/gift_cards/{id:int}.json", g(gift_card), methods=["GET"]),
    ]  # fmt: skip


def _admin_action(store: Store, action: Callable[..., list[int]], key: str) -> Handler:
    """A `/_demo/` call taking {"entity", "ids" | "count"[, "kinds"]} and answering {key: ids}."""

    async def handler(request: Request) -> Response:
        try:
            body = await _json(request) or {}
            extra = {"kinds": body.get("kinds")} if key == "corrupted" else {}
            entity = str(body.get("entity", ""))
            changed = action(store, entity, body.get("ids"), body.get("count"), **extra)
        except (admin.AdminError, w.WriteError, AttributeError, TypeError, ValueError) as exc:
            return json_response({"errors": str(exc)}, 422)
        return json_response({key: changed})

    return handler


def admin_routes(store: Store) -> list[Route]:
    """`/_demo/*`: change records, corrupt them, restore them, list the writes received."""

    async def writes(request: Request) -> Response:
        with store.lock:
            return json_response({"writes": list(store.writes)})

    async def reset(request: Request) -> Response:
        store.reset()
        return json_response({"reset": True})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return json_response({"faults": admin.faults(store)})
        try:
            return json_response({"faults": admin.set_faults(store, await _json(request))})
        except (admin.AdminError, w.WriteError) as exc:
            return json_response({"errors": str(exc)}, 422)

    async def info(request: Request) -> Response:
        d = store.data
        return json_response({"seed": d.seed, "orders": d.n_orders, "products": d.n_products,
                              "customers": d.n_customers, "locations": d.n_locations,
                              "currency": d.currency})  # fmt: skip

    return [
        Route("/_demo/touch", _admin_action(store, admin.touch, "touched"), methods=["POST"]),
        Route("/_demo/corrupt", _admin_action(store, admin.corrupt, "corrupted"), methods=["POST"]),
        Route("/_demo/restore", _admin_action(store, admin.restore, "restored"), methods=["POST"]),
        Route("/_demo/reset", reset, methods=["POST"]),
        Route("/_demo/writes", writes, methods=["GET"]),
        Route("/_demo/faults", faults, methods=["GET", "POST"]),
        Route("/_demo/info", info, methods=["GET"]),
    ]
