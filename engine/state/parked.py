"""Parked records: quarantined (bad, with reasons and stage) or held (waiting for a reference)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import duckdb

from engine import redaction
from engine.state.codec import dumps, dumps_or_null, loads_or_none


class ParkedTable(StrEnum):
    """The two tables a record can be parked in; a StrEnum, so 'held' == ParkedTable.HELD."""

    QUARANTINE = "quarantine"
    HELD = "held"

    @property
    def other(self) -> ParkedTable:
        return ParkedTable.HELD if self is ParkedTable.QUARANTINE else ParkedTable.QUARANTINE


@dataclass(frozen=True)
class Parked:
    """A record set aside: quarantined (bad), held back (waiting for a reference) or deferred
    (`send: referenced`, with its aliases: a lookup `via` one of them finds it)."""

    key: str
    reasons: list[str]
    record: Any
    parent: Any = None
    stage: str = ""
    aliases: tuple[tuple[str, str], ...] = ()


def rows(
    db: duckdb.DuckDBPyConnection, table: ParkedTable, entity: str | None = None
) -> list[dict[str, Any]]:
    """The parked rows of one table (all entities, or one), ordered by entity and key."""
    # Held rows have no stage column: their stage reads 'held'.
    stage = "stage" if table is ParkedTable.QUARANTINE else "'held'"
    sql = f"SELECT entity, key, {stage}, reasons, record, parent, run_id, created_at FROM {table}"
    params: list[Any] = []
    if entity is not None:
        sql += " WHERE entity = ?"
        params.append(entity)
    found = db.execute(sql + " ORDER BY entity, key", params).fetchall()
    return [
        {
            "entity": r[0],
            "key": r[1],
            "stage": r[2],
            "reasons": json.loads(r[3]),
            "record": json.loads(r[4]),
            "parent": loads_or_none(r[5]),
            "run_id": r[6],
            "created_at": r[7].isoformat(),
        }
        for r in found
    ]


def per_entity(
    db: duckdb.DuckDBPyConnection, table: ParkedTable, run_id: int | None = None
) -> dict[str, int]:
    """Rows parked in the table per entity (only those a given run parked, with run_id)."""
    if run_id is None:
        found = db.execute(f"SELECT entity, count(*) FROM {table} GROUP BY entity").fetchall()
    else:
        found = db.execute(
            f"SELECT entity, count(*) FROM {table} WHERE run_id = ? GROUP BY entity", [run_id]
        ).fetchall()
    return {entity: int(n) for entity, n in found}


def release(db: duckdb.DuckDBPyConnection, entity: str, keys: Sequence[str]) -> None:
    """The keys are parked no more (synced, or settled unchanged): drop them from both tables."""
    if keys:
        for table in ParkedTable:
            db.execute(
                f"DELETE FROM {table} WHERE entity = ? AND key IN (SELECT unnest(?))",
                [entity, list(keys)],
            )


def write(
    db: duckdb.DuckDBPyConnection,
    table: ParkedTable,
    entity: str,
    parked: Sequence[Parked],
    run_id: int,
    now: datetime,
) -> None:
    """Park the records in the table, moving any out of the other one (a key is parked once)."""
    if not parked:
        return
    keys = [p.key for p in parked]
    db.execute(
        f"DELETE FROM {table.other} WHERE entity = ? AND key IN (SELECT unnest(?))",
        [entity, keys],
    )
    quarantine = table is ParkedTable.QUARANTINE
    stage_col = "unnest(?), " if quarantine else ""
    stage_args = [[p.stage for p in parked]] if quarantine else []
    db.execute(
        f"INSERT INTO {table} SELECT ?, unnest(?), {stage_col}unnest(?)::JSON, "
        "unnest(?)::JSON, unnest(?)::JSON, ?, ? ON CONFLICT DO UPDATE SET "
        + ("stage = excluded.stage, " if quarantine else "")
        + "reasons = excluded.reasons, record = excluded.record, "
        "parent = excluded.parent, run_id = excluded.run_id, created_at = excluded.created_at",
        [
            entity,
            keys,
            *stage_args,
            [dumps(stored_reasons(p.reasons)) for p in parked],
            [dumps(p.record) for p in parked],
            [dumps_or_null(p.parent) for p in parked],
            run_id,
            now,
        ],
    )


MAX_REASONS = 50
MAX_REASON_CHARS = 2000


def stored_reasons(reasons: list[str]) -> list[str]:
    """Reasons as the state keeps them: no value from the environment in them (a 2xx answer
    or an error text may quote one), each at most MAX_REASON_CHARS, at most MAX_REASONS."""
    kept = [_clip(redaction.scrub(str(r))) for r in reasons[:MAX_REASONS]]
    if len(reasons) > MAX_REASONS:
        kept.append(f"... and {len(reasons) - MAX_REASONS} more reasons")
    return kept


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "..."
