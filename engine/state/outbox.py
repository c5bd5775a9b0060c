"""The outbox (bucket IV): one row per (return, outcome) run and one per step, so that a step
done in the platform is never done twice.

A run is claimed once per return and outcome, with the context its steps render from (kept,
so that a retry renders the same request), and its steps `planned`. A step is marked `sent`
(with its request) and committed *before* it goes out, and `confirmed` (with the answer and
what it keeps) after; a step found `sent` on a later attempt may have been done: the executor
checks the platform or resends with the same idempotency key, never blindly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from engine.state.codec import dumps, loads_or_none, now
from engine.state.tx import transaction

DDL = """
CREATE TABLE IF NOT EXISTS outcome_runs (
    return_id TEXT NOT NULL, outcome TEXT NOT NULL, trigger TEXT, event_key TEXT,
    status TEXT NOT NULL, context JSON NOT NULL, reason TEXT, created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL, synced_at TIMESTAMPTZ, PRIMARY KEY (return_id, outcome));
CREATE SEQUENCE IF NOT EXISTS outbox_ids START 1;
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT PRIMARY KEY DEFAULT nextval('outbox_ids'), return_id TEXT NOT NULL,
    outcome TEXT NOT NULL, position INTEGER NOT NULL, step TEXT NOT NULL, item INTEGER,
    kind TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT, request JSON, response JSON, kept JSON, reason TEXT, created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);
"""

PLANNED, SENT, CONFIRMED, FAILED = "planned", "sent", "confirmed", "failed"
RUNNING, DONE = "running", "done"
STEP_STATUSES = (PLANNED, SENT, CONFIRMED, FAILED)

_STEP_COLUMNS = (
    "id, return_id, outcome, position, step, item, kind, status, attempts, idempotency_key, "
    "request, response, kept, reason, created_at, updated_at"
)


@dataclass(frozen=True)
class StepRow:
    id: int
    return_id: str
    outcome: str
    position: int
    step: str
    item: int | None  # for a step run once per item (`each`): which one
    kind: str
    status: str
    attempts: int
    idempotency_key: str | None
    request: Any
    response: Any
    kept: Any
    reason: str | None
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        return out


@dataclass(frozen=True)
class RunRow:
    return_id: str
    outcome: str
    trigger: str | None
    event_key: str | None
    status: str
    context: dict[str, Any]
    reason: str | None
    synced_at: datetime | None


def _step(row: tuple[Any, ...]) -> StepRow:
    values = list(row)
    for i in (10, 11, 12):
        values[i] = loads_or_none(values[i])
    return StepRow(*values)


class Outbox:
    """The outbox tables over the state's connection and lock."""

    def __init__(self, db: duckdb.DuckDBPyConnection, lock: threading.RLock) -> None:
        self.db, self.lock = db, lock

    def claim(
        self,
        return_id: str,
        outcome: str,
        steps: list[tuple[str, int | None, str]],
        context: dict[str, Any],
        trigger: str | None,
        event_key: str | None,
    ) -> bool:
        """Claim the run of `outcome` for `return_id` with its (step, item, kind) rows planned;
        False when it was claimed before (whatever its status)."""
        stamp = now()
        with transaction(self.db, self.lock) as db:
            row = db.execute(
                "INSERT INTO outcome_runs VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL) "
                "ON CONFLICT DO NOTHING RETURNING return_id",
                [return_id, outcome, trigger, event_key, RUNNING, dumps(context), stamp, stamp],
            ).fetchone()
            if row is None:
                return False
            for position, (step, item, kind) in enumerate(steps):
                db.execute(
                    "INSERT INTO outbox (return_id, outcome, position, step, item, kind, status, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [return_id, outcome, position, step, item, kind, PLANNED, stamp, stamp],
                )
        return True

    def run(self, return_id: str, outcome: str) -> RunRow | None:
        with self.lock:
            row = self.db.execute(
                "SELECT return_id, outcome, trigger, event_key, status, context, reason, "
                "synced_at FROM outcome_runs WHERE return_id = ? AND outcome = ?",
                [return_id, outcome],
            ).fetchone()
        if row is None:
            return None
        values = list(row)
        values[5] = loads_or_none(values[5]) or {}
        return RunRow(*values)

    def steps(self, return_id: str, outcome: str) -> list[StepRow]:
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_STEP_COLUMNS} FROM outbox WHERE return_id = ? AND outcome = ? "
                "ORDER BY position",
                [return_id, outcome],
            ).fetchall()
        return [_step(r) for r in rows]

    def step(self, step_id: int) -> StepRow | None:
        with self.lock:
            row = self.db.execute(
                f"SELECT {_STEP_COLUMNS} FROM outbox WHERE id = ?", [step_id]
            ).fetchone()
        return None if row is None else _step(row)

    def every(self, status: str | None = None) -> list[StepRow]:
        sql = f"SELECT {_STEP_COLUMNS} FROM outbox"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY id", params).fetchall()
        return [_step(r) for r in rows]

    def sending(self, step_id: int, request: Any, idempotency_key: str | None) -> None:
        """Record the request about to go out (committed before it is sent)."""
        with self.lock:
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, request = ?, "
                "idempotency_key = ?, reason = NULL, updated_at = ? WHERE id = ?",
                [SENT, dumps(request), idempotency_key, now(), step_id],
            )

    def confirm(self, step_id: int, response: Any, kept: dict[str, Any], how: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE outbox SET status = ?, response = ?, kept = ?, reason = ?, "
                "updated_at = ? WHERE id = ?",
                [CONFIRMED, dumps(response), dumps(kept), how, now(), step_id],
            )

    def fail(self, step_id: int, reason: str, response: Any = None) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE outbox SET status = ?, reason = ?, response = coalesce(?, response), "
                "updated_at = ? WHERE id = ?",
                [FAILED, reason, None if response is None else dumps(response), now(), step_id],
            )

    def finish(self, return_id: str, outcome: str, status: str, reason: str | None) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE outcome_runs SET status = ?, reason = ?, updated_at = ? "
                "WHERE return_id = ? AND outcome = ?",
                [status, reason, now(), return_id, outcome],
            )

    def synced(self, return_id: str, outcome: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE outcome_runs SET synced_at = ? WHERE return_id = ? AND outcome = ?",
                [now(), return_id, outcome],
            )

    def reopen(self, step_id: int) -> StepRow | None:
        """A failed step planned again, and its run running again (`etl outbox retry`)."""
        with transaction(self.db, self.lock) as db:
            row = db.execute(
                "UPDATE outbox SET status = ?, reason = NULL, updated_at = ? "
                "WHERE id = ? AND status = ? RETURNING return_id, outcome",
                [PLANNED, now(), step_id, FAILED],
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE outcome_runs SET status = ?, reason = NULL, updated_at = ? "
                "WHERE return_id = ? AND outcome = ?",
                [RUNNING, now(), row[0], row[1]],
            )
        return self.step(step_id)

    def counts(self) -> dict[str, int]:
        with self.lock:
            found = dict(
                self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
            )
        return {status: int(found.get(status, 0)) for status in STEP_STATUSES}
