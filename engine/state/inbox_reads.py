"""The inbox's reads, as `State` offers them: each moves what the spool holds into the inbox
first, so that a read sees every delivery answered so far."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb

from engine.state import inbox


class InboxReads:
    """Mixed into `State`, which provides the connection, its lock and `move_spool`."""

    db: duckdb.DuckDBPyConnection
    lock: threading.RLock

    def move_spool(self) -> int:
        raise NotImplementedError

    def recent_keys(self, limit: int) -> list[str]:
        """The keys of the last `limit` events received, oldest first."""
        self.move_spool()
        with self.lock:
            return inbox.recent_keys(self.db, limit)

    def replay_event(self, key: str) -> bool:
        """Mark an event to be processed again; False when no event has that key."""
        self.move_spool()
        with self.lock:
            return inbox.replay(self.db, key)

    def inbox_counts(self) -> dict[str, int]:
        """Events per status, and `duplicates`: deliveries recognised as already stored."""
        self.move_spool()
        with self.lock:
            return inbox.counts(self.db)

    def inbox_last_received(self) -> datetime | None:
        self.move_spool()
        with self.lock:
            return inbox.last_received(self.db)

    def inbox_events(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every event (or those with one status), oldest first, without bodies."""
        self.move_spool()
        with self.lock:
            return inbox.rows(self.db, status)

    def inbox_event(self, key: str) -> dict[str, Any] | None:
        """One event with its raw body, or None."""
        self.move_spool()
        with self.lock:
            return inbox.get(self.db, key)

    def return_effects(self) -> list[dict[str, Any]]:
        """Every (return, state) transition recorded, once each."""
        self.move_spool()
        with self.lock:
            return inbox.effects(self.db)
