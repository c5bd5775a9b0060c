"""The commerce_records table mirrored in memory, so that a request reads without DuckDB.

A DuckDB statement costs about a millisecond from Python, and a request used to make a dozen
lookups (by id, by external id, a variant's inventories, ...). The table stays the store of
record: every write goes to it first, inside the request's transaction, and then here; a
rollback undoes here what the transaction wrote (`begin` / `commit` / `rollback`, called by
`Sandbox.transaction`). SQL that filters on bodies (list pages, the admin API) still reads the
table, which is never behind. Only this sandbox's connection may write the table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TypeVar

import duckdb

Key = tuple[str, int]  # kind, Loop id
K = TypeVar("K")


@dataclass(frozen=True)
class Row:
    """One record: the columns a lookup needs, and its body as stored (JSON text)."""

    external_id: str | None
    parent_id: int | None
    body: str


class RecordCache:
    """Every commerce record by (kind, id), with indexes by external id and by parent."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self._rows: dict[Key, Row] = {}
        self._external: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        self._children: defaultdict[tuple[str, int], set[int]] = defaultdict(set)
        self._by_kind: defaultdict[str, set[int]] = defaultdict(set)
        self._undo: list[tuple[Key, Row | None]] = []
        rows = db.execute(
            "SELECT kind, id, external_id, parent_id, body FROM commerce_records"
        ).fetchall()
        for kind, loop_id, external, parent, body in rows:
            self._set((kind, int(loop_id)), Row(external, parent, body))

    # --- reads ------------------------------------------------------------------------------

    def get(self, kind: str, loop_id: int) -> str | None:
        row = self._rows.get((kind, loop_id))
        return None if row is None else row.body

    def by_external(self, kind: str, external_id: str, parent_id: int | None = None) -> str | None:
        """The body of the record with that external id (and parent), the lowest id first."""
        ids = self._external.get((kind, external_id))
        for loop_id in sorted(ids or ()):
            row = self._rows[(kind, loop_id)]
            if parent_id is None or row.parent_id == parent_id:
                return row.body
        return None

    def children(self, kind: str, parent_id: int) -> list[str]:
        """The bodies of the records of a kind under a parent, by id."""
        ids = sorted(self._children.get((kind, parent_id)) or ())
        return [self._rows[(kind, i)].body for i in ids]

    def of_kind(self, kind: str) -> list[str]:
        """The bodies of every record of a kind, by id."""
        return [self._rows[(kind, i)].body for i in sorted(self._by_kind.get(kind) or ())]

    def exists(self, kind: str, loop_id: int) -> bool:
        return (kind, loop_id) in self._rows

    # --- writes (after the table's) ---------------------------------------------------------

    def put(self, kind: str, loop_id: int, row: Row) -> None:
        self._undo.append(((kind, loop_id), self._rows.get((kind, loop_id))))
        self._set((kind, loop_id), row)

    def delete(self, kind: str, loop_id: int) -> None:
        key = (kind, loop_id)
        if key in self._rows:
            self._undo.append((key, self._rows[key]))
            self._set(key, None)

    def clear(self) -> None:
        for key in list(self._rows):
            self.delete(*key)

    # --- transactions -------------------------------------------------------------------------

    def begin(self) -> None:
        self._undo.clear()

    def commit(self) -> None:
        self._undo.clear()

    def rollback(self) -> None:
        """Puts back what the transaction changed, newest change first."""
        while self._undo:
            key, before = self._undo.pop()
            self._set(key, before)

    def _set(self, key: Key, row: Row | None) -> None:
        old = self._rows.pop(key, None)
        kind, loop_id = key
        if old is not None:
            _discard(self._by_kind, kind, loop_id)
            if old.external_id is not None:
                _discard(self._external, (kind, old.external_id), loop_id)
            if old.parent_id is not None:
                _discard(self._children, (kind, old.parent_id), loop_id)
        if row is None:
            return
        self._rows[key] = row
        self._by_kind[kind].add(loop_id)
        if row.external_id is not None:
            self._external[(kind, row.external_id)].add(loop_id)
        if row.parent_id is not None:
            self._children[(kind, row.parent_id)].add(loop_id)


def _discard(index: dict[K, set[int]], key: K, loop_id: int) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(loop_id)
        if not ids:
            del index[key]
