"""`etl serve`'s ASGI app: Loop's signed webhooks into the inbox, `/healthz` and `/metrics`.

`POST /webhooks/loop` reads the body up to a size limit (413 past it, never read whole),
checks `X-Loop-Signature` on those exact bytes (401 and nothing stored when it does not
match), makes the body durable in the state's spool (intake.py: batched with the deliveries
arriving meanwhile) and answers 200 as soon as it is synced; the mover (intake.py) moves it
into the inbox and processing happens later, off the request path (engine/serve/worker.py).
Loop does not retry a 4xx, so a correctly signed body is never refused: an unreadable one is
stored as `unprocessable`, a duplicate is counted and answered 200, and a state that cannot
store it (the spool cannot be written, or is full because the mover is stuck) answers 503
(which Loop retries).
No answer and no log line quotes a body or a secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import redaction
from engine.loop.webhooks import SIGNATURE_HEADER, verify
from engine.serve.intake import Intake
from engine.serve.metrics import (
    ACCEPTED,
    CONTENT_TYPE,
    DUPLICATE,
    ERROR,
    REJECTED,
    Metrics,
)
from engine.serve.platform import PATH as PLATFORM_PATH
from engine.serve.platform import PlatformWebhooks
from engine.serve.server import BackgroundJob
from engine.state import State
from engine.state.inbox import UNPROCESSABLE

log = logging.getLogger(__name__)

RECEIVER_PATH = "/webhooks/loop"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY_BYTES = 1 << 20  # 1 MiB: a return with hundreds of lines is far below it

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, repr=False)
class ReceiverSettings:
    """The secrets a delivery may be signed with (the current one, and the previous one while
    a rotation lasts) and the largest body read."""

    secrets: tuple[str, ...]
    max_body_bytes: int = MAX_BODY_BYTES

    def __repr__(self) -> str:  # secrets are never shown
        return f"ReceiverSettings(secrets=<{len(self.secrets)}>, max_body={self.max_body_bytes})"


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over `limit` bytes (from Content-Length,
    else while streaming), so an oversized body is never held whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def build_app(
    state: State,
    settings: ReceiverSettings,
    metrics: Metrics,
    *,
    on_received: Callable[[], None] = lambda: None,
    jobs: Sequence[BackgroundJob] = (),
    platform: PlatformWebhooks | None = None,
) -> Starlette:
    """The receiver over one state; `on_received` is called after deliveries are spooled (the
    mover's wake-up), and `jobs` are reported by /healthz."""
    intake = Intake(state, on_received)
    return Starlette(
        routes=[
            Route(RECEIVER_PATH, receiver_endpoint(intake, settings, metrics), methods=["POST"]),
            Route(PLATFORM_PATH, platform_endpoint(platform, metrics), methods=["POST"]),
            Route(HEALTH_PATH, health_endpoint(state, jobs), methods=["GET"]),
            Route(METRICS_PATH, metrics_endpoint(metrics), methods=["GET"]),
        ]
    )


def receiver_endpoint(intake: Intake, settings: ReceiverSettings, metrics: Metrics) -> Endpoint:
    """`POST /webhooks/loop`: a signed delivery into the spool (see the module docstring)."""

    async def webhook(request: Request) -> Response:
        started = time.perf_counter()

        def answer(status: int, body: dict[str, Any], result: str) -> Response:
            metrics.delivery(result, time.perf_counter() - started)
            return JSONResponse(body, status_code=status)

        raw = await read_body(request, settings.max_body_bytes)
        if raw is None:
            limit = settings.max_body_bytes
            return answer(413, {"error": f"the body is over {limit} bytes"}, REJECTED)
        if not verify(raw, request.headers.get(SIGNATURE_HEADER), settings.secrets):
            return answer(401, {"error": f"missing or wrong {SIGNATURE_HEADER}"}, REJECTED)
        try:
            new, event = await intake.store(raw)
        except Exception as exc:  # the state failed (full disk?): 503, so that Loop retries
            log.error("a signed delivery could not be stored: %s", _safe(exc))
            return answer(503, {"error": "the event could not be stored; send it again"}, ERROR)
        if new and event.problem:
            metrics.settled(UNPROCESSABLE)
        return answer(200, {"received": True, "duplicate": not new}, ACCEPTED if new else DUPLICATE)

    return webhook


def health_endpoint(state: State, jobs: Sequence[BackgroundJob]) -> Endpoint:
    """`GET /healthz`: the inbox's counts, the last event's time and whether every job lives."""

    async def health(request: Request) -> Response:
        alive = {job.name: job.alive for job in jobs}
        try:
            counts, last = await run_in_threadpool(
                lambda: (state.inbox_counts(), state.inbox_last_received())
            )
        except Exception as exc:
            return JSONResponse({"ok": False, "error": _safe(exc), "jobs": alive}, status_code=503)
        ok = all(alive.values())
        report = {
            "ok": ok,
            "inbox": counts,
            "last_event_at": last.isoformat() if last is not None else None,
            "jobs": alive,
        }
        return JSONResponse(report, status_code=200 if ok else 503)

    return health


def metrics_endpoint(metrics: Metrics) -> Endpoint:
    """`GET /metrics`: the Prometheus exposition, rendered off the event loop."""

    async def scrape(request: Request) -> Response:
        text = await run_in_threadpool(metrics.exposition)
        return Response(text, media_type=CONTENT_TYPE)

    return scrape


def platform_endpoint(platform: PlatformWebhooks | None, metrics: Metrics) -> Endpoint:
    """`POST /webhooks/platform/{entity}`: the platform's change webhooks (engine.serve.platform),
    synced off the event loop."""

    async def platform_webhook(request: Request) -> Response:
        if platform is None:
            return JSONResponse({"error": "the mapping declares no platform_webhooks"}, 404)
        raw = await read_body(request, platform.max_body)
        if raw is None:
            return JSONResponse({"error": f"the body is over {platform.max_body} bytes"}, 413)
        entity = request.path_params["entity"]
        signature = request.headers.get(platform.header)
        try:
            outcome = await run_in_threadpool(platform.handle, entity, raw, signature)
        except Exception as exc:  # Loop or the state failed: 503, so that the platform retries
            log.error("a platform webhook could not be synced: %s", _safe(exc))
            return JSONResponse({"error": "not synced now; send it again"}, status_code=503)
        metrics.platform(entity, outcome.status)
        for synced_entity, counts in outcome.body.get("synced", {}).items():
            metrics.synced(synced_entity, counts)
        return JSONResponse(outcome.body, status_code=outcome.status)

    return platform_webhook


def _safe(exc: Exception) -> str:
    """An error's type and first line, without values from the environment."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return redaction.scrub(f"{type(exc).__name__}: {first[:300]}")
