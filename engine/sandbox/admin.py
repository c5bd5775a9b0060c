"""The sandbox-only admin API under /_sandbox: its index, the request log, stored records, reset,
knobs. (Returns and webhook deliveries add their own admin routes: see those modules.)

No authentication: it exists for tests and local debugging, and the server binds to loopback.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.core import API_VERSIONS, Sandbox, SandboxConfig, loop_json, parse_rate

PREFIX = "/_sandbox"
# The knobs POST /_sandbox/config may change at run time: the API's faults, and those a webhook
# receiver must survive (duplicate and reordered deliveries, processing that fails later).
KNOBS = (
    "rate_limit",
    "fail_rate",
    "latency_ms",
    "seed",
    "webhook_duplicate_rate",
    "webhook_reorder_rate",
    "webhook_reorder_delay_s",
    "process_fail_rate",
)
Handler = Callable[[Request], Awaitable[Response]]


def admin_routes(sb: Sandbox) -> list[BaseRoute]:
    initial = dataclasses.replace(sb.config)

    async def requests(request: Request) -> Response:
        """Every /api request received, oldest first, with its body (API keys left out);
        filters: method, path (a prefix)."""
        return loop_json(request, {"requests": list_requests(sb, request)})

    async def reset(request: Request) -> Response:
        """Empties every table, drops queued background jobs, restores the startup knobs."""
        reset_sandbox(sb, initial)
        return loop_json(request, {"success": True})

    records, config = _records_handler(sb), _config_handler(sb)
    return [
        Route("/requests", requests, methods=["GET"]),
        Route("/records/{kind}", records, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/config", config, methods=["GET", "POST"]),
    ]


def _records_handler(sb: Sandbox) -> Handler:
    async def records(request: Request) -> Response:
        """Every stored commerce record of a kind (product, variant, customer, location,
        inventory, collection, order), in creation order, as Loop would return it."""
        kind = request.path_params["kind"]
        with sb.lock:
            rows = sb.db.execute(
                "SELECT body FROM commerce_records WHERE kind = ? ORDER BY seq, id", [kind]
            ).fetchall()
        return loop_json(request, {"records": [json.loads(r[0]) for r in rows]})

    return records


def _config_handler(sb: Sandbox) -> Handler:
    async def config(request: Request) -> Response:
        """The run-time knobs (rate_limit, fail_rate, latency_ms, seed,
        webhook_duplicate_rate, webhook_reorder_rate, webhook_reorder_delay_s,
        process_fail_rate); POST a JSON object to change some (422 when invalid, nothing
        changed)."""
        if request.method == "POST":
            try:
                apply_knobs(sb, await request.json())
            except (ValueError, TypeError) as exc:
                return loop_json(request, {"message": str(exc)}, 422)
        return loop_json(request, {k: getattr(sb.config, k) for k in KNOBS})

    return config


def index_routes(admin_routes: list[BaseRoute]) -> list[BaseRoute]:
    """GET /_sandbox and /_sandbox/: a JSON index of every admin endpoint, from the routes."""
    endpoints = [
        {"methods": ["GET"], "path": PREFIX, "description": "This index."},
        *(_describe(route) for route in admin_routes if isinstance(route, Route)),
    ]

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        body = {
            "name": "Loop sandbox admin API",
            "api": f"{base}/api/{API_VERSIONS[0]}",
            "api_versions": list(API_VERSIONS),
            "endpoints": endpoints,
        }
        return loop_json(request, body)

    return [Route(PREFIX, index, methods=["GET"]), Route(f"{PREFIX}/", index, methods=["GET"])]


def _describe(route: Route) -> dict[str, Any]:
    methods = sorted((route.methods or set()) - {"HEAD"})
    description = " ".join((route.endpoint.__doc__ or "").split())
    return {"methods": methods, "path": f"{PREFIX}{route.path}", "description": description}


def list_requests(sb: Sandbox, request: Request) -> list[dict[str, Any]]:
    """Every /api request received, oldest first; `method` and `path` (a prefix) filter."""
    sql = "SELECT * FROM sandbox_requests WHERE 1 = 1"
    params: list[Any] = []
    if "method" in request.query_params:
        sql += " AND method = ?"
        params.append(request.query_params["method"].upper())
    if "path" in request.query_params:
        sql += " AND starts_with(path, ?)"
        params.append(request.query_params["path"])
    with sb.lock:
        sb.flush()
        cursor = sb.db.execute(sql + " ORDER BY seq", params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return [_request_row(dict(zip(names, row, strict=True))) for row in rows]


def _request_row(row: dict[str, Any]) -> dict[str, Any]:
    raw: bytes = row.pop("body")
    row["received_at"] = row["received_at"].isoformat()
    row["headers"] = json.loads(row["headers"])
    try:
        row["body"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        row["body"] = None
    row["body_base64"] = base64.b64encode(raw).decode("ascii")
    try:
        row["json"] = json.loads(raw) if raw else None
    except ValueError:
        row["json"] = None
    return row


def reset_sandbox(sb: Sandbox, initial: SandboxConfig) -> None:
    """Empty every table (through each module's reset hook), drop the background jobs still
    queued (a job already running finishes), and restore the startup knobs."""
    # The knobs first: a hook may read them (the webhook sender reseeds from `seed`).
    for knob in KNOBS:
        setattr(sb.config, knob, getattr(initial, knob))
    sb.limiter.set_rate(initial.rate_limit)
    sb.rng.seed(initial.seed)
    with sb.transaction():
        sb.worker.clear()
        for hook in sb.reset_hooks:
            hook()


def apply_knobs(sb: Sandbox, changes: Any) -> None:
    """Change some of the KNOBS at run time (ValueError if invalid, and nothing changes)."""
    if not isinstance(changes, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(changes) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown settings {unknown} (known: {', '.join(KNOBS)})")
    # Build a whole config first so that SandboxConfig's own checks run before anything changes.
    merged = dataclasses.replace(sb.config, **changes)
    if "rate_limit" in changes:
        parse_rate(merged.rate_limit)
        sb.limiter.set_rate(merged.rate_limit)
    if "seed" in changes:
        sb.rng.seed(merged.seed)
    for knob in KNOBS:
        setattr(sb.config, knob, getattr(merged, knob))
