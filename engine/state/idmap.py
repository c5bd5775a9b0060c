"""The ID map: the Loop id each source key became, its payload hash and extra, and aliases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from engine.state.codec import dumps_or_null, loads_or_none

LINES = "lines"  # an order's `extra` key: order line external_id -> Loop line id


@dataclass(frozen=True)
class Synced:
    """A record Loop accepted: its key, Loop id, payload hash and extra (order line ids)."""

    key: str
    loop_id: int
    payload_hash: str
    extra: dict[str, Any] | None = None


def lookup(
    db: duckdb.DuckDBPyConnection, entity: str, keys: Sequence[str]
) -> dict[str, tuple[int, str | None, Any]]:
    """key -> (loop_id, payload_hash, extra) for the keys the ID map knows."""
    if not keys:
        return {}
    rows = db.execute(
        "SELECT key, loop_id, payload_hash, extra FROM id_map "
        "WHERE entity = ? AND key IN (SELECT unnest(?))",
        [entity, list(set(keys))],
    ).fetchall()
    return {r[0]: (int(r[1]), r[2], loads_or_none(r[3])) for r in rows}


def lookup_alias(
    db: duckdb.DuckDBPyConnection, entity: str, alias: str, alias_keys: Sequence[str]
) -> dict[str, int]:
    """alias_key -> loop_id, through the entity's alias table."""
    if not alias_keys:
        return {}
    rows = db.execute(
        "SELECT a.alias_key, m.loop_id FROM id_aliases a JOIN id_map m "
        "ON m.entity = a.entity AND m.key = a.key WHERE a.entity = ? AND a.alias = ? "
        "AND a.alias_key IN (SELECT unnest(?))",
        [entity, alias, list(set(alias_keys))],
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def reverse(
    db: duckdb.DuckDBPyConnection, entities: Sequence[str], loop_ids: Sequence[int]
) -> dict[int, tuple[str, str, Any]]:
    """Loop id -> (entity, key, extra) among these entities: the platform's record behind a
    Loop id (outcomes turn the ids in Loop's events back into the platform's)."""
    if not entities or not loop_ids:
        return {}
    rows = db.execute(
        "SELECT loop_id, entity, key, extra FROM id_map WHERE entity IN (SELECT unnest(?)) "
        "AND loop_id IN (SELECT unnest(?::UBIGINT[]))",
        [list(entities), sorted(set(loop_ids))],
    ).fetchall()
    return {int(r[0]): (str(r[1]), str(r[2]), loads_or_none(r[3])) for r in rows}


def aliases_of(db: duckdb.DuckDBPyConnection, entity: str, key: str) -> dict[str, str]:
    """The other platform keys a record is known by (alias -> its key there)."""
    rows = db.execute(
        "SELECT alias, alias_key FROM id_aliases WHERE entity = ? AND key = ?", [entity, key]
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def loop_ids(db: duckdb.DuckDBPyConnection, entity: str) -> dict[str, int]:
    """Every key of the entity -> its Loop id."""
    rows = db.execute("SELECT key, loop_id FROM id_map WHERE entity = ?", [entity]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def per_entity(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in the ID map, per entity."""
    rows = db.execute("SELECT entity, count(*) FROM id_map GROUP BY entity").fetchall()
    return {entity: int(n) for entity, n in rows}


def write(
    db: duckdb.DuckDBPyConnection,
    entity: str,
    synced: Sequence[Synced],
    aliases: Sequence[tuple[str, str, str]],
    now: datetime,
    unchanged: Sequence[tuple[str, str, str]] = (),
) -> None:
    """A batch's synced part: ID map rows (a new extra never erases a known one) and aliases.

    `aliases` are the sent records': a value two keys share goes to the one sent last.
    `unchanged` are the unchanged records': written only where the value has no row yet, so
    an alias two unchanged records share stays where it is instead of moving every run.
    """
    if synced:
        db.execute(
            "INSERT INTO id_map SELECT ?, unnest(?), unnest(?), unnest(?), ?, "
            "unnest(?)::JSON ON CONFLICT DO UPDATE SET loop_id = excluded.loop_id, "
            "payload_hash = excluded.payload_hash, synced_at = excluded.synced_at, "
            "extra = coalesce(excluded.extra, id_map.extra)",
            [
                entity,
                [s.key for s in synced],
                [s.loop_id for s in synced],
                [s.payload_hash for s in synced],
                now,
                [dumps_or_null(s.extra) for s in synced],
            ],
        )
    for rows, on_conflict in (
        (aliases, "DO UPDATE SET key = excluded.key"),
        (unchanged, "DO NOTHING"),
    ):
        if rows:
            db.execute(
                "INSERT INTO id_aliases SELECT ?, unnest(?), unnest(?), unnest(?) "
                f"ON CONFLICT {on_conflict}",
                [entity, [a[0] for a in rows], [a[1] for a in rows], [a[2] for a in rows]],
            )
