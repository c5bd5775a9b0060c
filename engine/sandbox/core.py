"""Sandbox state and the pieces every route shares: config, DuckDB, ids, auth, limits, faults.

Route modules (commerce, returns, webhooks) each expose `routes(sb) -> Routes` and keep their
tables in `sb.db`, always under `sb.lock` (one DuckDB connection, many threads).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.errors import ConfigError
from engine.net.budget import parse_rate as parse_budget_rate
from engine.sandbox.records import RecordCache
from engine.sandbox.worker import Worker
from engine.state.tx import transaction

API_VERSIONS = ("2026-10", "2026-07", "v1", "unstable")
DEFAULT_API_KEY = "sandbox"
# Loop ids are 64-bit and above 2**53, so a client that parses them as floats breaks here too.
ID_BASE = 2**53 + 1_000_003
DEFAULT_SHOP_ID = 2**53 + 4242
UNAUTHORIZED_BODY = {
    "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
}


# The settings that are shares of events (0 to 1).
RATES = ("fail_rate", "webhook_duplicate_rate", "webhook_reorder_rate", "process_fail_rate")


def parse_rate(text: str) -> tuple[int, float]:
    """'300/min' -> (300, 60.0); '0/min' disables the limit. ValueError when malformed."""
    try:
        return parse_budget_rate(text)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


@dataclass
class SandboxConfig:
    """How a sandbox behaves. Defaults are Loop's documented behaviour."""

    db_path: str = ":memory:"
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    webhook_secret: str = "sandbox-webhook-secret"
    rate_limit: str = "300/min"
    fail_rate: float = 0.0
    latency_ms: int = 0
    seed: int | None = None
    # Webhook delivery retries, as Loop's (loop-api.md §3.3): 5 after the first attempt, with
    # exponential backoff and jitter from this first backoff (Loop's own is not documented).
    webhook_retries: int = 5
    webhook_backoff_s: float = 0.5
    # Multiplies every wait of the delivery schedule (backoff, Retry-After, reorder delays):
    # 0.01 runs a 30-minute Retry-After in 18 s. Loop's 30-minute cap is checked unscaled.
    webhook_time_scale: float = 1.0
    # How long one delivery attempt may take before it counts as a connection error.
    webhook_timeout_s: float = 5.0
    # Loop sends X-Loop-Signature and nothing else of its own; True adds the sandbox's
    # X-Loop-Webhook-Id, X-Loop-Event-Id and X-Loop-Webhook-Attempt (for debugging only).
    webhook_debug_headers: bool = False
    # Faults a receiver must survive: the share of deliveries sent twice, and the share held
    # back by 0.5-1x webhook_reorder_delay_s so that later events overtake them.
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhook_reorder_delay_s: float = 2.0
    # The share of processings (process, remove, automatic close) that fail: process still
    # answers 200 "true", then return.processing.failed is sent and the return keeps its state.
    process_fail_rate: float = 0.0
    # Loop's returns data and webhooks carry ids as strings; True sends 64-bit integers.
    integer_ids: bool = False
    # False: processing a return sends no restock.requested (a return can also opt out alone).
    restock_webhooks: bool = True
    # The shop every return and webhook subscription belongs to.
    shop_id: int = DEFAULT_SHOP_ID
    # Bodies larger than this are answered 413 without being read further or stored.
    max_body_bytes: int = 10 * 1024 * 1024
    # The request log keeps the newest this many requests, and this many bytes of each body.
    request_log_rows: int = 100_000
    request_log_body_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        parse_rate(self.rate_limit)
        if self.webhook_timeout_s <= 0:
            raise ValueError("webhook_timeout_s must be positive")
        for name in RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("webhook_retries", "webhook_backoff_s", "webhook_time_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.webhook_reorder_delay_s < 0:
            raise ValueError("webhook_reorder_delay_s must not be negative")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if not self.api_keys:
            raise ValueError("at least one API key is needed")
        if min(self.max_body_bytes, self.request_log_rows, self.request_log_body_bytes) < 1:
            raise ValueError("body and request log limits must be positive")


def _connect(db_path: str) -> duckdb.DuckDBPyConnection:
    """The sandbox's database. Without fsync (DuckDB >= 2.0's `fsync_mode`): a commit then
    costs a write to the OS, not a wait for the disk, and the sandbox commits once a request.
    A killed process still loses nothing (the OS has the writes); only an OS crash or power
    loss may, which a stand-in for Loop on a developer's machine or in CI can afford."""
    try:
        return duckdb.connect(db_path, config={"fsync_mode": "NONE"})
    except duckdb.InvalidInputException:  # an older DuckDB without the setting
        return duckdb.connect(db_path)


class BadBody(ValueError):
    """A request body that is not JSON the sandbox can store (see json_body)."""


def json_body(raw: bytes) -> Any:
    """The JSON in a request body. BadBody (a ValueError, as json.loads raises) for what is
    not UTF-8 JSON, nests too deep to parse, or holds a lone surrogate ("\\ud800"), which
    no UTF-8 store can keep."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadBody("The request body nests too deeply.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadBody(f"The request body is not valid JSON: {exc}.") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("The request body holds text that is not valid Unicode.") from None
    except RecursionError:
        raise BadBody("The request body nests too deeply.") from None
    return value


def ascii_float(text: str) -> float | None:
    """A finite number written in ASCII, else None."""
    try:
        value = float(text) if text.isascii() else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def ascii_int(text: str, max_digits: int = 19) -> int | None:
    """A whole number written in ASCII digits (an optional leading '-'), else None: `'²'` and
    other Unicode digits that str.isdigit() accepts are refused, and so is a 100-digit id."""
    body = text[1:] if text.startswith("-") else text
    if not (body.isascii() and body.isdigit() and len(body) <= max_digits):
        return None
    return int(text)


class RateLimiter:
    """A sliding window per API key, as Loop counts: N requests in any window of W seconds."""

    def __init__(self, rate: str) -> None:
        self.limit, self.window = parse_rate(rate)
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def set_rate(self, rate: str) -> None:
        with self._lock:
            self.limit, self.window = parse_rate(rate)
            self._hits.clear()


class EventSink(Protocol):
    """Where the sandbox's events go: the webhook sender (`delivery.Sender`) once mounted."""

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        """Queues the event for every matching subscription; returns how many."""
        ...


class NoSubscribers:
    """The event sink of a sandbox without the webhook sender: events reach no one."""

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        return 0


@dataclass(frozen=True)
class Routes:
    """What one route module mounts: Loop's API under /api/{version}, its admin under /_sandbox."""

    api: list[BaseRoute]
    admin: list[BaseRoute] = field(default_factory=list)


@dataclass
class Sandbox:
    """One sandbox's state: a DuckDB connection guarded by a lock, an id source, and knobs."""

    config: SandboxConfig = field(default_factory=SandboxConfig)

    def __post_init__(self) -> None:
        self.db = _connect(self.config.db_path)
        self.lock = threading.RLock()
        self.rng = random.Random(self.config.seed)
        self.limiter = RateLimiter(self.config.rate_limit)
        # Called (under the lock, inside one transaction) by POST /_sandbox/reset: each route
        # module that owns tables appends a hook that empties them.
        self.reset_hooks: list[Callable[[], None]] = []
        # Called by close() after the worker stops and before the database closes.
        self.close_hooks: list[Callable[[], None]] = []
        # Called (under the lock) by flush(): each module that holds rows back in memory (the
        # request log) appends one that writes them, before its table is read as a whole.
        self.flush_hooks: list[Callable[[], None]] = []
        # Work done off the request path: return processing, webhook delivery attempts.
        self.worker = Worker(name="loop-sandbox-worker")
        self.events: EventSink = NoSubscribers()
        self._in_transaction = False
        with self.lock:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS sandbox_ids (name TEXT PRIMARY KEY, next_id UBIGINT)"
            )
            self.db.execute(
                "INSERT INTO sandbox_ids VALUES ('loop', ?) ON CONFLICT DO NOTHING", [ID_BASE]
            )
            row = self.db.execute("SELECT next_id FROM sandbox_ids WHERE name = 'loop'").fetchone()
            assert row is not None
            self._next_id = int(row[0])
            # Every commerce object (kind: product, variant, customer, location, inventory,
            # collection, order), stored as the body Loop would return for it.
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS commerce_records ("
                " kind TEXT NOT NULL, id UBIGINT NOT NULL, external_id TEXT,"
                " parent_id UBIGINT, body JSON NOT NULL, seq BIGINT NOT NULL,"
                " PRIMARY KEY (kind, id))"
            )
            self.records = RecordCache(self.db)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, locked, inside one transaction (rolled back on error). Ids handed
        out inside are written once, at the end; a rollback gives them back, as the database's
        counter does, and the records cache forgets what the transaction wrote."""
        with self.lock:
            first_free = self._next_id
            self.records.begin()
            self._in_transaction = True
            try:
                with transaction(self.db, self.lock) as db:
                    yield db
                    self._save_next_id(first_free)
            except BaseException:
                self._next_id = first_free
                self.records.rollback()
                raise
            finally:
                self._in_transaction = False
            self.records.commit()

    def new_ids(self, count: int = 1) -> list[int]:
        """Fresh 64-bit Loop ids (all above 2**53), durable across restarts with a file db.
        The counter is kept in memory, and written once per transaction (see `transaction`)."""
        with self.lock:
            start = self._next_id
            self._next_id = start + count
            if not self._in_transaction:
                self._save_next_id(start)
        return [start + i for i in range(count)]

    def _save_next_id(self, before: int) -> None:
        if self._next_id != before:
            self.db.execute(
                "UPDATE sandbox_ids SET next_id = ? WHERE name = 'loop'", [self._next_id]
            )

    def new_id(self) -> int:
        return self.new_ids(1)[0]

    def get_record(self, kind: str, loop_id: int) -> dict[str, Any] | None:
        """The stored commerce object of that kind and Loop id, as Loop would return it."""
        with self.lock:
            body = self.records.get(kind, loop_id)
        return None if body is None else dict(json.loads(body))

    def flush(self) -> None:
        """Writes what is held back in memory (see flush_hooks) to its table."""
        with self.lock:
            for hook in self.flush_hooks:
                hook()

    def close(self) -> None:
        """Stops the background work, then closes what it used, then the database."""
        self.worker.stop()
        for hook in self.close_hooks:
            hook()
        with self.lock:
            self.flush()
            self.db.close()


def wants_string_ids(request: Request) -> bool:
    return request.headers.get("x-loop-global-identifier-type", "").lower() == "string"


def stringify_ids(value: Any, extra: tuple[str, ...] = ()) -> Any:
    """`value` with every integer under an id key (`id`, `*_id`, or a key in `extra`) written
    as a string, in lists under such a key too (`"line_items": [1, 2]` in a label)."""
    if isinstance(value, dict):
        return {k: _id_value(k, v, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify_ids(v, extra) for v in value]
    return value


def _id_value(key: str, value: Any, extra: tuple[str, ...]) -> Any:
    if key == "id" or key.endswith("_id") or key in extra:
        if _is_int(value):
            return str(value)
        if isinstance(value, list):
            return [str(v) if _is_int(v) else stringify_ids(v, extra) for v in value]
    return stringify_ids(value, extra)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def chance(rng: random.Random, rate: float) -> bool:
    """Whether a fault with this rate fires; rates 0 and 1 draw nothing from `rng`, so turning
    a fault fully on or off leaves the sequence of the others unchanged."""
    if rate >= 1.0:
        return True
    return rate > 0.0 and rng.random() < rate


def loop_json(request: Request, body: Any, status: int = 200) -> Response:
    """A JSON response as Loop sends it; ids become strings when the client asked for that."""
    if wants_string_ids(request):
        body = stringify_ids(body)
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
    )


def error_json(request: Request, status: int, message: str, errors: Any = None) -> Response:
    """Laravel-style error body: {"message": ..., "errors": {...}} (errors left out when None)."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return loop_json(request, body, status)
