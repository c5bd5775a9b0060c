"""The mapping's state in one DuckDB file: raw records, ID map, cursors, runs, quarantine.

Every write is a batch (list parameters unnested in SQL, never one row per call), and what a
batch decides about its records — ID map rows, quarantine and held-back rows, the cursor — is
written in one transaction, so a crash leaves either all of it or none of it.
DuckDB allows one writing process per file: the process that runs owns the file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engine.dbtx import transaction
from engine.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_records (
    entity TEXT NOT NULL, key TEXT NOT NULL, record JSON NOT NULL, parent_key TEXT,
    run_id BIGINT, extracted_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS id_map (
    entity TEXT NOT NULL, key TEXT NOT NULL, loop_id UBIGINT NOT NULL, payload_hash TEXT,
    synced_at TIMESTAMPTZ NOT NULL, extra JSON, PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS id_aliases (
    entity TEXT NOT NULL, alias TEXT NOT NULL, alias_key TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (entity, alias, alias_key));
CREATE TABLE IF NOT EXISTS cursors (
    entity TEXT PRIMARY KEY, value TEXT, updated_at TIMESTAMPTZ NOT NULL);
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, command TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, status TEXT NOT NULL, summary JSON);
CREATE TABLE IF NOT EXISTS quarantine (
    entity TEXT NOT NULL, key TEXT NOT NULL, stage TEXT NOT NULL, reasons JSON NOT NULL,
    record JSON NOT NULL, parent JSON, run_id BIGINT, created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity, key));
CREATE TABLE IF NOT EXISTS held (
    entity TEXT NOT NULL, key TEXT NOT NULL, reasons JSON NOT NULL, record JSON NOT NULL,
    parent JSON, run_id BIGINT, created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, key));
"""


def _now() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


@dataclass(frozen=True)
class Synced:
    """A record Loop accepted: its key, Loop id, payload hash and extra (order line ids)."""

    key: str
    loop_id: int
    payload_hash: str
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Parked:
    """A record set aside: quarantined (bad) or held back (waiting for a reference)."""

    key: str
    reasons: list[str]
    record: Any
    parent: Any = None
    stage: str = ""


@dataclass
class BatchOutcome:
    """What one batch of one entity decided; written by `State.commit` in one transaction."""

    entity: str
    synced: list[Synced] = field(default_factory=list)
    aliases: list[tuple[str, str, str]] = field(default_factory=list)  # alias, alias_key, key
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # keys no longer parked (unchanged, ok)
    cursor: str | None = None
    cursor_entity: str | None = None  # whose cursor moves (a child batch moves its parent's)


