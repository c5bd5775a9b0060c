"""Retention: what the state stops keeping once it is old and settled, so that a state under
`etl serve` does not grow for ever with every event it ever received.

After `ETL_STATE_RETENTION_DAYS` days (default 30; `-1` keeps everything): the body of an
inbox event processed that long ago, the stored context of an outcome done (and synced back)
that long ago, and the request and answer of confirmed steps. Their rows stay, keys and statuses included: a
redelivery is still recognised as a duplicate, and `etl inbox list` / `etl outbox list` still
show them. Events failed or unprocessable, and outcomes not done, are kept whole. The space
comes back at the next compaction (compact.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import duckdb

from engine.errors import StateError
from engine.state.codec import now

log = logging.getLogger(__name__)

ENV = "ETL_STATE_RETENTION_DAYS"
DEFAULT_DAYS = 30
DROPPED = b""  # an inbox body dropped by retention: `etl inbox replay` refuses the event


def retention_days(env: Mapping[str, str] | None = None) -> int | None:
    """The retention in days from the environment; None when `-1` keeps everything."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    if not text:
        return DEFAULT_DAYS
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days == -1:
        return None
    if days < 1:
        raise StateError(f"{ENV}={text!r}: a whole number of days (1 or more), or -1 for no limit")
    return days


def prune(db: duckdb.DuckDBPyConnection, now: datetime, days: int | None) -> dict[str, int]:
    """Drop what retention lets go of (the caller holds a transaction): rows changed, per
    table."""
    if days is None:
        return {"inbox": 0, "outcome_runs": 0, "outbox": 0}
    cutoff = now - timedelta(days=days)
    statements = {
        "inbox": "UPDATE inbox SET body = ? WHERE status = 'processed' AND processed_at < ? "
        "AND octet_length(body) > 0 RETURNING key",
        "outcome_runs": "UPDATE outcome_runs SET context = '{}' WHERE status = 'done' "
        "AND synced_at IS NOT NULL AND updated_at < ? AND context::VARCHAR <> '{}' "
        "RETURNING return_id",
        "outbox": "UPDATE outbox SET request = NULL, response = NULL WHERE status = 'confirmed' "
        "AND updated_at < ? AND (request IS NOT NULL OR response IS NOT NULL) RETURNING id",
    }
    changed: dict[str, int] = {}
    for table, sql in statements.items():
        params: list[object] = [DROPPED, cutoff] if table == "inbox" else [cutoff]
        changed[table] = len(db.execute(sql, params).fetchall())
    return changed


def prune_now(
    transaction: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    days: int | None,
) -> dict[str, int]:
    """`prune` inside a transaction of the state (`State.transaction`)."""
    with transaction() as db:
        return prune(db, now(), days)


def prune_on_close(
    transaction: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    path: str,
    days: int | None,
) -> None:
    """Retention as a state file closes (before compaction gives the space back); a failure is
    a warning, and the next close tries again."""
    if path == ":memory:":
        return
    try:
        prune_now(transaction, days)
    except duckdb.Error as exc:
        log.warning("could not apply the retention to %s: %s", path, exc)


def refuse_dropped(db: duckdb.DuckDBPyConnection, key: str) -> None:
    """StateError when retention dropped the inbox event's body: it cannot be processed again."""
    kept = db.execute("SELECT octet_length(body) FROM inbox WHERE key = ?", [key]).fetchone()
    if kept is not None and kept[0] == 0:
        raise StateError(
            f"event {key}: its body was dropped by the retention ({ENV}), so it cannot be "
            "processed again"
        )
