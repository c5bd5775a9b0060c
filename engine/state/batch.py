"""What one batch of one entity decided, and its write: all of it in one transaction or none."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from engine.state import cursors, deferred, idmap, parked
from engine.state.codec import now
from engine.state.idmap import Synced
from engine.state.parked import Parked, ParkedTable


@dataclass
class BatchOutcome:
    """What one batch of one entity decided; written by `State.commit` in one transaction."""

    entity: str
    synced: list[Synced] = field(default_factory=list)
    aliases: list[tuple[str, str, str]] = field(default_factory=list)  # alias, alias_key, key
    unchanged_aliases: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # unchanged records'
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # keys no longer parked (unchanged, ok)
    deferred: list[Parked] = field(default_factory=list)  # sent once referenced (deferred.py)
    cursor: str | None = None
    cursor_entity: str | None = None  # whose cursor moves (a child batch moves its parent's)


def write(db: duckdb.DuckDBPyConnection, outcome: BatchOutcome, run_id: int) -> None:
    """Write the outcome on a connection already inside a transaction."""
    o, at = outcome, now()
    idmap.write(db, o.entity, o.synced, o.aliases, at, o.unchanged_aliases)
    parked.release(db, o.entity, [s.key for s in o.synced] + o.settled)
    parked.write(db, ParkedTable.QUARANTINE, o.entity, o.quarantined, run_id, at)
    parked.write(db, ParkedTable.HELD, o.entity, o.held, run_id, at)
    settled = [s.key for s in o.synced] + o.settled + [p.key for p in o.quarantined + o.held]
    deferred.release(db, o.entity, settled)
    deferred.write(
        db, o.entity, [(p.key, p.record, p.parent, p.aliases) for p in o.deferred], run_id, at
    )
    if o.cursor is not None:
        cursors.put(db, o.cursor_entity or o.entity, o.cursor, at)