class State:
    """One mapping's state file. Thread-safe: one connection, one lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise StateError(f"cannot open the state file {self.path}: {exc}") from None
        self.lock = threading.RLock()
        with self.lock:
            self.db.execute(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The connection, locked, inside one transaction (rolled back on error)."""
        return transaction(self.db, self.lock)

    # -- runs --------------------------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.lock:
            row = self.db.execute("SELECT nextval('run_ids')").fetchone()
            assert row is not None
            run_id = int(row[0])
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', NULL)",
                [run_id, command, _now()],
            )
        return run_id

    def finish_run(self, run_id: int, status: str, summary: Any) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
                [_now(), status, _dumps(summary), run_id],
            )

    def runs(self, limit: int = 5) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT run_id, command, started_at, finished_at, status, summary FROM runs "
                "ORDER BY run_id DESC LIMIT ?",
                [limit],
            ).fetchall()
        return [
            {
                "run_id": r[0],
                "command": r[1],
                "started_at": r[2].isoformat(),
                "finished_at": r[3].isoformat() if r[3] else None,
                "status": r[4],
                "summary": json.loads(r[5]) if r[5] else None,
            }
            for r in rows
        ]

    # -- reads (bulk) ------------------------------------------------------------------------
    def cursor(self, entity: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM cursors WHERE entity = ?", [entity]).fetchone()
        return None if row is None else row[0]

    def lookup(self, entity: str, keys: Sequence[str]) -> dict[str, tuple[int, str | None, Any]]:
        """key -> (loop_id, payload_hash, extra) for the keys the ID map knows."""
        if not keys:
            return {}
        with self.lock:
            rows = self.db.execute(
                "SELECT key, loop_id, payload_hash, extra FROM id_map "
                "WHERE entity = ? AND key IN (SELECT unnest(?))",
                [entity, list(set(keys))],
            ).fetchall()
        return {r[0]: (int(r[1]), r[2], json.loads(r[3]) if r[3] else None) for r in rows}

    def lookup_alias(self, entity: str, alias: str, alias_keys: Sequence[str]) -> dict[str, int]:
        """alias_key -> loop_id, through the entity's alias table."""
        if not alias_keys:
            return {}
        with self.lock:
            rows = self.db.execute(
                "SELECT a.alias_key, m.loop_id FROM id_aliases a JOIN id_map m "
                "ON m.entity = a.entity AND m.key = a.key WHERE a.entity = ? AND a.alias = ? "
                "AND a.alias_key IN (SELECT unnest(?))",
                [entity, alias, list(set(alias_keys))],
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def parked(self, table: str, entity: str | None = None) -> list[dict[str, Any]]:
        """Quarantined or held-back records (table: 'quarantine' or 'held')."""
        if table not in ("quarantine", "held"):
            raise ValueError(table)
        stage = "stage" if table == "quarantine" else "'held'"
        sql = (
            f"SELECT entity, key, {stage}, reasons, record, parent, run_id, created_at FROM {table}"
        )
        params: list[Any] = []
        if entity is not None:
            sql += " WHERE entity = ?"
            params.append(entity)
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY entity, key", params).fetchall()
        return [
            {
                "entity": r[0],
                "key": r[1],
                "stage": r[2],
                "reasons": json.loads(r[3]),
                "record": json.loads(r[4]),
                "parent": json.loads(r[5]) if r[5] else None,
                "run_id": r[6],
                "created_at": r[7].isoformat(),
            }
            for r in rows
        ]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per entity: rows in the ID map, quarantine and held."""
        out: dict[str, dict[str, int]] = {}
        with self.lock:
            for table, label in (
                ("id_map", "synced"),
                ("quarantine", "quarantined"),
                ("held", "held"),
            ):
                for entity, n in self.db.execute(
                    f"SELECT entity, count(*) FROM {table} GROUP BY entity"
                ).fetchall():
                    out.setdefault(entity, {"synced": 0, "quarantined": 0, "held": 0})[label] = n
        return out

    def parked_by_run(self, run_id: int) -> dict[str, dict[str, int]]:
        """Per entity: records this run quarantined or held that are still parked."""
        out: dict[str, dict[str, int]] = {}
        with self.lock:
            for table, label in (("quarantine", "quarantined"), ("held", "held")):
                for entity, n in self.db.execute(
                    f"SELECT entity, count(*) FROM {table} WHERE run_id = ? GROUP BY entity",
                    [run_id],
                ).fetchall():
                    out.setdefault(entity, {"quarantined": 0, "held": 0})[label] = n
        return out

    def cursors(self) -> dict[str, str | None]:
        with self.lock:
            return dict(self.db.execute("SELECT entity, value FROM cursors").fetchall())

    def id_map(self, entity: str) -> dict[str, int]:
        with self.lock:
            rows = self.db.execute(
                "SELECT key, loop_id FROM id_map WHERE entity = ?", [entity]
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- writes (one transaction per batch) --------------------------------------------------
    def stage_raw(
        self, entity: str, rows: Iterable[tuple[str, Any, str | None]], run_id: int
    ) -> None:
        """What the platform said, as it said it: (key, record, parent key)."""
        keys, records, parents = [], [], []
        for key, record, parent in rows:
            keys.append(key)
            records.append(_dumps(record))
            parents.append(parent)
        if not keys:
            return
        with self.lock:
            self.db.execute(
                "INSERT INTO raw_records SELECT ?, unnest(?), unnest(?)::JSON, unnest(?), ?, ? "
                "ON CONFLICT DO UPDATE SET record = excluded.record, "
                "parent_key = excluded.parent_key, run_id = excluded.run_id, "
                "extracted_at = excluded.extracted_at",
                [entity, keys, records, parents, run_id, _now()],
            )

    def commit(self, outcome: BatchOutcome, run_id: int) -> None:
        """Write a batch's outcome atomically: ID map, aliases, parked rows, cursor."""
        now = _now()
        with self.transaction() as db:
            self._write_synced(db, outcome, now)
            self._write_parked(db, outcome, run_id, now)
            if outcome.cursor is not None:
                db.execute(
                    "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "value = excluded.value, updated_at = excluded.updated_at",
                    [outcome.cursor_entity or outcome.entity, outcome.cursor, now],
                )

    def _write_synced(self, db: duckdb.DuckDBPyConnection, o: BatchOutcome, now: datetime) -> None:
        if o.synced:
            db.execute(
                "INSERT INTO id_map SELECT ?, unnest(?), unnest(?), unnest(?), ?, "
                "unnest(?)::JSON ON CONFLICT DO UPDATE SET loop_id = excluded.loop_id, "
                "payload_hash = excluded.payload_hash, synced_at = excluded.synced_at, "
                "extra = coalesce(excluded.extra, id_map.extra)",
                [
                    o.entity,
                    [s.key for s in o.synced],
                    [s.loop_id for s in o.synced],
                    [s.payload_hash for s in o.synced],
                    now,
                    [None if s.extra is None else _dumps(s.extra) for s in o.synced],
                ],
            )
        if o.aliases:
            db.execute(
                "INSERT INTO id_aliases SELECT ?, unnest(?), unnest(?), unnest(?) "
                "ON CONFLICT DO UPDATE SET key = excluded.key",
                [
                    o.entity,
                    [a[0] for a in o.aliases],
                    [a[1] for a in o.aliases],
                    [a[2] for a in o.aliases],
                ],
            )
        done = [s.key for s in o.synced] + o.settled
        if done:
            for table in ("quarantine", "held"):
                db.execute(
                    f"DELETE FROM {table} WHERE entity = ? AND key IN (SELECT unnest(?))",
                    [o.entity, done],
                )

    def _write_parked(
        self, db: duckdb.DuckDBPyConnection, o: BatchOutcome, run_id: int, now: datetime
    ) -> None:
        for table, rows in (("quarantine", o.quarantined), ("held", o.held)):
            if not rows:
                continue
            other = "held" if table == "quarantine" else "quarantine"
            keys = [p.key for p in rows]
            db.execute(
                f"DELETE FROM {other} WHERE entity = ? AND key IN (SELECT unnest(?))",
                [o.entity, keys],
            )
            stage_col = "unnest(?), " if table == "quarantine" else ""
            stage_args = [[p.stage for p in rows]] if table == "quarantine" else []
            db.execute(
                f"INSERT INTO {table} SELECT ?, unnest(?), {stage_col}unnest(?)::JSON, "
                "unnest(?)::JSON, unnest(?)::JSON, ?, ? ON CONFLICT DO UPDATE SET "
                + ("stage = excluded.stage, " if table == "quarantine" else "")
                + "reasons = excluded.reasons, record = excluded.record, "
                "parent = excluded.parent, run_id = excluded.run_id, created_at = excluded.created_at",
                [
                    o.entity,
                    keys,
                    *stage_args,
                    [_dumps(p.reasons) for p in rows],
                    [_dumps(p.record) for p in rows],
                    [None if p.parent is None else _dumps(p.parent) for p in rows],
                    run_id,
                    now,
                ],
            )

    def forget_cursor(self, entity: str | None = None) -> None:
        """--full-refresh: extract everything again (the ID map and hashes stay)."""
        with self.lock:
            if entity is None:
                self.db.execute("DELETE FROM cursors")
            else:
                self.db.execute("DELETE FROM cursors WHERE entity = ?", [entity])
