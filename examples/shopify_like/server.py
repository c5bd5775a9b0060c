"""Serving the shopify-like demo: in a background thread for tests and the engine, or blocking."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from examples.shopify_like import admin
from examples.shopify_like.app import create_app
from examples.shopify_like.data import generate
from examples.shopify_like.store import Store
from examples.shopify_like.webhooks import DEFAULT_SECRET, Webhooks

API_VERSION = "2024-01"


@dataclass
class ShopHandle:
    """A running demo shop: its URLs and direct access to the demo admin calls."""

    base_url: str
    store: Store
    token: str
    webhooks: Webhooks | None = None  # the shop's change webhooks (subscriptions, deliveries)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/admin/api/{API_VERSION}"

    def touch(
        self, entity: str, ids: list[int] | None = None, count: int | None = None
    ) -> list[int]:
        return admin.touch(self.store, entity, ids, count)

    def corrupt(self, entity: str, ids: list[int] | None = None, count: int | None = None,
                kinds: list[str] | None = None) -> list[int]:  # fmt: skip
        return admin.corrupt(self.store, entity, ids, count, kinds)

    def restore(
        self, entity: str, ids: list[int] | None = None, count: int | None = None
    ) -> list[int]:
        return admin.restore(self.store, entity, ids, count)

    def delay_answers(self, path_suffix: str, seconds: float, count: int = 1) -> dict[str, Any]:
        """Arms the `answer_delay` fault: the next `count` POSTs to a path ending so are applied
        at once and answered `seconds` later."""
        spec = {"path_suffix": path_suffix, "seconds": seconds, "count": count}
        return admin.set_answer_delay(self.store, spec)

    def fail_refunds(self, order_id: int, count: int = 1) -> dict[str, Any]:
        """Arms the `refunds_fail` fault: the next `count` refunds of the order answer 422."""
        return admin.set_faults(
            self.store, {"refunds_fail": {"order_id": order_id, "count": count}}
        )

    def deliveries(self) -> list[dict[str, Any]]:
        """The change webhooks sent (or being sent): topic, address, status, attempts."""
        return self.webhooks.deliveries() if self.webhooks is not None else []

    def writes(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return list(self.store.writes)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for the Admin API, token set."""
        return httpx.Client(
            base_url=self.api_url, headers={"X-Shopify-Access-Token": self.token}, **kwargs
        )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _config(store: Store, token: str, port: int, hooks: Webhooks) -> uvicorn.Config:
    return uvicorn.Config(create_app(store, token, hooks), host="127.0.0.1", port=port, log_level="warning",
                          access_log=False, lifespan="off", timeout_graceful_shutdown=1)  # fmt: skip


@contextmanager
def running_shopify_like(orders: int = 200, seed: int = 1, token: str = "demo", port: int = 0,
                         currency: str = "USD", webhook_secret: str = DEFAULT_SECRET,
                         ) -> Iterator[ShopHandle]:  # fmt: skip
    """Serves a demo shop on a loopback port (0: a free one) in a background thread; its
    change webhooks are signed with `webhook_secret`."""
    store = Store(generate(orders=orders, seed=seed, currency=currency))
    hooks = Webhooks(store, webhook_secret)
    sock = _bind("127.0.0.1", port)
    server = uvicorn.Server(_config(store, token, sock.getsockname()[1], hooks))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="shopify-like")  # fmt: skip
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            hooks.close()
            raise RuntimeError("the shopify-like demo server did not start")
        time.sleep(0.005)
    try:
        yield ShopHandle(f"http://127.0.0.1:{sock.getsockname()[1]}", store, token, hooks)
    finally:
        hooks.close()
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def serve(port: int, orders: int, seed: int, token: str = "demo", host: str = "127.0.0.1",
          on_ready: Callable[[str], None] | None = None,
          webhook_secret: str = DEFAULT_SECRET) -> None:  # fmt: skip
    """Serves until interrupted (the `etl demo shopify-like` command); port 0 picks a free one."""
    store = Store(generate(orders=orders, seed=seed))
    hooks = Webhooks(store, webhook_secret)
    sock = _bind(host, port)
    config = _config(store, token, sock.getsockname()[1], hooks)
    config.host = host
    if on_ready is not None:
        on_ready(f"http://{host}:{sock.getsockname()[1]}")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        hooks.close()
        sock.close()
