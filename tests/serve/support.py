"""Shared helpers for the receiver tests: Loop-style bodies, signing, a running receiver."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from engine.serve import ReceiverSettings, ServeProcess, build_process, running_server
from engine.state import State

SECRET = "receiver-test-secret"
PREVIOUS = "receiver-previous-secret"
_ids = itertools.count(90_000_000_000_000_001)


def return_event(
    return_id: int | str | None = None,
    state: str = "open",
    trigger: str = "return.created",
    **fields: Any,
) -> dict[str, Any]:
    """A `return` webhook body as Loop documents it (ids as strings by default)."""
    rid = str(next(_ids)) if return_id is None else return_id
    return {
        "topic": "return",
        "trigger": trigger,
        "shop_id": "77",
        "id": rid,
        "state": state,
        "created_at": "2026-03-01T10:00:00+00:00",
        "edited_at": None,
        "total": "63.30",
        "currency": "USD",
        "status_page_url": "https://returns.example.com/r/1",
        **fields,
    }


def signed(body: Any, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """Loop's bytes for the body (PHP-style JSON) and its signature header."""
    raw = body if isinstance(body, bytes) else php_json(body)
    return raw, {SIGNATURE_HEADER: sign(secret, raw), "Content-Type": "application/json"}


@dataclass
class Receiver:
    """A receiver on a loopback port over its own state file."""

    url: str
    state: State
    process: ServeProcess
    http: httpx.Client

    def post(self, body: Any, secret: str = SECRET) -> httpx.Response:
        raw, headers = signed(body, secret)
        return self.http.post("/webhooks/loop", content=raw, headers=headers)

    def settle(self) -> None:
        """Process whatever is due now, in this thread (the worker may be doing it too)."""
        assert self.process.worker is not None
        self.process.worker.drain()


@contextmanager
def running_receiver(
    path: Path,
    secrets: tuple[str, ...] = (SECRET,),
    *,
    max_body_bytes: int = 1 << 20,
    process_events: bool = True,
    spool_max_bytes: int = 1 << 28,
) -> Iterator[Receiver]:
    with State(path, spool_max_bytes=spool_max_bytes) as state:
        process = build_process(
            state, ReceiverSettings(secrets, max_body_bytes), process_events=process_events
        )
        with (
            running_server(process.app, process.jobs) as url,
            httpx.Client(base_url=url, timeout=10) as http,
        ):
            yield Receiver(url, state, process, http)
