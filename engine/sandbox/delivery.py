"""Signed webhook deliveries, retried as Loop retries them (loop-api.md §3.3), with the faults a
receiver must survive.

Per event and active subscription whose topic and trigger match:

- the body is serialised as PHP's `json_encode` does and `X-Loop-Signature` signs those exact
  bytes, both by `engine.loop.webhooks` (the module a receiver verifies with). Loop documents no
  other header of its own, so by default none is sent; `webhook_debug_headers` adds
  `X-Loop-Webhook-Id` (the same on every retry of one delivery), `X-Loop-Event-Id` (shared by all
  deliveries of one event) and `X-Loop-Webhook-Attempt` (from 1), which Loop does not send;
- attempts run on the sandbox's background worker, never in the request that caused the event.
  Up to `webhook_retries` (5) retries follow an answer in `RETRIED` or a connection error, after
  an exponential backoff with jitter, or after the receiver's Retry-After when it asks for one
  (over 30 minutes: the delivery fails). Any other non-2xx answer ends the delivery at once;
- `webhook_duplicate_rate` sends a delivery twice, `webhook_reorder_rate` holds one back so that
  later events overtake it; every attempt is a row in `sandbox_webhook_attempts`.
"""

from __future__ import annotations

import email.utils
import functools
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from engine.sandbox.core import Sandbox, SandboxConfig, chance

# (topic, trigger) -> (id, url) of every active subscription to them.
Subscribers = Callable[[str, str], list[tuple[int, str]]]
USER_AGENT = "Loop-Sandbox-Webhooks/1.0"
# Retried as Loop documents: 500 and 503 (and connection errors, status None). Loop's docs say
# nothing of 408, 409, 429, 502 and 504; the sandbox retries them as most senders do. Every other
# answer (400, 401, 403, 404 and 405 are documented) ends the delivery: the event is lost.
RETRIED = frozenset({500, 503, 408, 409, 429, 502, 504})
# Loop honours Retry-After up to 30 minutes; a longer one fails the delivery.
MAX_RETRY_AFTER_S = 30 * 60.0
_DDL = (
    "CREATE TABLE IF NOT EXISTS sandbox_webhook_attempts (seq BIGINT NOT NULL,"
    " delivery_id TEXT NOT NULL, subscription_id UBIGINT NOT NULL, event_id TEXT NOT NULL,"
    " topic TEXT NOT NULL, trigger TEXT NOT NULL, url TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " request_body TEXT NOT NULL, signature TEXT NOT NULL, status INTEGER, error TEXT,"
    " attempted_at TEXT NOT NULL, duration_ms DOUBLE NOT NULL, retry_in_s DOUBLE)",
    # Added after the first release: a file database from then gains the column.
    "ALTER TABLE sandbox_webhook_attempts ADD COLUMN IF NOT EXISTS fault TEXT",
)
ATTEMPT_COLUMNS = (
    "seq",
    "delivery_id",
    "subscription_id",
    "event_id",
    "topic",
    "trigger",
    "url",
    "attempt",
    "request_body",
    "signature",
    "status",
    "error",
    "attempted_at",
    "duration_ms",
    "retry_in_s",
    "fault",
)


@dataclass(frozen=True)
class Delivery:
    """One event going to one subscription: the same id, body and signature on every attempt.
    `fault` names the injected fault (duplicate, delayed), if any."""

    delivery_id: str
    subscription_id: int
    event_id: str
    topic: str
    trigger: str
    url: str
    body: bytes
    signature: str
    fault: str | None = None


@dataclass(frozen=True)
class Answer:
    """What one attempt got: an HTTP status and its Retry-After, or the connection error."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a receiver's Retry-After asks for: delta-seconds or an HTTP date; None when
    absent or unreadable. (engine.net.retry has the engine's own, but the sandbox may import
    only shared ground from the engine: see tests/test_architecture.py.)"""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def next_try(
    config: SandboxConfig, rng: random.Random, answer: Answer, number: int
) -> tuple[float | None, str | None]:
    """(seconds until the next attempt, or None when this one was the last; why it failed for
    good, when the answer itself does not say) after attempt `number` (from 1)."""
    if answer.ok or (answer.status is not None and answer.status not in RETRIED):
        return None, None
    if number > config.webhook_retries:
        return None, None
    if answer.retry_after is not None:
        if answer.retry_after > MAX_RETRY_AFTER_S:
            why = f"Retry-After of {answer.retry_after:g} s is over 30 minutes: delivery failed"
            return None, why
        return answer.retry_after * config.webhook_time_scale, None
    ceiling = config.webhook_backoff_s * 2 ** (number - 1)
    # "Equal jitter": between half and all of the exponential step, so retries spread out
    # while the schedule still grows.
    return ceiling * (0.5 + rng.random() / 2) * config.webhook_time_scale, None


