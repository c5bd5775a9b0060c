"""The demo shop's own change webhooks: Shopify's subscription API (`webhooks.json`) and the
signed delivery of every changed record to each subscriber of its topic, from a background
thread (never inside the request that changed the record).

Signed like Shopify: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the exact body
bytes with the shop's webhook secret; the body is the resource itself (a product with its
variants, an order, an inventory level).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.common import iso
from examples.shopify_like.store import Store
from examples.shopify_like.writes import WriteError

Record = dict[str, Any]
DEFAULT_SECRET = "demo-webhook-secret"  # the shopify-like mapping's default secret
SHOP_DOMAIN = "shopify-like.myshopify.com"
API_VERSION = "2024-01"
# (store table, created?) -> topic; Shopify says orders/updated but products/update.
TOPIC_OF = {
    ("products", True): "products/create", ("products", False): "products/update",
    ("orders", True): "orders/create", ("orders", False): "orders/updated",
    ("customers", True): "customers/create", ("customers", False): "customers/update",
    ("locations", True): "locations/create", ("locations", False): "locations/update",
    ("custom_collections", True): "collections/create",
    ("custom_collections", False): "collections/update",
    ("inventory_levels", False): "inventory_levels/update",
}  # fmt: skip
TOPICS = tuple(sorted(set(TOPIC_OF.values())))
MAX_DELIVERIES = 1000  # the log /_demo/webhook_deliveries keeps (oldest dropped)


@dataclass
class Subscription:
    id: int
    topic: str
    address: str
    format: str
    created_at: str
    updated_at: str


@dataclass
class Delivery:
    id: str  # the X-Shopify-Webhook-Id
    subscription_id: int
    topic: str
    address: str
    created_at: str
    status: str = "pending"  # then delivered or failed
    attempts: int = 0
    response_status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Job:
    delivery: Delivery
    body: bytes


def sign(secret: str, body: bytes) -> str:
    """Shopify's signature: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _check(spec: Any) -> tuple[str, str, str]:
    """(topic, address, format) of a subscription request, or Shopify's 400 / 422."""
    if not isinstance(spec, dict) or not isinstance(spec.get("webhook"), dict):
        raise WriteError(400, {"webhook": "Required parameter missing or invalid"})
    hook = spec["webhook"]
    topic, address = str(hook.get("topic") or ""), str(hook.get("address") or "")
    fmt = str(hook.get("format") or "json")
    errors: dict[str, list[str]] = {}
    if topic not in TOPICS:
        errors["topic"] = [f"Invalid topic specified: {topic}. Valid topics: {', '.join(TOPICS)}"]
    if not address:
        errors["address"] = ["can't be blank"]
    else:
        try:
            url = httpx.URL(address)
            valid = url.scheme in ("http", "https") and bool(url.host)
        except httpx.InvalidURL:
            valid = False
        if not valid:
            errors["address"] = ["is invalid"]
    if fmt != "json":
        errors["format"] = ["is not supported by this demo (json only)"]
    if errors:
        raise WriteError(422, errors)
    return topic, address, fmt


