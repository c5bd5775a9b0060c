"""transaction(db, lock): committed on success, rolled back on any exception, lock held."""

from __future__ import annotations

import threading

import duckdb
import pytest

from engine.state.tx import transaction


def test_transaction_commits_or_rolls_back_everything() -> None:
    db, lock = duckdb.connect(":memory:"), threading.RLock()
    db.execute("CREATE TABLE t (n INTEGER)")
    with transaction(db, lock) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(KeyboardInterrupt), transaction(db, lock) as tx:
        tx.execute("INSERT INTO t VALUES (2)")
        raise KeyboardInterrupt
    assert db.execute("SELECT n FROM t").fetchall() == [(1,)]


def test_transaction_holds_the_lock_until_it_ends() -> None:
    db, lock = duckdb.connect(":memory:"), threading.RLock()
    with transaction(db, lock):
        seen: list[bool] = []
        other = threading.Thread(target=lambda: seen.append(lock.acquire(blocking=False)))
        other.start()
        other.join()
        assert seen == [False]
