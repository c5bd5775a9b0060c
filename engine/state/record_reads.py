"""The synced records' reads, as `State` offers them: cursors, the ID map and its aliases,
parked and deferred records, and the counts `etl status` and the run summary show."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import duckdb

from engine.state import cursors, deferred, idmap, parked
from engine.state.parked import ParkedTable


class RecordReads:
    """Mixed into `State`, which provides the connection and its lock."""

    db: duckdb.DuckDBPyConnection
    lock: threading.RLock

    def cursor(self, entity: str) -> str | None:
        with self.lock:
            return cursors.get(self.db, entity)

    def cursors(self) -> dict[str, str | None]:
        with self.lock:
            return cursors.every(self.db)

    def lookup(self, entity: str, keys: Sequence[str]) -> dict[str, tuple[int, str | None, Any]]:
        """key -> (loop_id, payload_hash, extra) for the keys the ID map knows."""
        with self.lock:
            return idmap.lookup(self.db, entity, keys)

    def lookup_alias(self, entity: str, alias: str, alias_keys: Sequence[str]) -> dict[str, int]:
        """alias_key -> loop_id, through the entity's alias table."""
        with self.lock:
            return idmap.lookup_alias(self.db, entity, alias, alias_keys)

    def id_map(self, entity: str) -> dict[str, int]:
        with self.lock:
            return idmap.loop_ids(self.db, entity)

    def parked(
        self, table: ParkedTable | Literal["quarantine", "held"], entity: str | None = None
    ) -> list[dict[str, Any]]:
        """Quarantined or held-back records; any other table is refused with ValueError.

        `table` is a ParkedTable, or its value ('quarantine' or 'held'), as callers pass today.
        """
        which = ParkedTable(table)
        with self.lock:
            return parked.rows(self.db, which, entity)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per entity: rows in the ID map, quarantine, held and deferred."""
        with self.lock:
            tallies = {
                "synced": idmap.per_entity(self.db),
                "quarantined": parked.per_entity(self.db, ParkedTable.QUARANTINE),
                "held": parked.per_entity(self.db, ParkedTable.HELD),
                "deferred": deferred.per_entity(self.db),
            }
        return _by_entity(tallies)

    def deferred_rows(self, entity: str, keys: Sequence[str]) -> list[tuple[str, Any, Any]]:
        """The deferred (key, record, parent) rows of these keys (`send: referenced`)."""
        with self.lock:
            return deferred.rows(self.db, entity, keys)

    def deferred_alias_spec(self, entity: str) -> str | None:
        """The `aliases:` the entity's deferred alias index was built with (None: never)."""
        with self.lock:
            return deferred.alias_spec(self.db, entity)

    def deferred_alias_index(
        self, entity: str, aliases_of: Callable[[Any], deferred.Aliases]
    ) -> dict[tuple[str, str], str]:
        """(alias, alias key) -> key, computed afresh over the entity's deferred records."""
        with self.lock:
            return deferred.alias_index(self.db, entity, aliases_of)

    def deferred_by_alias(self, entity: str, alias: str, keys: Sequence[str]) -> dict[str, str]:
        """alias_key -> the key of the deferred record that has that alias."""
        with self.lock:
            return deferred.keys_by_alias(self.db, entity, alias, keys)

    def parked_by_run(self, run_id: int) -> dict[str, dict[str, int]]:
        """Per entity: records this run quarantined, held or deferred that are still so."""
        with self.lock:
            tallies = {
                "quarantined": parked.per_entity(self.db, ParkedTable.QUARANTINE, run_id),
                "held": parked.per_entity(self.db, ParkedTable.HELD, run_id),
                "deferred": deferred.per_entity(self.db, run_id),
            }
        return _by_entity(tallies)


def _by_entity(tallies: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """{label: {entity: n}} -> {entity: {label: n}}, every label present (0 when none)."""
    out: dict[str, dict[str, int]] = {}
    for label, per_entity in tallies.items():
        for entity, n in per_entity.items():
            out.setdefault(entity, dict.fromkeys(tallies, 0))[label] = n
    return out
