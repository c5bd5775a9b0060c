"""Webhook subscriptions (`/webhooks`, loop-api.md §3.2) and the deliveries admin.

Events go out through `delivery.Sender` (signing, retries, faults) to the active subscriptions
kept here. Admin: `GET /_sandbox/deliveries` (filters topic, trigger, subscription_id,
delivery_id, event_id; `wait=1` first waits for the queue to drain) and
`POST /_sandbox/deliveries/flush` (blocks until idle).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.loop.webhooks import TOPICS
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
from engine.sandbox.delivery import ATTEMPT_COLUMNS, Sender

STATUSES = ("active", "inactive")
NOT_FOUND = {"errors": {"code": "NOT_FOUND", "message": "Webhook not found."}}
_DDL = (
    "CREATE TABLE IF NOT EXISTS sandbox_webhooks (id UBIGINT PRIMARY KEY, shop_id UBIGINT,"
    " topic TEXT NOT NULL, trigger TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL)"
)


def ensure_table(sb: Sandbox) -> None:
    with sb.lock:
        sb.db.execute(_DDL)


def clear_table(sb: Sandbox) -> None:
    with sb.lock:
        sb.db.execute("DELETE FROM sandbox_webhooks")


def subscribers(sb: Sandbox, topic: str, trigger: str) -> list[tuple[int, str]]:
    """(id, url) of every active subscription to topic + trigger, oldest first."""
    with sb.lock:
        rows = sb.db.execute(
            "SELECT id, url FROM sandbox_webhooks WHERE topic = ? AND trigger = ?"
            " AND status = 'active' ORDER BY id",
            [topic, trigger],
        ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


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
    ensure_table(sb)
    sb.reset_hooks.append(lambda: clear_table(sb))
    sb.events = Sender(sb, lambda topic, trigger: subscribers(sb, topic, trigger))
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
        sql = f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM sandbox_webhook_attempts"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        with sb.lock:
            rows = sb.db.execute(sql + " ORDER BY seq", args).fetchall()
        items = [dict(zip(ATTEMPT_COLUMNS, r, strict=True)) for r in rows]
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
