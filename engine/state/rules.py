"""Rule firings: one row per (return, rule), claimed before the rule acts, so that a rule fires
at most once per return however often its event arrives (webhooks repeat, polls overlap)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from engine.state.codec import dumps, loads_or_none

DDL = """
CREATE TABLE IF NOT EXISTS rule_firings (
    return_id TEXT NOT NULL, rule TEXT NOT NULL, trigger TEXT NOT NULL,
    fired_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, actions JSON, reason TEXT,
    PRIMARY KEY (return_id, rule));
"""


def claim(
    db: duckdb.DuckDBPyConnection, return_id: str, rule: str, trigger: str, now: datetime
) -> bool:
    """True when this call claimed the firing (the first for this return and rule)."""
    row = db.execute(
        "INSERT INTO rule_firings VALUES (?, ?, ?, ?, 'started', NULL, NULL) "
        "ON CONFLICT DO NOTHING RETURNING rule",
        [return_id, rule, trigger, now],
    ).fetchone()
    return row is not None


def release(db: duckdb.DuckDBPyConnection, return_id: str, rule: str) -> None:
    """Forget a claim whose actions could not be sent now (tried again with the event)."""
    db.execute("DELETE FROM rule_firings WHERE return_id = ? AND rule = ?", [return_id, rule])


def finish(
    db: duckdb.DuckDBPyConnection,
    return_id: str,
    rule: str,
    status: str,
    actions: list[Any],
    reason: str | None,
) -> None:
    db.execute(
        "UPDATE rule_firings SET status = ?, actions = ?, reason = ? "
        "WHERE return_id = ? AND rule = ?",
        [status, dumps(actions), reason, return_id, rule],
    )


def every(db: duckdb.DuckDBPyConnection, return_id: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT return_id, rule, trigger, fired_at, status, actions, reason FROM rule_firings"
    params: list[Any] = []
    if return_id is not None:
        sql += " WHERE return_id = ?"
        params.append(return_id)
    rows = db.execute(sql + " ORDER BY fired_at, return_id, rule", params).fetchall()
    return [
        {
            "return_id": r[0],
            "rule": r[1],
            "trigger": r[2],
            "fired_at": r[3].isoformat(),
            "status": r[4],
            "actions": loads_or_none(r[5]),
            "reason": r[6],
        }
        for r in rows
    ]
