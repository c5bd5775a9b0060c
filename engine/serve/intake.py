"""Intake for the receiver: deliveries are made durable in the state's spool, in batches, and
answered; the mover (a background job) moves them into the DuckDB inbox soon after.

A DuckDB transaction here costs 6-11 ms however few rows it writes, an fdatasync of a batch
about 1 ms: answering once a delivery is in the spool keeps the answer's wait to one small
write and sync, and leaves DuckDB to the mover, whose batches grow with the load. Deliveries
that arrive while one batch is written wait and go together in the next (group commit).
Whether a delivery repeats one already received is answered from a bounded memory of recent
keys (filled from the inbox at start); the inbox itself counts every repeat when moved.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from starlette.concurrency import run_in_threadpool

from engine.net.retry import RetryPolicy
from engine.serve.server import ThreadJob
from engine.state import Received, State
from engine.state.inbox import WEBHOOK, received

log = logging.getLogger(__name__)

MAX_BATCH = 500
# Keys remembered to answer `duplicate`: Loop retries a delivery within hours, at most; past
# this many later events a repeat is answered as new (the inbox still counts it a duplicate).
RECENT_KEYS = 100_000
LINGER_S = 0.02
RETRY = RetryPolicy(max_retries=8, backoff_s=0.5, max_backoff_s=30.0)


class RecentKeys:
    """The last `limit` keys seen, oldest forgotten first."""

    def __init__(self, keys: Iterable[str], limit: int = RECENT_KEYS) -> None:
        self.limit = limit
        self._keys: OrderedDict[str, None] = OrderedDict((k, None) for k in keys)
        self._trim()

    def add(self, key: str) -> bool:
        """True when the key was not remembered (it is now)."""
        if key in self._keys:
            return False
        self._keys[key] = None
        self._trim()
        return True

    def _trim(self) -> None:
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)


class Intake:
    """Spools deliveries in batches; `store` returns once its delivery is durable."""

    def __init__(
        self,
        state: State,
        on_stored: Callable[[], None] = lambda: None,
        max_batch: int = MAX_BATCH,
        recent: int = RECENT_KEYS,
    ) -> None:
        self.state = state
        self.on_stored = on_stored
        self.max_batch = max_batch
        self.recent = RecentKeys(state.recent_keys(recent), recent)
        self._pending: list[tuple[bytes, asyncio.Future[tuple[bool, Received]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, raw: bytes) -> tuple[bool, Received]:
        """Store a delivery's body: (whether it is new, the event read from it). Raises what
        the state raised when it could not be stored."""
        future: asyncio.Future[tuple[bool, Received]] = asyncio.get_running_loop().create_future()
        self._pending.append((raw, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        """Write batches until nothing waits (runs on the event loop; the writes in a thread)."""
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                events = await run_in_threadpool(self._spool, [raw for raw, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            # Decided here, one batch after another on the loop: copies arriving together
            # are new once. Only what is durable is remembered.
            for (_, future), event in zip(batch, events, strict=True):
                new = self.recent.add(event.key)
                if not future.done():  # the sender may have hung up; its event is stored
                    future.set_result((new, event))
            self.on_stored()

    def _spool(self, raws: Sequence[bytes]) -> list[Received]:
        events = [received(raw, WEBHOOK) for raw in raws]  # parsing too stays off the loop
        self.state.spool_events(raws)
        return events


class Mover(ThreadJob):
    """Moves the spool into the inbox on a background thread, soon after `wake()`; calls
    `on_moved` when new events are in the inbox (the worker's wake-up)."""

    name, thread_name = "spool mover", "spool-mover"

    def __init__(
        self,
        state: State,
        on_moved: Callable[[], None] = lambda: None,
        *,
        linger_s: float = LINGER_S,
        poll_s: float = 1.0,
        retry: RetryPolicy = RETRY,
    ) -> None:
        super().__init__()
        self.state = state
        self.on_moved = on_moved
        self.linger_s = linger_s
        self.poll_s = poll_s
        self.retry = retry

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop, moving what is spooled once more, so that a cleanly stopped state file holds
        every event (else the next opening of the state moves it)."""
        super().stop(timeout_s)
        try:
            self.state.move_spool()
        except Exception:
            log.exception("the spool could not be moved into the inbox; it is moved next start")

    def _run(self) -> None:
        errors = 0
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            # Let deliveries gather a moment: a move costs about the same however many it holds.
            if self._stop.wait(self.linger_s):
                break
            self._wake.clear()
            try:
                new = self.state.move_spool()
            except Exception:  # the state file failed (full disk?): the spool keeps the events
                errors += 1
                log.exception("the spool could not be moved into the inbox; retrying")
                self._stop.wait(self.retry.ceiling(errors))
                continue
            errors = 0
            if new:
                self.on_moved()
