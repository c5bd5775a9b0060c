"""Deferred records: those of an entity sent only once a record that references it is sent
(`send: referenced`, customers without an order). Kept as the source sent them, with their
parent and their aliases, so that a lookup that needs one, by key or `via` an alias, maps and
sends it then (engine/pipeline/batch.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb

from engine.state.codec import dumps, dumps_or_null, loads_or_none

DDL = """
CREATE TABLE IF NOT EXISTS deferred (
    entity TEXT NOT NULL, key TEXT NOT NULL, record JSON NOT NULL, parent JSON,
    run_id BIGINT, deferred_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, key));
"""

# Version 6: the aliases of deferred records, for a lookup `via` an alias.
ALIASES_DDL = """
CREATE TABLE IF NOT EXISTS deferred_aliases (
    entity TEXT NOT NULL, alias TEXT NOT NULL, alias_key TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (entity, alias, alias_key));
"""

Aliases = Sequence[tuple[str, str]]  # (alias, alias_key)
# In state_meta, per entity: the mapping's `aliases:` its deferred alias index was built with.
# When the mapping's change (or a file from before version 6 has none), the index is rebuilt
# from the deferred records (engine/pipeline/batch.py), so a lookup by alias finds them all.
SPEC_KEY = "deferred_aliases:{entity}"


def write(
    db: duckdb.DuckDBPyConnection,
    entity: str,
    rows: Sequence[tuple[str, Any, Any, Aliases]],
    run_id: int,
    now: datetime,
) -> None:
    """Defer (key, record, parent, aliases) rows: a newer record of a key replaces the older
    one, its aliases too (an alias key another deferred record had moves to this one)."""
    if not rows:
        return
    db.execute(
        "INSERT INTO deferred SELECT ?, unnest(?), unnest(?)::JSON, unnest(?)::JSON, ?, ? "
        "ON CONFLICT DO UPDATE SET record = excluded.record, parent = excluded.parent, "
        "run_id = excluded.run_id, deferred_at = excluded.deferred_at",
        [
            entity,
            [r[0] for r in rows],
            [dumps(r[1]) for r in rows],
            [dumps_or_null(r[2]) for r in rows],
            run_id,
            now,
        ],
    )
    _forget_aliases(db, entity, [r[0] for r in rows])
    named = {(alias, value): r[0] for r in rows for alias, value in r[3]}
    if named:
        db.execute(
            "INSERT INTO deferred_aliases SELECT ?, unnest(?), unnest(?), unnest(?) "
            "ON CONFLICT DO UPDATE SET key = excluded.key",
            [entity, [a for a, _ in named], [v for _, v in named], list(named.values())],
        )


def keys_by_alias(
    db: duckdb.DuckDBPyConnection, entity: str, alias: str, alias_keys: Sequence[str]
) -> dict[str, str]:
    """alias_key -> the key of the deferred record that has it."""
    if not alias_keys:
        return {}
    found = db.execute(
        "SELECT alias_key, key FROM deferred_aliases WHERE entity = ? AND alias = ? "
        "AND alias_key IN (SELECT unnest(?))",
        [entity, alias, list(set(alias_keys))],
    ).fetchall()
    return {str(a): str(k) for a, k in found}


def _forget_aliases(db: duckdb.DuckDBPyConnection, entity: str, keys: Sequence[str]) -> None:
    db.execute(
        "DELETE FROM deferred_aliases WHERE entity = ? AND key IN (SELECT unnest(?))",
        [entity, list(keys)],
    )


def rows(
    db: duckdb.DuckDBPyConnection, entity: str, keys: Sequence[str]
) -> list[tuple[str, Any, Any]]:
    """The deferred (key, record, parent) rows of these keys (the others are not deferred)."""
    if not keys:
        return []
    found = db.execute(
        "SELECT key, record, parent FROM deferred WHERE entity = ? AND key IN (SELECT unnest(?)) "
        "ORDER BY key",
        [entity, list(keys)],
    ).fetchall()
    return [(k, loads_or_none(r), loads_or_none(p)) for k, r, p in found]


def release(db: duckdb.DuckDBPyConnection, entity: str, keys: Sequence[str]) -> None:
    """The keys are deferred no more (sent, parked, or unchanged in Loop)."""
    if keys:
        db.execute(
            "DELETE FROM deferred WHERE entity = ? AND key IN (SELECT unnest(?))",
            [entity, list(keys)],
        )
        _forget_aliases(db, entity, keys)


def per_entity(db: duckdb.DuckDBPyConnection, run_id: int | None = None) -> dict[str, int]:
    """Rows deferred per entity (only those a given run deferred last, with run_id)."""
    where, params = ("WHERE run_id = ? ", [run_id]) if run_id is not None else ("", [])
    found = db.execute(
        f"SELECT entity, count(*) FROM deferred {where}GROUP BY entity", params
    ).fetchall()
    return {entity: int(n) for entity, n in found}


def alias_spec(db: duckdb.DuckDBPyConnection, entity: str) -> str | None:
    """The `aliases:` (as text) the entity's deferred alias index was built with, if any."""
    row = db.execute(
        "SELECT value FROM state_meta WHERE key = ?", [SPEC_KEY.format(entity=entity)]
    ).fetchone()
    return None if row is None else str(row[0])


def alias_index(
    db: duckdb.DuckDBPyConnection, entity: str, aliases_of: Callable[[Any], Aliases]
) -> dict[tuple[str, str], str]:
    """(alias, alias key) -> key, over the entity's deferred records read a chunk at a time
    (a newer record wins an alias key two of them have)."""
    found = db.execute(
        "SELECT key, record FROM deferred WHERE entity = ? ORDER BY deferred_at, key", [entity]
    )
    named: dict[tuple[str, str], str] = {}
    while chunk := found.fetchmany(1000):
        for key, record in chunk:
            for pair in aliases_of(loads_or_none(record)):
                named[pair] = str(key)
    return named


def reindex(
    db: duckdb.DuckDBPyConnection, entity: str, spec: str, named: dict[tuple[str, str], str]
) -> None:
    """Replace the entity's deferred alias index, and record the `aliases:` it was built with."""
    db.execute("DELETE FROM deferred_aliases WHERE entity = ?", [entity])
    if named:
        db.execute(
            "INSERT INTO deferred_aliases SELECT ?, unnest(?), unnest(?), unnest(?)",
            [entity, [a for a, _ in named], [v for _, v in named], list(named.values())],
        )
    db.execute(
        "INSERT INTO state_meta VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
        [SPEC_KEY.format(entity=entity), spec],
    )
