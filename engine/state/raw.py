"""Raw records: what the platform said, as it said it, staged per entity and key, on request.

Nothing in the engine reads them back: replay and reconcile use the parked copies (a record
quarantined or held keeps its source record there) and the ID map. So they are staged only
with `ETL_STATE_RAW=on`, for a person looking into what a source sent; by default (`off`) the
state keeps only what replay and reconcile need, a fifth of the size (README, "The state file
stays small")."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from engine.errors import StateError
from engine.state.codec import dumps, now

ENV = "ETL_STATE_RAW"

# JSON text per statement. DuckDB holds a statement's rows several times over while it casts
# and upserts them (about 6x their text), all inside the state's memory limit: 500 orders of
# 10 kB in one statement need ~30 MiB, and 1,000 of them exceed 64 MiB. Chunks of this size
# keep any batch, of any record size, far inside the limit.
CHUNK_BYTES = 2 * 2**20

UPSERT = (
    "INSERT INTO raw_records SELECT ?, unnest(?), unnest(?)::JSON, unnest(?), ?, ? "
    "ON CONFLICT DO UPDATE SET record = excluded.record, "
    "parent_key = excluded.parent_key, run_id = excluded.run_id, "
    "extracted_at = excluded.extracted_at"
)


def stage(
    db: duckdb.DuckDBPyConnection,
    entity: str,
    rows: Iterable[tuple[str, Any, str | None]],
    run_id: int,
) -> None:
    """Upsert (key, record, parent key) rows, one statement per CHUNK_BYTES of JSON."""
    keys: list[str] = []
    records: list[str] = []
    parents: list[str | None] = []
    size, at = 0, now()
    for key, record, parent in rows:
        text = dumps(record)
        keys.append(key)
        records.append(text)
        parents.append(parent)
        size += len(text)
        if size >= CHUNK_BYTES:
            db.execute(UPSERT, [entity, keys, records, parents, run_id, at])
            keys, records, parents, size = [], [], [], 0
    if keys:
        db.execute(UPSERT, [entity, keys, records, parents, run_id, at])


def keep_raw(env: Mapping[str, str] | None = None) -> bool:
    """Whether raw records are staged: `off` (the default) or `on`."""
    text = (os.environ if env is None else env).get(ENV, "off").strip().lower() or "off"
    if text not in ("on", "off"):
        raise StateError(f"{ENV}={text!r}: `off` (the default) or `on`")
    return text == "on"
