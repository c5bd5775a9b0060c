"""Cursors: per entity, how far extraction has read the source (the incremental bookmark)."""

from __future__ import annotations

from datetime import datetime

import duckdb


def get(db: duckdb.DuckDBPyConnection, entity: str) -> str | None:
    row = db.execute("SELECT value FROM cursors WHERE entity = ?", [entity]).fetchone()
    return None if row is None else row[0]


def every(db: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(db.execute("SELECT entity, value FROM cursors").fetchall())


def put(db: duckdb.DuckDBPyConnection, entity: str, value: str, now: datetime) -> None:
    db.execute(
        "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
        "value = excluded.value, updated_at = excluded.updated_at",
        [entity, value, now],
    )


def forget(db: duckdb.DuckDBPyConnection, entity: str | None = None) -> None:
    if entity is None:
        db.execute("DELETE FROM cursors")
    else:
        db.execute("DELETE FROM cursors WHERE entity = ?", [entity])
