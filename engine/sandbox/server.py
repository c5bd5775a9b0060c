"""Running the sandbox on uvicorn: `serve` (blocking, for `etl sandbox`) and `running_sandbox`
(a background thread on a free loopback port, for tests and `base_url: embedded`).
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from engine.sandbox.app import build_app
from engine.sandbox.core import Sandbox, SandboxConfig

DEFAULT_VERSION = "2026-10"
START_TIMEOUT_S = 10.0


def serve(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve a sandbox until interrupted (SIGINT / SIGTERM), then close its database."""
    sb = Sandbox(config)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; with this handler in
    # place that ends as SystemExit(0), so the database below is closed, not cut off.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server = uvicorn.Server(
            uvicorn.Config(build_app(sb), host=host, port=port, log_level="info")
        )
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_workers(sb)
        sb.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class AdminClient(httpx.Client):
    """An httpx client bound to a sandbox's /_sandbox admin API, with a few helpers."""

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Every /api request received, in order (bodies included, API keys left out)."""
        params = {k: v for k, v in {"method": method, "path": path}.items() if v is not None}
        return list(self._ok(self.get("/requests", params=params))["requests"])

    def records(self, kind: str) -> list[dict[str, Any]]:
        """Every stored commerce record of a kind (product, variant, order, ...)."""
        return list(self._ok(self.get(f"/records/{kind}"))["records"])

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt (served by the webhooks module)."""
        return list(self._ok(self.get("/deliveries"))["deliveries"])

    def reset(self) -> None:
        """Wipe every table and restore the startup knobs (rate limit, faults, latency, seed)."""
        self._ok(self.post("/reset"))

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change rate_limit, fail_rate, latency_ms or seed while the sandbox runs."""
        return dict(self._ok(self.post("/config", json=knobs)))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()


@dataclasses.dataclass
class SandboxHandle:
    """A running sandbox: where it listens, its state, and an admin client."""

    base_url: str
    sandbox: Sandbox
    admin: AdminClient
    api_key: str

    def api_url(self, version: str = DEFAULT_VERSION) -> str:
        return f"{self.base_url}/api/{version}"

    def client(self, version: str = DEFAULT_VERSION, **kwargs: Any) -> httpx.Client:
        """An httpx client for Loop's API on this sandbox, authenticated with the first key."""
        headers = {"X-Authorization": self.api_key, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.api_url(version), headers=headers, **kwargs)


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, **overrides: Any
) -> Iterator[SandboxHandle]:
    """Start a sandbox on a free loopback port in a background thread; stop it on exit."""
    config = dataclasses.replace(config or SandboxConfig(), **overrides)
    sb = Sandbox(config)
    # Binding the socket here (port 0) and handing it to uvicorn avoids a pick-then-bind race.
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it every response waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(sb),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"loop-sandbox-{port}", daemon=True
    )
    base_url = f"http://127.0.0.1:{port}"
    admin = AdminClient(base_url=f"{base_url}/_sandbox", timeout=10)
    try:
        thread.start()
        _wait_started(server, thread)
        yield SandboxHandle(base_url, sb, admin, config.api_keys[0])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        admin.close()
        sock.close()
        _stop_workers(sb)
        sb.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server stopped while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox server did not start within {START_TIMEOUT_S} s")
        time.sleep(0.005)


def _stop_workers(sb: Sandbox) -> None:
    """Stop the webhook delivery worker (and its HTTP client) before the database closes."""
    from engine.sandbox import webhooks

    webhooks.shutdown(sb)
