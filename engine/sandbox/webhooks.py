"""Webhook subscriptions (`/webhooks`, loop-api.md §3.2) and their signed, retried delivery (§3.3).

Delivery, per event and active subscription whose topic and trigger match:

- the body is serialised as PHP's `json_encode` does and `X-Loop-Signature` signs those exact
  bytes, both by `engine.loop.webhooks` (the module a receiver verifies with);
- `X-Loop-Webhook-Id` is a delivery id that stays the same over every retry of one delivery, so
  receivers can de-duplicate; `X-Loop-Event-Id` is shared by all deliveries of one event, and
  `X-Loop-Webhook-Attempt` counts attempts from 1. (Loop documents none of these three.)
- attempts run on the sandbox's background worker, never in the request that caused the event;
  a non-2xx answer or a connection error is retried `webhook_retries` times after
  `webhook_backoff_s`, doubling each time; every attempt is a row in `sandbox_webhook_attempts`.

Admin: `GET /_sandbox/deliveries` (filters topic, trigger, subscription_id, delivery_id,
event_id; `wait=1` first waits for the queue to drain) and `POST /_sandbox/deliveries/flush`
(blocks until idle).
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from engine.sandbox import admin
from engine.sandbox.core import (
    Routes,
    Sandbox,
    ascii_float,
    ascii_int,
    error_json,
    json_body,
    loop_json,
)

TOPICS: dict[str, tuple[str, ...]] = {
    "return": ("return.created", "return.updated", "return.closed"),
    "label": ("label.created", "label.updated"),
    "restock": ("restock.requested",),
    "label.request": ("label.request.issued", "label.request.cancelled"),
    "giftcard": ("giftcard.requested",),
    "happy.returns.shipment": ("shipment.processed",),
}
STATUSES = ("active", "inactive")
USER_AGENT = "Loop-Sandbox-Webhooks/1.0"
NOT_FOUND = {"errors": {"code": "NOT_FOUND", "message": "Webhook not found."}}
_DDL = (
    "CREATE TABLE IF NOT EXISTS sandbox_webhooks (id UBIGINT PRIMARY KEY, shop_id UBIGINT,"
    " topic TEXT NOT NULL, trigger TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sandbox_webhook_attempts (seq BIGINT NOT NULL,"
    " delivery_id TEXT NOT NULL, subscription_id UBIGINT NOT NULL, event_id TEXT NOT NULL,"
    " topic TEXT NOT NULL, trigger TEXT NOT NULL, url TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " request_body TEXT NOT NULL, signature TEXT NOT NULL, status INTEGER, error TEXT,"
    " attempted_at TEXT NOT NULL, duration_ms DOUBLE NOT NULL, retry_in_s DOUBLE)",
)
_ATTEMPT_COLUMNS = (
    "seq",
    "delivery_id",
    "subscription_id",
    "event_id",
    "topic",
    "trigger",
    "url",
    "attempt",
    "request_body",
    "signature",
    "status",
    "error",
    "attempted_at",
    "duration_ms",
    "retry_in_s",
)


@dataclass(frozen=True)
class Delivery:
    """One event going to one subscription: the same id, body and signature on every attempt."""

    delivery_id: str
    subscription_id: int
    event_id: str
    topic: str
    trigger: str
    url: str
    body: bytes
    signature: str


class Sender:
    """A sandbox's webhook sender: its tables, HTTP client and attempt counter; `emit` queues."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.client = httpx.Client(
            timeout=sb.config.webhook_timeout_s, headers={"User-Agent": USER_AGENT}
        )
        self._seq_lock = threading.Lock()
        with sb.lock:
            for ddl in _DDL:
                sb.db.execute(ddl)
            row = sb.db.execute(
                "SELECT coalesce(max(seq), 0) FROM sandbox_webhook_attempts"
            ).fetchone()
        self._seq = int(row[0]) if row else 0
        sb.reset_hooks.append(self.reset)
        sb.close_hooks.append(self.client.close)

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def reset(self) -> None:
        with self.sb.lock:
            self.sb.db.execute("DELETE FROM sandbox_webhooks")
            self.sb.db.execute("DELETE FROM sandbox_webhook_attempts")

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        """Queues `payload` for every active subscription to topic + trigger; returns how many."""
        with self.sb.lock:
            subs = self.sb.db.execute(
                "SELECT id, url FROM sandbox_webhooks WHERE topic = ? AND trigger = ?"
                " AND status = 'active' ORDER BY id",
                [topic, trigger],
            ).fetchall()
        if not subs:
            return 0
        body = php_json(payload)
        signature = sign(self.sb.config.webhook_secret, body)
        event_id = uuid.uuid4().hex
        for sub_id, url in subs:
            delivery = Delivery(
                uuid.uuid4().hex, int(sub_id), event_id, topic, trigger, url, body, signature
            )
            self.sb.worker.submit(functools.partial(self.attempt, delivery, 1))
        return len(subs)

    def attempt(self, delivery: Delivery, number: int) -> None:
        """One POST of a delivery; records it and, on failure, schedules the next try."""
        started = time.monotonic()
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        status, error = self._post(delivery, number)
        config = self.sb.config
        failed = status is None or not 200 <= status < 300
        retry_in = (
            config.webhook_backoff_s * 2 ** (number - 1)
            if failed and number <= config.webhook_retries
            else None
        )
        row = [
            self.next_seq(),
            delivery.delivery_id,
            delivery.subscription_id,
            delivery.event_id,
            delivery.topic,
            delivery.trigger,
            delivery.url,
            number,
            delivery.body.decode(),
            delivery.signature,
            status,
            error,
            stamp,
            (time.monotonic() - started) * 1000,
            retry_in,
        ]
        with self.sb.lock:
            self.sb.db.execute(
                f"INSERT INTO sandbox_webhook_attempts VALUES ({','.join('?' * len(row))})", row
            )
        if retry_in is not None:
            self.sb.worker.submit(
                functools.partial(self.attempt, delivery, number + 1), delay_s=retry_in
            )

    def _post(self, delivery: Delivery, number: int) -> tuple[int | None, str | None]:
        """(HTTP status, None), or (None, the error) when no answer came."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: delivery.signature,
            "X-Loop-Webhook-Id": delivery.delivery_id,
            "X-Loop-Event-Id": delivery.event_id,
            "X-Loop-Webhook-Attempt": str(number),
        }
        try:
            response = self.client.post(delivery.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None


# ---- the subscriptions API ----------------------------------------------------------------


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(("id", "shop_id", "topic", "trigger", "url", "status"), row, strict=True))


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json_body(await request.body() or b"null")
    except ValueError as exc:
        return loop_json(request, {"message": str(exc)}, 400)
    if not isinstance(body, dict):
        return loop_json(request, {"message": "The request body must be a JSON object."}, 400)
    return body


def validate_subscription(body: dict[str, Any]) -> dict[str, list[str]]:
    """Laravel-style field errors for a subscription body; empty when it is valid."""
    errors: dict[str, list[str]] = {}
    topic, trigger, url = body.get("topic"), body.get("trigger"), body.get("url")
    for name, value in (("topic", topic), ("trigger", trigger), ("url", url)):
        if not isinstance(value, str) or not value:
            errors[name] = [f"The {name} field is required."]
    if "topic" not in errors and topic not in TOPICS:
        errors["topic"] = [f"The selected topic is invalid (known: {', '.join(TOPICS)})."]
    elif "trigger" not in errors and trigger not in TOPICS[str(topic)]:
        allowed = ", ".join(TOPICS[str(topic)])
        errors["trigger"] = [f"The trigger is invalid for topic {topic} (allowed: {allowed})."]
    if "url" not in errors:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = ["The url must be a valid http or https URL."]
        elif parts.path.rstrip("/").startswith(admin.PREFIX):
            # Deliveries are POSTs: aimed at the admin API, any key holder could reset the
            # sandbox or change its faults. No receiver lives there.
            errors["url"] = [f"The url may not point at the sandbox's admin API ({admin.PREFIX})."]
    if body.get("status", "inactive") not in STATUSES:
        errors["status"] = ["The selected status is invalid (active, inactive)."]
    return errors


def subscription_routes(sb: Sandbox) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if errors := validate_subscription(body):
            return error_json(request, 422, "The given data was invalid.", errors)
        row = (
            sb.new_id(),
            sb.config.shop_id,
            body["topic"],
            body["trigger"],
            body["url"],
            body.get("status", "inactive"),
        )
        with sb.lock:
            sb.db.execute("INSERT INTO sandbox_webhooks VALUES (?, ?, ?, ?, ?, ?)", list(row))
        return loop_json(request, _row(row), 201)

    async def list_all(request: Request) -> Response:
        with sb.lock:
            rows = sb.db.execute("SELECT * FROM sandbox_webhooks ORDER BY id").fetchall()
        return loop_json(request, {"webhooks": [_row(r) for r in rows]})

    return [
        Route("/webhooks", create, methods=["POST"]),
        Route("/webhooks", list_all, methods=["GET"]),
        *_edit_routes(sb),
    ]


def _edit_routes(sb: Sandbox) -> list[BaseRoute]:
    async def update(request: Request) -> Response:
        hook_id = _int(request.path_params["id"])
        body = await _body(request)
        if isinstance(body, Response):
            return body
        with sb.lock:
            found = sb.db.execute(
                "SELECT status FROM sandbox_webhooks WHERE id = ?", [hook_id]
            ).fetchone()
        if found is None:
            return loop_json(request, NOT_FOUND, 404)
        if errors := validate_subscription(body):
            return error_json(request, 422, "The given data was invalid.", errors)
        with sb.lock:
            sb.db.execute(
                "UPDATE sandbox_webhooks SET topic = ?, trigger = ?, url = ?, status = ?"
                " WHERE id = ?",
                [
                    body["topic"],
                    body["trigger"],
                    body["url"],
                    body.get("status", found[0]),
                    hook_id,
                ],
            )
        return Response(status_code=204)

    async def delete(request: Request) -> Response:
        hook_id = _int(request.path_params["id"])
        with sb.lock:
            gone = sb.db.execute(
                "DELETE FROM sandbox_webhooks WHERE id = ? RETURNING id", [hook_id]
            ).fetchall()
        return Response(status_code=204) if gone else loop_json(request, NOT_FOUND, 404)

    return [
        Route("/webhooks/{id}", update, methods=["PUT"]),
        Route("/webhooks/{id}", delete, methods=["DELETE"]),
    ]


def _int(text: str) -> int:
    number = ascii_int(text)
    return -1 if number is None else number


def routes(sb: Sandbox) -> Routes:
    """Loop's Programmatic Webhooks API and the deliveries admin; from here on the sandbox's
    events (`sb.events.emit`) go out as signed deliveries."""
    sb.events = Sender(sb)
    return Routes(subscription_routes(sb), delivery_routes(sb))


def delivery_routes(sb: Sandbox) -> list[BaseRoute]:
    async def deliveries(request: Request) -> Response:
        """Every delivery attempt, oldest first (filters: topic, trigger, subscription_id,
        delivery_id, event_id; wait=1 first waits up to `timeout` s for the queue to drain)."""
        q = request.query_params
        if q.get("wait") in ("1", "true"):
            timeout = _timeout(q)
            if timeout is None:
                return _bad_timeout(request)
            await _wait(sb, timeout)
        where, args = [], []
        for key in ("topic", "trigger", "subscription_id", "delivery_id", "event_id"):
            if q.get(key):
                where.append(f"{key} = ?")
                args.append(q[key])
        sql = "SELECT * FROM sandbox_webhook_attempts"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        with sb.lock:
            rows = sb.db.execute(sql + " ORDER BY seq", args).fetchall()
        items = [dict(zip(_ATTEMPT_COLUMNS, r, strict=True)) for r in rows]
        return loop_json(request, {"deliveries": items, "pending": sb.worker.pending()})

    async def flush(request: Request) -> Response:
        """Waits (up to `timeout` s) until no job is queued or running: 200, else 504."""
        timeout = _timeout(request.query_params)
        if timeout is None:
            return _bad_timeout(request)
        idle = await _wait(sb, timeout)
        return loop_json(
            request, {"idle": idle, "pending": sb.worker.pending()}, 200 if idle else 504
        )

    return [
        Route("/deliveries", deliveries, methods=["GET"]),
        Route("/deliveries/flush", flush, methods=["POST"]),
    ]


async def _wait(sb: Sandbox, timeout_s: float) -> bool:
    """Waits for the worker to go idle without blocking the server's event loop."""
    return await run_in_threadpool(sb.worker.wait_idle, timeout_s)


def _timeout(query: Any) -> float | None:
    """`timeout` in seconds from the query (default 30, at most an hour); None when bad."""
    value = ascii_float(query.get("timeout", "30"))
    return value if value is not None and 0 <= value <= 3600 else None


def _bad_timeout(request: Request) -> Response:
    errors = {"timeout": ["The timeout must be a number of seconds between 0 and 3600."]}
    return loop_json(request, {"message": "The given data was invalid.", "errors": errors}, 422)
