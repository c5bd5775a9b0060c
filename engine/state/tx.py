"""One DuckDB transaction on a shared connection, under its lock (state and sandbox alike)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(
    db: duckdb.DuckDBPyConnection, lock: threading.RLock
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection, locked, inside one transaction: committed, or rolled back on error."""
    with lock:
        db.execute("BEGIN TRANSACTION")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
