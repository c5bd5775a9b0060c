"""The `Idempotency-Key` header on the demo's creating writes (orders, gift cards).

A key's first successful answer (2xx) is kept with a fingerprint of the request (method, path,
parsed body): a repeat with the same request gets that answer again and creates nothing; the same
key on a different request is refused (422). Refusals (4xx) are not kept, so a request fixed after
a 422 can reuse its key, as with Stripe's keys. Keys live 24 h of demo time, at most 10,000 of them
(the oldest go first), so memory stays bounded however long the demo runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL_S = 24 * 3600
MAX_KEYS = 10_000
MAX_KEY_LENGTH = 255
MEDIA = "application/json; charset=utf-8"
MISMATCH = {"errors": {"idempotency_key": ["was used with a different request"]}}
Handler = Callable[[Request], Awaitable[Response]]
# record(request, body, status, payload, replayed): how the app logs a write in /_demo/writes.
Recorder = Callable[[Request, Any, int, Any, bool], None]


@dataclass(frozen=True)
class Remembered:
    """A key's first successful answer and the request it answered."""

    fingerprint: str
    status: int
    body: bytes
    at: int


class IdempotencyTable:
    """Key -> remembered answer, oldest first; expired keys are dropped as time goes on."""

    def __init__(self, ttl_s: int = TTL_S, max_keys: int = MAX_KEYS) -> None:
        self.ttl_s, self.max_keys = ttl_s, max_keys
        self._entries: OrderedDict[str, Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: int) -> Remembered | None:
        self._expire(now)
        found = self._entries.get(key)
        return found if found is not None and now - found.at < self.ttl_s else None

    def remember(self, key: str, entry: Remembered) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def _expire(self, now: int) -> None:
        # Entries are kept in the order they were made, so the expired ones lead.
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.at < self.ttl_s:
                return
            self._entries.popitem(last=False)


def fingerprint(method: str, path: str, raw: bytes) -> str:
    """The request as a hash; a JSON body is compared parsed, so key order and spacing do not
    make two equal requests differ."""
    try:
        body: Any = json.loads(raw) if raw else None
        text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    except ValueError:
        text = json.dumps([method, path, raw.hex()])
    return hashlib.sha256(text.encode()).hexdigest()


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def idempotent(
    table: IdempotencyTable, clock: Callable[[], int], record: Recorder, handler: Handler
) -> Handler:
    """Wraps a creating write so the `Idempotency-Key` header makes it happen at most once."""
    lock = asyncio.Lock()  # check, create and remember as one step per key

    async def run(request: Request) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        raw = await request.body()
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            errors = {"idempotency_key": [f"must be 1 to {MAX_KEY_LENGTH} characters"]}
            record(request, _parsed(raw), 400, {"errors": errors}, False)
            return Response(json.dumps({"errors": errors}), 400, media_type=MEDIA)
        mark = fingerprint(request.method, request.url.path, raw)
        async with lock:
            known = table.get(key, clock())
            if known is not None:
                return _replay(request, raw, known, mark, record)
            response = await handler(request)
            if 200 <= response.status_code < 300:
                table.remember(
                    key, Remembered(mark, response.status_code, bytes(response.body), clock())
                )
            return response

    return run


def _replay(
    request: Request, raw: bytes, known: Remembered, mark: str, record: Recorder
) -> Response:
    if known.fingerprint != mark:
        record(request, _parsed(raw), 422, MISMATCH, False)
        return Response(json.dumps(MISMATCH), 422, media_type=MEDIA)
    record(request, _parsed(raw), known.status, json.loads(known.body), True)
    return Response(known.body, known.status, {REPLAYED_HEADER: "true"}, media_type=MEDIA)
