"""The inbox worker: processes received events off the request path, retrying failures with
backoff, each batch's statuses and effects written in one transaction.

Processing an event here is: parse it, validate it against its schema in `schemas/events/`,
and record the (return, state) transition it reports once (later work hangs actions on that
record). An event that can never be processed (not JSON, no topic, a shape its schema refuses)
is `unprocessable` with every reason; one whose processing raised is `failed` and tried again
at `next_attempt_at` (full-jitter backoff, `engine.net.retry`) until its attempts run out.
After a crash, events whose batch was not committed are simply still due: nothing is lost,
and nothing committed is processed again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from engine.net.retry import RetryPolicy
from engine.serve.metrics import Metrics
from engine.serve.server import ThreadJob
from engine.state import InboxEvent, Settlement, State
from engine.state.codec import now
from engine.state.inbox import FAILED, PROCESSED, UNPROCESSABLE, parse, return_id, state_of, text
from engine.state.retention import prune_now
from engine.validation import validator

log = logging.getLogger(__name__)

# Topics Loop documents (loop-api.md §3.1); those with a schema in schemas/events/ are checked.
SCHEMAS = {"return": "events/return", "label": "events/label", "restock": "events/restock"}
TOPICS = (*SCHEMAS, "label.request", "giftcard", "happy.returns.shipment", "return.processing")
BATCH = 200
PRUNE_EVERY_S = 3600.0  # retention (engine/state/retention.py) applied once an hour
RETRY = RetryPolicy(max_retries=8, backoff_s=1.0, max_backoff_s=600.0)

Processor = Callable[[InboxEvent], Settlement]


def process(event: InboxEvent) -> Settlement:
    """One event's outcome: processed (with the (return, state) it reports), or unprocessable
    with every reason. Raises only for what a retry may cure."""
    body, problem = parse(event.body)
    if body is None:
        return Settlement(event.key, UNPROCESSABLE, (problem or "unreadable body",))
    topic = body.get("topic")
    if not isinstance(topic, str) or topic not in TOPICS:
        shown = repr(topic)[:60] if isinstance(topic, str) else "none"
        known = ", ".join(TOPICS)
        reason = f"the body's topic is {shown}: not one Loop sends ({known})"
        return Settlement(event.key, UNPROCESSABLE, (reason,))
    if topic in SCHEMAS:
        issues = validator(SCHEMAS[topic]).errors(body)
        if issues:
            return Settlement(event.key, UNPROCESSABLE, tuple(str(i) for i in issues))
    if topic == "return.processing":  # Process is asynchronous at Loop: this says it failed
        said = text(body.get("message")) or "no message"
        rid = return_id(topic, body)
        log.warning("Loop failed to process return %s: %s", rid, said)
        reason = f"Loop failed to process return {rid} ({body.get('return_state')}): {said}"
        return Settlement(event.key, PROCESSED, (reason,))
    return Settlement(event.key, PROCESSED, effect=_transition(topic, body))


def _transition(topic: str, body: dict[str, Any]) -> tuple[str, str] | None:
    """(return id, state) for a return event that names both."""
    if topic != "return":
        return None
    rid, state = return_id(topic, body), state_of(body.get("state"))
    return (rid, state) if rid is not None and state is not None else None


class Worker(ThreadJob):
    """Drains the inbox on a background thread; `wake()` after storing an event."""

    name, thread_name = "inbox worker", "inbox-worker"

    def __init__(
        self,
        state: State,
        metrics: Metrics | None = None,
        *,
        processor: Processor = process,
        retry: RetryPolicy = RETRY,
        batch: int = BATCH,
        poll_s: float = 0.5,
        linger_s: float = 0.25,
    ) -> None:
        super().__init__()  # stop() finishes the batch in hand; what is left stays due
        self.state = state
        self.metrics = metrics
        self.processor = processor
        self.retry = retry
        self.batch = batch
        self.poll_s = poll_s
        self.linger_s = linger_s
        self._draining = threading.Lock()
        self._next_prune = time.monotonic()  # the first pass prunes what a stop left

    def drain(self, keys: Sequence[str] | None = None) -> int:
        """Process every event due now (or only these keys), batch by batch: how many."""
        done = 0
        with self._draining:  # one drain at a time: an event read twice would settle twice
            while not self._stop.is_set():
                events = self.state.due_events(self.batch, keys)
                if not events:
                    break
                settled = [self._settle(event) for event in events]
                self.state.settle_events(settled)
                self._count(settled)
                done += len(settled)
        return done

    def _settle(self, event: InboxEvent) -> Settlement:
        try:
            return self.processor(event)
        except Exception as exc:  # anything may be cured by a retry: record it, try later
            attempt = event.attempts + 1
            reason = f"attempt {attempt}: {type(exc).__name__}: {exc}"
            log.warning("inbox event %s failed (%s)", event.key, reason)
            if attempt > self.retry.max_retries:
                return Settlement(event.key, FAILED, (reason, "no attempts left"))
            # At least backoff_s: full jitter may draw ~0, and an instant retry burns attempts.
            delay = timedelta(seconds=max(self.retry.backoff_s, self.retry.delay(attempt - 1)))
            return Settlement(event.key, FAILED, (reason,), next_attempt_at=now() + delay)

    def _count(self, settled: Sequence[Settlement]) -> None:
        if self.metrics is None:
            return
        for status in (PROCESSED, FAILED, UNPROCESSABLE):
            n = sum(1 for s in settled if s.status == status)
            if n:
                self.metrics.settled(status, n)

    def _prune_when_due(self) -> None:
        """Retention, once an hour while the process lives (and again as the state closes)."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            prune_now(self.state.transaction, self.state.retention_days)
        except Exception:  # retention can wait for the next hour; events cannot
            log.exception("could not apply the retention to the state")

    def _run(self) -> None:
        errors = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                done = self.drain()
            except Exception:  # the state file failed (full disk?): keep the process up, retry
                errors += 1
                log.exception("the inbox worker could not process events; retrying")
                self._stop.wait(self.retry.ceiling(errors))
                continue
            errors = 0
            self._prune_when_due()
            if done:
                # Under load, let events gather for a moment: a batch costs about the same
                # however many it holds, and each one holds the state lock intake needs.
                self._stop.wait(self.linger_s)
            else:
                self._wake.wait(self.poll_s)
