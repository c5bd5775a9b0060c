"""One DuckDB transaction on a shared connection, under its lock (state and sandbox alike)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import duckdb

T = TypeVar("T")
CONFLICT_ATTEMPTS = 5


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


def retrying(attempt: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """`attempt()` (one whole transaction), run again when DuckDB refused its commit because
    another connection to the same file wrote the same row meanwhile; the last refusal raises."""
    for n in range(attempts):
        try:
            return attempt()
        except duckdb.TransactionException:
            if n == attempts - 1:
                raise
            time.sleep(0.001 * 2**n)
    raise AssertionError("unreachable")
