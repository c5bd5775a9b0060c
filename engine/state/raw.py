"""Raw records: what the platform said, as it said it, staged per entity and key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from engine.state.codec import dumps, now


def stage(
    db: duckdb.DuckDBPyConnection,
    entity: str,
    rows: Iterable[tuple[str, Any, str | None]],
    run_id: int,
) -> None:
    """Upsert (key, record, parent key) rows in one statement."""
    keys, records, parents = [], [], []
    for key, record, parent in rows:
        keys.append(key)
        records.append(dumps(record))
        parents.append(parent)
    if not keys:
        return
    db.execute(
        "INSERT INTO raw_records SELECT ?, unnest(?), unnest(?)::JSON, unnest(?), ?, ? "
        "ON CONFLICT DO UPDATE SET record = excluded.record, "
        "parent_key = excluded.parent_key, run_id = excluded.run_id, "
        "extracted_at = excluded.extracted_at",
        [entity, keys, records, parents, run_id, now()],
    )