class Webhooks:
    """The shop's subscriptions and deliveries; listens to every change of `store`.

    Retries: `retries` more attempts after a 5xx answer or a network error, waiting
    `backoff_s` doubled each time; a 4xx answer is final. Written here rather than with a
    retry library: the demo depends on nothing of the engine, and the loop is four lines."""

    def __init__(self, store: Store, secret: str = DEFAULT_SECRET, *, retries: int = 3,
                 backoff_s: float = 0.2, timeout_s: float = 5.0) -> None:  # fmt: skip
        self.store, self.secret = store, secret
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.lock = threading.Lock()
        self._subs: dict[int, Subscription] = {}
        self._next_id = 1_100_000_000
        self._log: deque[Delivery] = deque(maxlen=MAX_DELIVERIES)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        store.listeners.append(self.changed)

    # -- the subscription API ------------------------------------------------------------
    def subscribe(self, spec: Any) -> Record:
        topic, address, fmt = _check(spec)
        with self.lock:
            if any(s.topic == topic and s.address == address for s in self._subs.values()):
                raise WriteError(422, {"address": ["for this topic has already been taken"]})
            self._next_id += 1
            now = iso(self.store.now())
            sub = Subscription(self._next_id, topic, address, fmt, now, now)
            self._subs[sub.id] = sub
            return asdict(sub)

    def subscriptions(self, topic: str | None = None, address: str | None = None) -> list[Record]:
        with self.lock:
            subs = sorted(self._subs.values(), key=lambda s: s.id)
        return [
            asdict(s) for s in subs if topic in (None, s.topic) and address in (None, s.address)
        ]

    def unsubscribe(self, sub_id: int) -> bool:
        with self.lock:
            return self._subs.pop(sub_id, None) is not None

    def deliveries(self) -> list[Record]:
        with self.lock:
            return [asdict(d) for d in self._log]

    # -- deliveries ----------------------------------------------------------------------
    def changed(self, table: str, record: Record, created: bool) -> None:
        """A record changed: queue a delivery to each subscriber of its topic (the body is
        taken now, as the record is at this moment)."""
        topic = TOPIC_OF.get((table, created))
        with self.lock:
            subs = [s for s in self._subs.values() if s.topic == topic]
            if not subs or topic is None or self._closed.is_set():
                return
            body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
            now = iso(self.store.now())
            for sub in subs:
                delivery = Delivery(str(uuid.uuid4()), sub.id, topic, sub.address, now)
                self._log.append(delivery)
                self._queue.put(_Job(delivery, body))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver_all, daemon=True, name="shopify-like-webhooks"
                )
                self._thread.start()

    def _deliver_all(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while (job := self._queue.get()) is not None:
                self._deliver(client, job)

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        d = job.delivery
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": d.topic,
                   "X-Shopify-Hmac-Sha256": sign(self.secret, job.body),
                   "X-Shopify-Shop-Domain": SHOP_DOMAIN, "X-Shopify-Webhook-Id": d.id,
                   "X-Shopify-API-Version": API_VERSION}  # fmt: skip
        for attempt in range(self.retries + 1):
            if attempt and self._closed.wait(self.backoff_s * 2 ** (attempt - 1)):
                break  # the shop is stopping
            status, error = None, None
            try:
                status = client.post(d.address, content=job.body, headers=headers).status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self.lock:
                d.attempts, d.response_status, d.error = attempt + 1, status, error
                if status is not None and status < 500:
                    d.status = "delivered" if status < 300 else "failed"
                    return
        with self.lock:
            d.status = "failed"

    def close(self) -> None:
        """Stops the delivery thread (what is still queued is dropped)."""
        self._closed.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.changed in self.store.listeners:
            self.store.listeners.remove(self.changed)


def webhook_routes(api: str, hooks: Webhooks, guard: Any) -> list[Route]:
    """`<api>/webhooks.json` (POST, GET), `<api>/webhooks/count.json`,
    `<api>/webhooks/{id}.json` (GET, DELETE), all behind `guard` (the token);
    `/_demo/webhook_deliveries` (no auth)."""

    async def create(request: Request) -> Response:
        raw = await request.body()
        try:
            spec = json.loads(raw) if raw else None
        except ValueError as exc:
            raise WriteError(400, {"body": "is not valid JSON"}) from exc
        return JSONResponse({"webhook": hooks.subscribe(spec)}, 201)

    async def listing(request: Request) -> Response:
        q = request.query_params
        return JSONResponse({"webhooks": hooks.subscriptions(q.get("topic"), q.get("address"))})

    async def count(request: Request) -> Response:
        q = request.query_params
        return JSONResponse({"count": len(hooks.subscriptions(q.get("topic"), q.get("address")))})

    async def one(request: Request) -> Response:
        sub_id = request.path_params["id"]
        found = [s for s in hooks.subscriptions() if s["id"] == sub_id]
        if request.method == "DELETE" and hooks.unsubscribe(sub_id):
            return JSONResponse({})
        if request.method == "GET" and found:
            return JSONResponse({"webhook": found[0]})
        return JSONResponse({"errors": "Not Found"}, 404)

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": hooks.deliveries()})

    return [
        Route(api + "/webhooks.json", guard(create), methods=["POST"]),
        Route(api + "/webhooks.json", guard(listing), methods=["GET"]),
        Route(api + "/webhooks/count.json", guard(count), methods=["GET"]),
        Route(api + "/webhooks/{id:int}.json", guard(one), methods=["GET", "DELETE"]),
        Route("/_demo/webhook_deliveries", deliveries, methods=["GET"]),
    ]
