"""Opening the state's DuckDB: its folder, a clear error when another process holds it, and
the memory limit DuckDB may use (ETL_STATE_MEMORY_LIMIT).

DuckDB's buffer pool keeps every block it has read or written cached until its memory limit
(80 % of the machine by default) is reached, so a run that stages raw records grows with the
records it staged. A limit makes it evict instead: peak RSS stays flat however long the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import duckdb

from engine.errors import StateError

MEMORY_LIMIT_ENV = "ETL_STATE_MEMORY_LIMIT"
# Measured (tests/bench/bench_pipeline.py --parts memory): a run staging 10k orders peaks at
# 328 MiB and one of 100k at 391 MiB (x1.19); without a limit 467 and 2,543 MiB. The cost is
# local throughput: 0.79x of no limit for the engine's local pass (0.92x at 128MiB), which
# a run paced by Loop's 300 requests a minute never feels. Queries larger than the limit spill
# to a temporary folder beside the state file rather than fail.
DEFAULT_MEMORY_LIMIT = "64MiB"


def connect(path: str, limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the file (or ':memory:') with the memory limit applied."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = duckdb.connect(path)
    except duckdb.IOException as exc:
        detail = str(exc).removeprefix("IO Error: ")
        if "lock" in detail.lower():
            raise StateError(
                f"cannot open the state file {path}: another process is using it, and DuckDB "
                f"lets one process at a time open a file for writing ({detail})"
            ) from None
        raise StateError(f"cannot open the state file {path}: {exc}") from None
    try:
        apply(db, memory_limit(limit))
    except StateError:
        db.close()
        raise
    return db


def memory_limit(given: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The limit to apply: `given`, else ETL_STATE_MEMORY_LIMIT when set, else the default."""
    if given:
        return given
    value = (os.environ if env is None else env).get(MEMORY_LIMIT_ENV, "").strip()
    return value or DEFAULT_MEMORY_LIMIT


def apply(db: duckdb.DuckDBPyConnection, limit: str) -> None:
    """Set the limit on the database (every connection and cursor of it shares it)."""
    try:
        db.execute("SET memory_limit = ?", [limit])
    except duckdb.Error as exc:
        raise StateError(
            f"{MEMORY_LIMIT_ENV} (the state's memory limit) is {limit!r}, not a size DuckDB "
            f"reads such as 64MiB or 1GB ({exc})"
        ) from None


def applied(db: duckdb.DuckDBPyConnection) -> str:
    """The memory limit DuckDB reports for this connection, as it spells it ('61.0 MiB')."""
    row = db.execute("SELECT current_setting('memory_limit')").fetchone()
    return str(row[0]) if row else ""
