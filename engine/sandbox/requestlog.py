"""The sandbox's request log (table sandbox_requests): rows held in memory, written in batches.

One INSERT a request cost a DuckDB statement and a commit each; held back and written as one
multi-row INSERT, a batch of them costs about what one did. Rows are written when BATCH_ROWS
are waiting, FLUSH_AFTER_S after the first of a batch arrived (a timer thread: not the
sandbox's worker, whose queue length the deliveries API reports as pending), and before
anything reads the table through the sandbox (`Sandbox.flush`: the admin API, close).
So a reader of the database file sees a request at most FLUSH_AFTER_S late, and a killed
process loses at most that much of its log (never a commerce record: those are committed
before the response).
"""

from __future__ import annotations

import threading
from typing import Any

from engine.sandbox.core import Sandbox

REQUEST_LOG_DDL = (
    "CREATE TABLE IF NOT EXISTS sandbox_requests ("
    " seq BIGINT PRIMARY KEY, received_at TIMESTAMPTZ NOT NULL, method TEXT NOT NULL,"
    " path TEXT NOT NULL, query TEXT NOT NULL, headers JSON NOT NULL, body BLOB NOT NULL,"
    " status INTEGER, fault TEXT, duration_ms DOUBLE NOT NULL)"
)
COLUMNS = 10
BATCH_ROWS = 200
FLUSH_AFTER_S = 0.05
TRIM_EVERY = 100  # requests: the log is trimmed to `request_log_rows` this often


class RequestLog:
    """The rows of sandbox_requests not yet written, and the writing of them."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self._rows: list[list[Any]] = []
        self._timer: threading.Timer | None = None
        self._closed = False
        with sb.lock:
            sb.db.execute(REQUEST_LOG_DDL)
            row = sb.db.execute("SELECT coalesce(max(seq), 0) FROM sandbox_requests").fetchone()
        self.last_seq = int(row[0]) if row else 0
        sb.reset_hooks.append(self._reset)
        sb.flush_hooks.append(self.flush)
        sb.close_hooks.append(self._close)

    def add(self, row: list[Any]) -> None:
        """Hold one row (the table's columns, in order, seq first) until the next flush."""
        with self.sb.lock:
            self._rows.append(row)
            if len(self._rows) >= BATCH_ROWS:
                self.flush()
            elif self._timer is None and not self._closed:
                self._timer = threading.Timer(FLUSH_AFTER_S, self._flush_due)
                self._timer.daemon = True
                self._timer.start()

    def _flush_due(self) -> None:
        with self.sb.lock:
            self._timer = None
            if not self._closed:  # else close() writes the rows, before the database closes
                self.flush()

    def flush(self) -> None:
        """Write the held rows as one statement, then trim the log to its configured size."""
        with self.sb.lock:
            rows, self._rows = self._rows, []
            if not rows:
                return
            values = ", ".join(["(" + ", ".join("?" * COLUMNS) + ")"] * len(rows))
            params = [value for row in rows for value in row]
            self.sb.db.execute(f"INSERT INTO sandbox_requests VALUES {values}", params)
            first, last = self.last_seq, max(self.last_seq, int(rows[-1][0]))
            self.last_seq = last
            keep = self.sb.config.request_log_rows
            if keep < TRIM_EVERY or last // TRIM_EVERY != first // TRIM_EVERY:
                self.sb.db.execute("DELETE FROM sandbox_requests WHERE seq <= ?", [last - keep])

    def _close(self) -> None:
        with self.sb.lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()

    def _reset(self) -> None:
        """Called under the reset's transaction: the held rows go with the table's."""
        self._rows.clear()
        self.sb.db.execute("DELETE FROM sandbox_requests")
