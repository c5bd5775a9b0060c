"""Running the sandbox on uvicorn: `listen` + `serve` (blocking, for `etl sandbox`) and
`running_sandbox` (a background thread on a free loopback port, for tests and `base_url: embedded`).
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

from engine.net.sockets import listen as _listen
from engine.sandbox.app import build_app
from engine.sandbox.core import Sandbox, SandboxConfig

DEFAULT_VERSION = "2026-10"
START_TIMEOUT_S = 10.0


def listen(host: str = "127.0.0.1", port: int = 8787) -> socket.socket:
    """engine.net.sockets.listen, with this server's default port."""
    return _listen(host, port)


def serve(config: SandboxConfig, sock: socket.socket) -> None:
    """Serve a sandbox on a socket from `listen` until interrupted (SIGINT / SIGTERM), then
    close the socket and the sandbox's database."""
    host, port = sock.getsockname()[:2]
    sb = Sandbox(config)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; with this handler in
    # place that ends as SystemExit(0), so the database below is closed, not cut off.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server = uvicorn.Server(
            uvicorn.Config(build_app(sb), host=host, port=port, log_level="info")
        )
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
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
        """Every webhook delivery attempt, oldest first."""
        return list(self._ok(self.get("/deliveries"))["deliveries"])

    def reset(self) -> None:
        """Wipe every table and restore the startup knobs (rate limit, faults, latency, seed)."""
        self._ok(self.post("/reset"))

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change run-time knobs while the sandbox runs (rate_limit, fail_rate, latency_ms,
        seed, webhook_duplicate_rate, webhook_reorder_rate, webhook_reorder_delay_s,
        process_fail_rate)."""
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
    sock = listen("127.0.0.1", 0)
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
        sb.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server stopped while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox server did not start within {START_TIMEOUT_S} s")
        time.sleep(0.005)
