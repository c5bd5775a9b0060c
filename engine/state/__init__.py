"""The mapping's state in one DuckDB file: raw records, ID map, cursors, runs, parked records,
and the inbox of received Loop events with its once-per-(return, state) effect record; beside
the file, the spool (spool.py) where `etl serve` makes deliveries durable before they are moved
into the inbox (opening the state, and every read of the inbox, moves what it holds first).

`State` is the one object callers hold: it opens the file (connection.py: its folder, DuckDB's
memory limit), checks and migrates the schema version, owns the connection and its lock, and
applies retention (retention.py) and compacts the file (compact.py) as it closes; its reads
come from two mixins (record_reads.py: cursors, ID map, parked and deferred records;
inbox_reads.py: the inbox). Each table's SQL lives in its own module (runs, cursors, idmap,
parked, deferred, raw, inbox, rules, outbox), and `batch` writes a batch's outcome.
Every write is a batch (list parameters unnested in SQL, never one row per call), and what a
batch decides about its records — ID map rows, quarantine and held-back rows, the cursor — is
written in one transaction, so a crash leaves either all of it or none of it.
DuckDB allows one writing process per file: the process that runs owns the file.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import StateError
from engine.state import (
    batch,
    cursors,
    deferred,
    idmap,
    inbox,
    raw,
    rules,
    runs,
    schema,
    spool,
)
from engine.state.batch import BatchOutcome
from engine.state.codec import now
from engine.state.compact import on_close
from engine.state.connection import connect
from engine.state.idmap import Synced
from engine.state.inbox import InboxEvent, Received, Settlement
from engine.state.inbox_reads import InboxReads
from engine.state.outbox import Outbox
from engine.state.parked import Parked, ParkedTable
from engine.state.record_reads import RecordReads
from engine.state.retention import prune_on_close, retention_days
from engine.state.runs import RunHandle
from engine.state.spool import MAX_UNMOVED, Spool
from engine.state.tx import retrying, transaction

log = logging.getLogger(__name__)

__all__ = [
    "BatchOutcome",
    "InboxEvent",
    "Parked",
    "ParkedTable",
    "Received",
    "RunHandle",
    "Settlement",
    "State",
    "Synced",
]


class State(RecordReads, InboxReads):
    """One mapping's state file. Thread-safe: one connection, one lock."""

    def __init__(
        self,
        path: str | Path,
        *,
        spool_max_bytes: int = MAX_UNMOVED,
        memory_limit: str | None = None,
        keep_raw: bool | None = None,
    ) -> None:
        """`memory_limit`: DuckDB's (default: connection.memory_limit()); `keep_raw`: whether
        raw records are staged (default: ETL_STATE_RAW, raw.keep_raw())."""
        self.path = str(path)
        self.retention_days = retention_days()  # a bad environment fails at once
        self.keep_raw = raw.keep_raw() if keep_raw is None else keep_raw
        self.db = connect(self.path, memory_limit)
        self.lock = threading.RLock()
        # Intake has a connection of its own to the same database: storing a delivery never
        # waits behind the worker's or a sync's statements. DuckDB runs both transactions side
        # by side; the rare write to one row from both is retried (tx.retrying).
        self._intake_db: duckdb.DuckDBPyConnection | None = None
        self._intake_lock = threading.RLock()
        self._migrate()
        # One move at a time: the offset read, the events written and the offset recorded
        # must not interleave with another move's.
        self._move_lock = threading.Lock()
        self._scratch: str | None = None
        try:
            self.spool = self._open_spool(spool_max_bytes)
        except BaseException:
            self._release()
            raise
        try:
            with self.transaction() as db:
                self._spool_at = spool.recorded(db, self.spool.ident)
            self.spool.moved(self._spool_at)
            self.move_spool()  # what a previous process answered and did not move
        except BaseException:
            self.close()
            raise

    def _migrate(self) -> None:
        """Create or upgrade the tables; a refused file is released, usable by others."""
        try:
            with self.transaction() as db:
                schema.migrate(db, self.path)
        except BaseException:
            self.db.close()
            raise

    def _open_spool(self, max_bytes: int) -> Spool:
        """The spool beside the file (in a scratch folder for a state in memory)."""
        if self.path == ":memory:":
            self._scratch = tempfile.mkdtemp(prefix="etl-spool-")
        where = f"{self._scratch}/state" if self._scratch is not None else self.path
        try:
            return Spool(spool.spool_path(where), max_bytes)
        except OSError as exc:
            raise StateError(f"cannot open the spool beside {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the file, compacting it first when it has grown enough (compact.py)."""
        with self._move_lock, self.lock, self._intake_lock:
            self.spool.close()
            if self._intake_db is not None:
                self._intake_db.close()
                self._intake_db = None
            prune_on_close(self.transaction, self.path, self.retention_days)
            on_close(self.db, self.path)
            self._release()

    def _release(self) -> None:
        if self._intake_db is not None:
            self._intake_db.close()
        self.db.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reverse_lookup(
        self, entities: Sequence[str], loop_ids: Sequence[int]
    ) -> dict[int, tuple[str, str, Any]]:
        """Loop id -> (entity, platform key, extra) among these entities."""
        with self.lock:
            return idmap.reverse(self.db, entities, loop_ids)

    def aliases_of(self, entity: str, key: str) -> dict[str, str]:
        with self.lock:
            return idmap.aliases_of(self.db, entity, key)

    @property
    def outbox(self) -> Outbox:
        """Bucket IV's outbox (engine/state/outbox.py), on this state's connection."""
        return Outbox(self.db, self.lock)

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The connection, locked, inside one transaction (rolled back on error)."""
        return transaction(self.db, self.lock)

    # -- runs --------------------------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.lock:
            return runs.start(self.db, command)

    def finish_run(self, run_id: int, status: str, summary: Any) -> None:
        with self.lock:
            runs.finish(self.db, run_id, status, summary)

    def runs(self, limit: int = 5) -> list[dict[str, Any]]:
        with self.lock:
            return runs.recent(self.db, limit)

    def run(self, command: str) -> AbstractContextManager[RunHandle]:
        """A run from start to finish: 'ok' (or the handle's status), 'failed', 'interrupted'."""
        return runs.run(self.db, self.lock, command)

    # -- writes (one transaction per batch) --------------------------------------------------
    def stage_raw(
        self, entity: str, rows: Iterable[tuple[str, Any, str | None]], run_id: int
    ) -> None:
        """What the platform said, as it said it: (key, record, parent key)."""
        if self.keep_raw:  # only with ETL_STATE_RAW=on (raw.py)
            with self.lock:
                raw.stage(self.db, entity, rows, run_id)

    def commit(self, outcome: BatchOutcome, run_id: int) -> None:
        """Write a batch's outcome atomically: ID map, aliases, parked rows, cursor."""
        with self.transaction() as db:
            batch.write(db, outcome, run_id)

    def reindex_deferred_aliases(
        self, entity: str, spec: str, named: dict[tuple[str, str], str]
    ) -> None:
        """Replace the entity's deferred alias index, built with the mapping's `aliases:`."""
        with self.transaction() as db:
            deferred.reindex(db, entity, spec, named)

    def set_cursor(self, name: str, value: str) -> None:
        """Save a cursor outside a batch (the returns poll's)."""
        with self.lock:
            cursors.put(self.db, name, value, now())

    def forget_cursor(self, entity: str | None = None) -> None:
        """--full-refresh: extract everything again (the ID map and hashes stay)."""
        with self.lock:
            cursors.forget(self.db, entity)

    # -- rule firings (bucket III) ------------------------------------------------------------
    def claim_rule(self, return_id: str, rule: str, trigger: str) -> bool:
        """True the first time only, for this return and rule (the firing is then recorded)."""
        with self.lock:
            return rules.claim(self.db, return_id, rule, trigger, now())

    def release_rule(self, return_id: str, rule: str) -> None:
        with self.lock:
            rules.release(self.db, return_id, rule)

    def finish_rule(
        self, return_id: str, rule: str, status: str, actions: list[Any], reason: str | None
    ) -> None:
        with self.lock:
            rules.finish(self.db, return_id, rule, status, actions, reason)

    def rule_firings(self, return_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return rules.every(self.db, return_id)

    # -- the inbox (received Loop events) ----------------------------------------------------
    def receive_event(self, event: Received) -> bool:
        """Store a received event unless its key is known: True when new, False for a
        duplicate (counted on the stored row, nothing stored twice)."""
        return self.receive_events([event])[0]

    def receive_events(self, events: Sequence[Received]) -> list[bool]:
        """Store a batch of received events in one transaction: per event, whether it is new."""

        def attempt() -> list[bool]:
            with transaction(self._intake(), self._intake_lock) as db:
                return inbox.insert(db, events, now())

        return retrying(attempt)

    def spool_events(self, raws: Sequence[bytes]) -> None:
        """Make deliveries' bodies durable in the spool (moved into the inbox later, by
        `move_spool`). SpoolFull when too much waits to be moved, StateError when the spool
        cannot be written."""
        self.spool.append(raws)

    def move_spool(self) -> int:
        """Move what the spool holds into the inbox (keys and duplicates as `receive_events`),
        recording how far in the same transaction: how many events were new."""
        with self._move_lock:
            new, end = 0, self.spool.size
            # Only what is in the spool now: moving on while appends keep coming would hold
            # the lock (and keep the worker's reads waiting) as long as the load lasts.
            while self._spool_at < end:
                raws, stop = self.spool.frames(self._spool_at)
                if not raws:
                    break
                new += sum(self._move(raws, self.spool.ident, stop))
                self._spool_at = stop
                self.spool.moved(stop)
            if self.spool.size >= spool.ROTATE_BYTES:
                self._rotate()
            return new

    def _rotate(self) -> None:
        """Start the spool file again with what came since the move (it would only grow)."""
        try:
            self.spool.rotate()
        except OSError as exc:  # the old file stays whole and in use: try again next move
            log.warning("cannot start the spool %s again: %s", self.spool.path, exc)
            return
        self._spool_at = spool.HEADER

    def _move(self, raws: Sequence[bytes], ident: bytes, stop: int) -> list[bool]:
        events = [inbox.received(raw, inbox.WEBHOOK) for raw in raws]

        def attempt() -> list[bool]:
            with transaction(self._intake(), self._intake_lock) as db:
                stored = inbox.insert(db, events, now())
                spool.record(db, ident, stop)
                return stored

        return retrying(attempt)

    def _intake(self) -> duckdb.DuckDBPyConnection:
        with self._intake_lock:
            if self._intake_db is None:
                self._intake_db = self.db.cursor()
            return self._intake_db

    def due_events(self, limit: int, keys: Sequence[str] | None = None) -> list[InboxEvent]:
        """Received events, and failed ones whose retry is due, oldest first."""
        self.move_spool()
        with self.lock:
            return inbox.due(self.db, now(), limit, keys)

    def settle_events(self, settled: Sequence[Settlement]) -> None:
        """Statuses and new (return, state) effects of processed events, in one transaction."""

        def attempt() -> None:
            with self.transaction() as db:
                inbox.settle(db, settled, now())

        retrying(attempt)
