"""Runs: one row per command that wrote the state, from 'running' to its final status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import duckdb

from engine import interrupt, redaction
from engine.state.codec import dumps, loads_or_none, now

OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"  # Ctrl-C, or SystemExit (which a SIGTERM handler raises)


@runtime_checkable
class Summarised(Protocol):
    """A summary object whose as_dict() is what the run row keeps."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class RunHandle:
    """A run in progress: its id, and the status and summary it will finish with.

    `summary` is JSON-able, or an object with `as_dict()` read when the run finishes, so a
    run that fails halfway keeps what it had counted by then.
    """

    run_id: int
    status: str = OK
    summary: Any = None

    def final_summary(self) -> Any:
        if isinstance(self.summary, Summarised):
            return self.summary.as_dict()
        return self.summary


def start(db: duckdb.DuckDBPyConnection, command: str) -> int:
    row = db.execute("SELECT nextval('run_ids')").fetchone()
    assert row is not None
    run_id = int(row[0])
    db.execute("INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', NULL)", [run_id, command, now()])
    return run_id


def finish(db: duckdb.DuckDBPyConnection, run_id: int, status: str, summary: Any) -> None:
    db.execute(
        "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
        [now(), status, redaction.scrub(dumps(summary)), run_id],
    )


def recent(db: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """The last `limit` runs, newest first."""
    rows = db.execute(
        "SELECT run_id, command, started_at, finished_at, status, summary FROM runs "
        "ORDER BY run_id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        {
            "run_id": r[0],
            "command": r[1],
            "started_at": r[2].isoformat(),
            "finished_at": r[3].isoformat() if r[3] else None,
            "status": r[4],
            "summary": loads_or_none(r[5]),
        }
        for r in rows
    ]


@contextmanager
def run(db: duckdb.DuckDBPyConnection, lock: threading.RLock, command: str) -> Iterator[RunHandle]:
    """Start a run, yield its handle, and finish it whichever way the block ends.

    A normal exit records the handle's status (default 'ok'); an exception records 'failed',
    and KeyboardInterrupt or SystemExit 'interrupted' (any exception once a SIGTERM asked the
    process to stop: engine.interrupt), keeping the summary, then re-raises.
    The lock is held only to write the run row, never across the block.
    """
    with lock:
        handle = RunHandle(start(db, command))
    try:
        yield handle
    except (KeyboardInterrupt, SystemExit):
        _end(db, lock, handle, INTERRUPTED)
        raise
    except BaseException:  # a query a SIGTERM cut short fails as RuntimeError: still a stop
        _end(db, lock, handle, INTERRUPTED if interrupt.asked() else FAILED)
        raise
    _end(db, lock, handle, handle.status)


def _end(
    db: duckdb.DuckDBPyConnection, lock: threading.RLock, handle: RunHandle, status: str
) -> None:
    summary = handle.final_summary()
    with lock:
        finish(db, handle.run_id, status, summary)
