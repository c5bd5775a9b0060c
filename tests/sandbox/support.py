"""Shared helpers for the returns and webhook tests: a synced order, returns, a webhook receiver.

The returns and webhook test modules import it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from engine.sandbox.server import SandboxHandle, running_sandbox

SECRET = "test-webhook-secret"
# Every wait of the delivery schedule is this share of Loop's (backoff, Retry-After, delays).
TIME_SCALE = 0.02


@contextmanager
def sandbox(**overrides: Any) -> Iterator[SandboxHandle]:
    """A sandbox on a loopback port, with Loop's delivery schedule run 50 times faster."""
    settings: dict[str, Any] = {
        "webhook_secret": SECRET,
        "webhook_time_scale": TIME_SCALE,
        "rate_limit": "0/min",
    }
    settings.update(overrides)
    with running_sandbox(**settings) as handle:
        yield handle


@dataclass
class Order:
    """A synced order as the tests use it: its Loop id and line ids, and the catalogue around it."""

    id: int
    external_id: str
    name: str
    lines: list[int]
    variants: list[int]
    exchange_variant: int
    body: dict[str, Any] = field(default_factory=dict)


_clients: dict[str, httpx.Client] = {}


def api(handle: SandboxHandle) -> httpx.Client:
    """One API client per sandbox, kept open: making an httpx client costs ~50 ms."""
    if handle.base_url not in _clients:
        _clients[handle.base_url] = handle.client()
    return _clients[handle.base_url]


def _api(handle: SandboxHandle, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api(handle).request(method, path, json=body)
    assert response.status_code in (200, 201), (path, response.status_code, response.text)
    return dict(response.json())


def _unwrap(body: dict[str, Any], key: str) -> dict[str, Any]:
    return dict(body[key]) if key in body else body


def sync_order(
    handle: SandboxHandle,
    tag: str = "1001",
    quantities: tuple[int, ...] = (2, 1),
    fulfilled: bool = True,
) -> Order:
    """A location, a customer, a product with variants and an order, pushed through Loop's API."""
    location = _unwrap(
        _api(
            handle,
            "PUT",
            "/locations",
            {
                "external_id": f"loc-{tag}",
                "name": "Main warehouse",
                "status": "active",
                "address": {"address1": "1 Main St", "city": "Columbus", "country_code": "US"},
            },
        ),
        "location",
    )
    product = _unwrap(
        _api(
            handle,
            "PUT",
            "/products",
            {
                "external_id": f"p-{tag}",
                "name": "Trail shoe",
                "price": {"amount": 3165, "currency_code": "USD"},
            },
        ),
        "product",
    )
    variants = []
    for n, price in enumerate((3165, 3165, 4000)):
        variant = _unwrap(
            _api(
                handle,
                "PUT",
                f"/products/{product['id']}/product-variants",
                {
                    "external_id": f"v-{tag}-{n}",
                    "name": f"Size {40 + n}",
                    "taxable": True,
                    "sku": f"SHOE-{tag}-{n}",
                    "price": {"amount": price, "currency_code": "USD"},
                },
            ),
            "product_variant",
        )
        variants.append(int(variant["id"]))
    lines = [
        {
            "external_id": f"l-{tag}-{n}",
            "product": {"id": product["id"]},
            "product_variant": {"id": variants[n]},
            "quantity": q,
            "taxable": True,
            "unit_price": {"amount": 3165, "currency_code": "USD"},
        }
        for n, q in enumerate(quantities)
    ]
    order = _unwrap(
        _api(
            handle, "PUT", "/orders", _order_body(tag, quantities, lines, location["id"], fulfilled)
        ),
        "order",
    )
    return Order(
        int(order["id"]),
        f"o-{tag}",
        f"#{tag}",
        [int(li["id"]) for li in order["line_items"]],
        variants[:2],
        variants[2],
        order,
    )


def _order_body(
    tag: str,
    quantities: tuple[int, ...],
    lines: list[dict[str, Any]],
    location_id: int,
    fulfilled: bool,
) -> dict[str, Any]:
    order_body: dict[str, Any] = {
        "external_id": f"o-{tag}",
        "name": f"#{tag}",
        "status": "active",
        "taxes_included": False,
        "created_at": "2026-01-05T10:00:00+00:00",
        "customer": {
            "external_id": f"c-{tag}",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"ada.{tag}@example.com",
            "phone": "555-0100",
        },
        "total_price": {"amount": 3165 * sum(quantities), "currency_code": "USD"},
        "line_items": lines,
    }
    if fulfilled:
        order_body["fulfillments"] = [
            {
                "external_id": f"f-{tag}",
                "status": "success",
                "fulfilled_at": "2026-01-06T10:00:00+00:00",
                "location": {"id": location_id},
                "fulfillment_line_items": [
                    {
                        "external_id": f"fl-{tag}-{n}",
                        "order_line_item_external_id": f"l-{tag}-{n}",
                        "quantity": q,
                    }
                    for n, q in enumerate(quantities)
                ],
            }
        ]
    return order_body


def create_return(
    handle: SandboxHandle, order: Order, *lines: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A return made through the admin API (a refund of one unit of the first line by default)."""
    body = {
        "order_id": order.id,
        "line_items": list(lines)
        or [
            {
                "line_item_id": order.lines[0],
                "quantity": 1,
                "outcome": "refund",
                "return_reason": "Too small",
            }
        ],
        **extra,
    }
    response = handle.admin.post("/returns", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def flush(handle: SandboxHandle) -> None:
    assert handle.admin.post("/deliveries/flush").json()["idle"] is True


def expected_signature(secret: str, raw: bytes) -> str:
    """An independent HMAC: base64 of HMAC-SHA256 over the received bytes."""
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def signature_ok(secret: str, raw: bytes, header: str) -> bool:
    return hmac.compare_digest(expected_signature(secret, raw), header)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


class Receiver:
    """A webhook receiver on its own loopback port: stores raw bytes and headers of every POST
    and answers with the next scripted status, or (status, headers) (200 once the script runs
    out)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int | tuple[int, dict[str, str]]] = []
        self.delay_s = 0.0
        self.release: threading.Event | None = None  # when set: answer only once released
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                    )
                    step = outer.script.pop(0) if outer.script else 200
                status, extra = step if isinstance(step, tuple) else (step, {})
                time.sleep(outer.delay_s)
                if outer.release is not None:
                    outer.release.wait(30)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, trigger: str | None = None) -> list[dict[str, Any]]:
        return [r.json() for r in self.received if trigger in (None, r.json().get("trigger"))]


def subscribe(
    handle: SandboxHandle, url: str, topic: str, trigger: str, status: str = "active"
) -> dict[str, Any]:
    response = api(handle).post(
        "/webhooks", json={"topic": topic, "trigger": trigger, "url": url, "status": status}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
