"""A small real HTTP platform for the http connector's tests: Starlette on uvicorn, in a thread.

It serves registered data sets with every pagination type, an echo endpoint (what auth sent),
an OAuth2 token endpoint with revocable tokens, and scripted endpoints (status, headers, delay)
that log when each request arrived, so that tests can measure backoff and pacing server-side.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENT_ID, CLIENT_SECRET = "etl-client", "s3cr3t-client-value"


@dataclass
class Scripted:
    """Answers in order; the last answer repeats."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    text: str | None = None  # a raw body instead of JSON


@dataclass
class PlatformState:
    datasets: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)
    scripts: dict[str, list[Scripted]] = field(default_factory=dict)
    hits: dict[str, list[float]] = field(default_factory=dict)
    echoes: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    oauth_uses: int = 0
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def key(self) -> str:
        return f"k{next(self.counter)}"


def _after(value: str, since: str) -> bool:
    def parse(v: str) -> dt.datetime:
        return dt.datetime.fromisoformat(v.replace("Z", "+00:00"))

    return parse(value) >= parse(since)


def _window(request: Request, kind: str) -> tuple[int, int]:
    q = request.query_params
    limit = int(q.get("limit", "1000"))
    if kind == "page_number":
        return (int(q.get("page", "1")) - 1) * limit, limit
    if kind == "cursor":
        return int(q.get("cursor", "c0")[1:]), limit
    if kind == "none":
        return 0, 10**9
    return int(q.get("page_info", q.get("offset", "0"))), limit


def _dataset(state: PlatformState, request: Request) -> Response:
    records, kind = state.datasets[request.path_params["key"]]
    since = request.query_params.get("updated_at_min")
    chosen = [r for r in records if since is None or _after(r["updated_at"], since)]
    start, limit = _window(request, kind)
    page, more = chosen[start : start + limit], start + limit < len(chosen)
    body: dict[str, Any] = {"items": page}
    headers: dict[str, str] = {}
    base = str(request.url.replace(query=""))
    extra = f"&updated_at_min={since}" if since else ""
    if more and kind == "link_header":
        headers["Link"] = f'<{base}?page_info={start + limit}&limit={limit}{extra}>; rel="next"'
    if kind == "next_url":
        body["next_page_url"] = (
            f"{base}?offset={start + limit}&limit={limit}{extra}" if more else None
        )
    if kind == "cursor":
        body["meta"] = {"next": f"c{start + limit}" if more else None}
    return JSONResponse(body, headers=headers)


async def _scripted(state: PlatformState, request: Request) -> Response:
    sid = request.path_params["sid"]
    state.hits.setdefault(sid, []).append(time.monotonic())
    script = state.scripts[sid]
    answer = script.pop(0) if len(script) > 1 else script[0]
    if answer.delay:
        await asyncio.sleep(answer.delay)
    if answer.text is not None:
        return Response(answer.text, status_code=answer.status, headers=answer.headers)
    body = answer.body if answer.body is not None else {"items": [{"id": 1}]}
    return JSONResponse(body, status_code=answer.status, headers=answer.headers)


def _echo(state: PlatformState, request: Request) -> Response:
    seen = {"headers": dict(request.headers), "query": dict(request.query_params)}
    state.echoes.append(seen)
    return JSONResponse({"items": [{"id": 1, **seen}]})


async def _token(state: PlatformState, request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.startswith("Basic "):
        client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
    if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET) or form.get("grant_type") != (
        "client_credentials"
    ):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    state.tokens_issued += 1
    token = f"tok-{state.tokens_issued}-{form.get('scope', '')}"
    state.valid_tokens.add(token)
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": 3600})


def _oauth_items(state: PlatformState, request: Request) -> Response:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in state.valid_tokens:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    state.oauth_uses += 1
    offset = int(request.query_params.get("offset", "0"))
    items = [{"id": i} for i in range(offset, min(offset + 2, 6))]
    return JSONResponse({"items": items})


def build_app(state: PlatformState) -> Starlette:
    def bind(handler: Any) -> Any:
        if asyncio.iscoroutinefunction(handler):

            async def async_endpoint(request: Request) -> Response:
                return await handler(state, request)  # type: ignore[no-any-return]

            return async_endpoint

        async def endpoint(request: Request) -> Response:
            return handler(state, request)  # type: ignore[no-any-return]

        return endpoint

    return Starlette(
        routes=[
            Route("/data/{key}/items", bind(_dataset)),
            Route("/script/{sid}", bind(_scripted)),
            Route("/echo", bind(_echo)),
            Route("/oauth/token", bind(_token), methods=["POST"]),
            Route("/oauth/items", bind(_oauth_items)),
        ]
    )


class PlatformServer:
    """Runs the app on a free loopback port until stop()."""

    def __init__(self) -> None:
        self.state = PlatformState()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.state), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PlatformServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test platform did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def script(self, *answers: Scripted) -> str:
        sid = self.state.key()
        self.state.scripts[sid] = list(answers)
        return sid

    def dataset(self, records: list[dict[str, Any]], kind: str) -> str:
        key = self.state.key()
        self.state.datasets[key] = (records, kind)
        return f"/data/{key}/items"
