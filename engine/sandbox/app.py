"""The sandbox ASGI app: route modules mounted under /api/{version} and /_sandbox, behind the
gate every /api request passes (version, latency, auth, rate limit, faults, request log).

The gate is a pure ASGI wrapper rather than Starlette middleware for two reasons: the raw body
is read once and replayed unchanged to the handlers (webhook code needs the exact bytes), and a
dropped connection can only be simulated from the outermost layer (see `DROPPED`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from engine.sandbox import admin, commerce, returns, webhooks
from engine.sandbox.core import API_VERSIONS, UNAUTHORIZED_BODY, Sandbox
from engine.sandbox.requestlog import RequestLog

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Returning a value other than None from an ASGI app makes uvicorn close the transport without
# writing a byte (both its h11 and httptools protocols do this), so the client sees the
# connection drop before any response: exactly what a crashed upstream looks like. Raising
# instead would make uvicorn answer 500, and ASGI has no "abort" message.
DROPPED = "sandbox fault injection: connection dropped"
RATE_LIMITED_BODY = {"message": "Too Many Attempts."}
FAULT_BODY = {"errors": {"code": "UNEXPECTED_ERROR", "message": "Sandbox fault injection."}}
HIDDEN_HEADERS = frozenset({"x-authorization", "authorization"})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status, headers, media_type="application/json"
    )


def not_found_body(message: str) -> dict[str, Any]:
    return {"errors": {"code": "NOT_FOUND", "message": message}}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return json_response(404, not_found_body(f"No route for {request.url.path}."))
    return json_response(exc.status_code, {"message": exc.detail})


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Loop's own 500 says nothing of its internals; the traceback goes to the server's log.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"errors": {"code": "UNEXPECTED_ERROR", "message": "An unexpected error occurred."}}
    return json_response(500, body)


def build_app(sb: Sandbox) -> SandboxGate:
    """The whole sandbox as one ASGI app: Loop's API, the admin API, and the gate before them."""
    mounted = [commerce.routes(sb), returns.routes(sb), webhooks.routes(sb)]
    api = [route for part in mounted for route in part.api]
    admin_routes = [*admin.admin_routes(sb), *(route for part in mounted for route in part.admin)]
    inner = Starlette(
        routes=[
            *admin.index_routes(admin_routes),
            Mount("/api/{version}", routes=api),
            Mount(admin.PREFIX, routes=admin_routes),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    return SandboxGate(sb, inner)


class SandboxGate:
    """Pure ASGI wrapper: every /api request is gated and logged; the rest passes through."""

    def __init__(self, sb: Sandbox, inner: Starlette) -> None:
        self.sb = sb
        self.inner = inner
        self.log = RequestLog(sb)
        self._seq = itertools.count(self.log.last_seq + 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.inner(scope, receive, send)
            return None
        return await self._api(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> Any:
        seq, received_at, started = next(self._seq), datetime.now(UTC), time.monotonic()
        outcome: dict[str, Any] = {"status": None, "fault": None}
        body = b""

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            if outcome["fault"] != "dropped":
                await send(message)

        try:
            # Auth (and the rest of the gate) before the body is read: an unauthenticated or
            # over-large body is never read whole, never stored.
            response = await self._gate(scope, outcome)
            if response is None or outcome["fault"] == "error":
                body, too_large = await _read_body(receive, self.sb.config.max_body_bytes)
                if too_large:
                    body, response = b"", _too_large(self.sb.config.max_body_bytes)
            if response is not None:
                await response(scope, _replay(body, receive), capture)
            else:
                await self.inner(scope, _replay(body, receive), capture)
        finally:
            self._log(seq, received_at, scope, body, outcome, time.monotonic() - started)
        return DROPPED if outcome["fault"] == "dropped" else None

    async def _gate(self, scope: Scope, outcome: dict[str, Any]) -> Response | None:
        """The early answer for this request, or None to let the route handle it."""
        config = self.sb.config
        version = scope["path"].split("/")[2]
        if version not in API_VERSIONS:
            known = ", ".join(API_VERSIONS)
            return json_response(404, not_found_body(f"Unknown API version {version!r} ({known})."))
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        key = _header(scope, b"x-authorization")
        if key is None or key not in config.api_keys:
            return json_response(401, UNAUTHORIZED_BODY)
        if not self.sb.limiter.allow(key):
            return json_response(429, RATE_LIMITED_BODY)
        if config.fail_rate and self.sb.rng.random() < config.fail_rate:
            # Half the faults answer 500 without running the handler; the other half run it and
            # then drop the connection, so the write happened but the client cannot know.
            if self.sb.rng.random() < 0.5:
                outcome["fault"] = "error"
                return json_response(500, FAULT_BODY)
            outcome["fault"] = "dropped"
        return None

    def _log(
        self,
        seq: int,
        received_at: datetime,
        scope: Scope,
        body: bytes,
        outcome: dict[str, Any],
        elapsed: float,
    ) -> None:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name not in HIDDEN_HEADERS:
                value = raw_value.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        status = None if outcome["fault"] == "dropped" else outcome["status"]
        row = [
            seq,
            received_at,
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            json.dumps(headers),
            body,
            status,
            outcome["fault"],
            elapsed * 1000,
        ]
        row[6] = body[: self.sb.config.request_log_body_bytes]
        self.log.add(row)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, or (what was read, True) as soon as it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _too_large(limit: int) -> Response:
    return json_response(413, {"message": f"The request body is larger than {limit} bytes."})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then waits on the real one."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed
