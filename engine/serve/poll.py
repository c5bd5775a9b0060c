"""Polling Loop's returns into the same inbox as the webhooks (the fallback when a delivery is
lost, and the catch-up after downtime).

The Detailed Returns List with `filter=updated_at`, from the saved cursor (or `--since`, or the
last 24 hours) in windows of at most 120 days, page by page (engine.loop.returns). Each return
becomes a `return` event with the trigger its state implies: `return.created` for an open
return never edited, `return.closed` for a closed one, `return.updated` otherwise; its inbox
key is then the one the matching webhook has (engine.state.inbox), so a poll overlapping the
webhooks stores nothing twice, and the once-per-(return, state) effect holds either way.
The cursor moves to the newest `updated_at` seen, minus an overlap (Loop's clock and ours).
Loop's list leaves out flagged and cancelled returns unless asked: they are asked for apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.loop.returns import ReturnRecord, Returns
from engine.loop.webhooks import php_json
from engine.state import State
from engine.state.inbox import POLL, received

CURSOR = "loop:returns"  # its row in the cursors table
DEFAULT_SINCE = timedelta(hours=24)  # Loop's own default range
OVERLAP = timedelta(minutes=5)
LISTED_APART = (None, "review", "cancelled")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S")


@dataclass
class PollResult:
    listed: int = 0
    new: int = 0
    cursor: str | None = None


def trigger_for(item: dict[str, Any]) -> str:
    state = item.get("state")
    if state == "closed":
        return "return.closed"
    if state == "open" and not item.get("edited_at"):
        return "return.created"
    return "return.updated"


def as_event(record: ReturnRecord) -> dict[str, Any]:
    """A listed return as the `return` event a webhook would carry."""
    item = dict(record.data)
    return {"topic": "return", "trigger": trigger_for(item), **item}


def poll(state: State, returns: Returns, since: datetime | None = None) -> PollResult:
    """List what changed since the cursor (or `since`), store it in the inbox, move the
    cursor; what the inbox already holds is recognised as a duplicate."""
    start = since or _saved(state) or datetime.now(UTC) - DEFAULT_SINCE
    result = PollResult()
    newest: datetime | None = None
    batch = []
    for record in _every_state(returns, start):
        result.listed += 1
        batch.append(received(php_json(as_event(record)), POLL))
        stamp = _time(record.get("updated_at"))
        if stamp is not None and (newest is None or stamp > newest):
            newest = stamp
        if len(batch) >= 200:
            result.new += sum(state.receive_events(batch))
            batch = []
    if batch:
        result.new += sum(state.receive_events(batch))
    if newest is not None:
        result.cursor = (newest - OVERLAP).isoformat()
        state.set_cursor(CURSOR, result.cursor)
    return result


def _every_state(returns: Returns, start: datetime) -> Iterator[ReturnRecord]:
    """Loop lists open, closed and expired returns when no state is named: flagged (review)
    and cancelled ones are asked for apart."""
    for state in LISTED_APART:
        yield from returns.list_returns(start, state=state, filter="updated_at")


def _saved(state: State) -> datetime | None:
    value = state.cursor(CURSOR)
    return datetime.fromisoformat(value) if value else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for fmt in _FORMATS:
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None