class Sender:
    """A sandbox's webhook sender: its attempts table, HTTP client and random source; `emit`
    queues an event for every subscription that wants it."""

    def __init__(self, sb: Sandbox, subscribers: Subscribers) -> None:
        self.sb = sb
        self.subscribers = subscribers
        self.client = httpx.Client(
            timeout=sb.config.webhook_timeout_s, headers={"User-Agent": USER_AGENT}
        )
        # Jitter and delivery faults draw from their own source, so the API's seeded fault
        # sequence does not depend on how many webhooks went out.
        self.rng = random.Random(sb.config.seed)
        self._seq_lock = threading.Lock()
        with sb.lock:
            for ddl in _DDL:
                sb.db.execute(ddl)
            row = sb.db.execute(
                "SELECT coalesce(max(seq), 0) FROM sandbox_webhook_attempts"
            ).fetchone()
        self._seq = int(row[0]) if row else 0
        sb.reset_hooks.append(self.reset)
        sb.close_hooks.append(self.client.close)

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def reset(self) -> None:
        with self.sb.lock:
            self.sb.db.execute("DELETE FROM sandbox_webhook_attempts")
        self.rng.seed(self.sb.config.seed)

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        """Queues `payload` for every active subscription to topic + trigger; returns how many."""
        subs = self.subscribers(topic, trigger)
        if not subs:
            return 0
        body = php_json(payload)
        signature = sign(self.sb.config.webhook_secret, body)
        event_id = uuid.uuid4().hex
        for sub_id, url in subs:
            first = Delivery(
                uuid.uuid4().hex, int(sub_id), event_id, topic, trigger, url, body, signature
            )
            self._queue(first)
            if chance(self.rng, self.sb.config.webhook_duplicate_rate):
                self._queue(replace(first, delivery_id=uuid.uuid4().hex), "duplicate")
        return len(subs)

    def _queue(self, delivery: Delivery, *faults: str) -> None:
        """Submits the first attempt, held back when the reorder fault fires."""
        config = self.sb.config
        delay = 0.0
        if chance(self.rng, config.webhook_reorder_rate):
            delay = config.webhook_reorder_delay_s * (0.5 + self.rng.random() / 2)
            delay *= config.webhook_time_scale
            faults = (*faults, "delayed")
        if faults:
            delivery = replace(delivery, fault=",".join(faults))
        self.sb.worker.submit(functools.partial(self.attempt, delivery, 1), delay_s=delay)

    def attempt(self, delivery: Delivery, number: int) -> None:
        """One POST of a delivery; records it and, when Loop would retry, schedules the next."""
        started = time.monotonic()
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        answer = self._post(delivery, number)
        retry_in, why = next_try(self.sb.config, self.rng, answer, number)
        row = [
            self.next_seq(),
            delivery.delivery_id,
            delivery.subscription_id,
            delivery.event_id,
            delivery.topic,
            delivery.trigger,
            delivery.url,
            number,
            delivery.body.decode(),
            delivery.signature,
            answer.status,
            answer.error or why,
            stamp,
            (time.monotonic() - started) * 1000,
            retry_in,
            delivery.fault,
        ]
        with self.sb.lock:
            self.sb.db.execute(
                f"INSERT INTO sandbox_webhook_attempts ({', '.join(ATTEMPT_COLUMNS)})"
                f" VALUES ({','.join('?' * len(row))})",
                row,
            )
        if retry_in is not None:
            self.sb.worker.submit(
                functools.partial(self.attempt, delivery, number + 1), delay_s=retry_in
            )

    def _post(self, delivery: Delivery, number: int) -> Answer:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: delivery.signature}
        if self.sb.config.webhook_debug_headers:
            headers["X-Loop-Webhook-Id"] = delivery.delivery_id
            headers["X-Loop-Event-Id"] = delivery.event_id
            headers["X-Loop-Webhook-Attempt"] = str(number)
        try:
            response = self.client.post(delivery.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}")
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Answer(response.status_code, retry_after=retry_after)
