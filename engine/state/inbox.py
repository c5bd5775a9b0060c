"""The inbox: received Loop events, one row per key derived from the body, settled once; and the
effect record, one row per (return id, state) however many events report that transition.

Loop sends no event or delivery id (loop-api.md §3.3), so the key is made from the body:

    return   return:{id}:{state}:{stamp}:{trigger}   stamp: edited_at, else created_at (never
                                                     updated_at, which only the list has)
    label    label:{id}:{label_status}:{label_updated_at}
    restock  restock:{id}:{trigger}
    other    {topic}:sha256:{SHA-256 of the canonical JSON}   (also when a field above is missing)
    no JSON  raw:sha256:{SHA-256 of the bytes}                (not JSON, or not an object)

Ids compare as text (Loop sends them as strings or integers). The canonical JSON sorts keys
and drops whitespace, so a re-serialised body has the same key. Statuses: `received` ->
`processed` | `failed` (tried again at next_attempt_at while attempts remain) | `unprocessable`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from engine.state.codec import dumps
from engine.state.parked import stored_reasons
from engine.state.retention import refuse_dropped

RECEIVED = "received"
PROCESSED = "processed"
FAILED = "failed"
UNPROCESSABLE = "unprocessable"
STATUSES = (RECEIVED, PROCESSED, FAILED, UNPROCESSABLE)
WEBHOOK = "webhook"
POLL = "poll"
# A key part longer than this (an id or a timestamp nobody sends) makes the key a digest.
MAX_PART = 128

_COLUMNS = (
    "key, seq, topic, trigger, return_id, return_state, received_at, status, attempts, reasons, "
    "next_attempt_at, processed_at, source, duplicates, last_duplicate_at, effect"
)


@dataclass(frozen=True)
class Received:
    """An event as it arrived: its key, what its body says it is, and the bytes themselves."""

    key: str
    body: bytes
    source: str = WEBHOOK
    topic: str | None = None
    trigger: str | None = None
    return_id: str | None = None
    return_state: str | None = None
    problem: str | None = None  # set when the body cannot be read: stored as unprocessable


@dataclass(frozen=True)
class InboxEvent:
    """A stored event due for processing."""

    key: str
    body: bytes
    attempts: int
    topic: str | None = None
    return_id: str | None = None


@dataclass(frozen=True)
class Settlement:
    """What processing decided for one event; `effect` is the (return id, state) it reports."""

    key: str
    status: str
    reasons: tuple[str, ...] = ()
    effect: tuple[str, str] | None = None
    next_attempt_at: datetime | None = None


def parse(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object, or None and why not (never quoting the body)."""
    try:  # UTF-8 as JSON requires (json.loads would guess UTF-16 from a BOM-like start)
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "the body is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except RecursionError:
        return None, "the body nests too deeply to read"
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        return None, f"the body is not readable JSON ({type(exc).__name__})"
    if not isinstance(body, dict):
        return None, f"the body is a JSON {type(body).__name__}, not an object"
    return body, None


def received(raw: bytes, source: str = WEBHOOK) -> Received:
    """The event in these bytes: its key and header fields, or the problem reading it."""
    body, problem = parse(raw)
    if body is None:
        return Received(
            f"raw:sha256:{hashlib.sha256(raw).hexdigest()}", raw, source, problem=problem
        )
    topic = text(body.get("topic"))
    return Received(
        event_key(body),
        raw,
        source,
        topic=topic,
        trigger=text(body.get("trigger")),
        return_id=return_id(topic, body),
        return_state=return_state(topic, body),
    )


def text(value: Any) -> str | None:
    """A key part: an id or a name as text (ints too; Loop sends ids both ways), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_PART:
        return value
    return None


def return_id(topic: str | None, body: dict[str, Any]) -> str | None:
    """The return an event is about: `id` for return, label and restock (the sandbox's label
    names it `return_id`), `return_id` for the others."""
    if topic in ("return", "restock"):
        return text(body.get("id"))
    if topic == "label":
        return text(body.get("id")) or text(body.get("return_id"))
    return text(body.get("return_id"))


def state_of(value: Any) -> str | None:
    """A return state as text; Loop's flagged state is `review` in its data and "needs review"
    in its prose (and, unverified, maybe in webhooks): both are `review`."""
    shown = text(value)
    return "review" if shown is not None and shown.lower() == "needs review" else shown


def return_state(topic: str | None, body: dict[str, Any]) -> str | None:
    if topic == "return":
        return state_of(body.get("state"))
    if topic == "return.processing":
        return state_of(body.get("return_state"))
    return None


def moment(value: Any) -> str | None:
    """A timestamp as one text whatever Loop's spelling: its webhooks say
    `2026-12-02T10:38:33+00:00`, its returns list `2026-12-02 10:38:33` (UTC). Other text is
    kept as it is."""
    shown = text(value)
    if shown is None:
        return None
    try:
        parsed = datetime.fromisoformat(shown.replace("Z", "+00:00"))
    except ValueError:
        return shown
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0).isoformat() + "Z"


def event_key(body: dict[str, Any]) -> str:
    """The body's de-duplication key (see the module docstring)."""
    topic = text(body.get("topic"))
    parts = _key_parts(topic, body)
    if topic is not None and parts is not None and None not in parts:
        return ":".join([topic, *(p for p in parts if p is not None)])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{topic or 'event'}:sha256:{digest}"


def _key_parts(topic: str | None, body: dict[str, Any]) -> list[str | None] | None:
    if topic == "return":
        # Not updated_at: Loop's webhooks have none, its returns list has one, and a poll must
        # find the key the matching webhook has (engine/serve/poll.py).
        stamp = next(
            (moment(body.get(k)) for k in ("edited_at", "created_at") if body.get(k)),
            None,
        )
        return [
            return_id(topic, body),
            state_of(body.get("state")),
            stamp,
            text(body.get("trigger")),
        ]
    if topic == "label":
        # Loop's label payload is flat; the sandbox nests the label under `label`.
        label = body.get("label")
        nested: dict[str, Any] = label if isinstance(label, dict) else {}
        status = body.get("label_status", nested.get("status"))
        stamp = body.get("label_updated_at", nested.get("updated_at"))
        return [return_id(topic, body), text(status), text(stamp)]
    if topic == "restock":
        return [return_id(topic, body), text(body.get("trigger"))]
    return None


# -- writes --------------------------------------------------------------------------------


def insert(db: duckdb.DuckDBPyConnection, events: Sequence[Received], now: datetime) -> list[bool]:
    """Store each event unless its key is known: per event, True when it is new. Call inside
    one transaction (State.receive_events does). The batch's known keys are read first, then
    the new events written by a plain INSERT (an upsert costs DuckDB a few milliseconds more
    per statement); a duplicate counts on the stored row, whether it meets the row in the table
    or earlier in the same batch."""
    first: dict[str, Received] = {}
    repeats: dict[str, int] = {}
    for event in events:
        if event.key in first:
            repeats[event.key] += 1
        else:
            first[event.key], repeats[event.key] = event, 0
    if not first:
        return []
    found = db.execute("SELECT key FROM inbox WHERE key IN (SELECT unnest(?))", [list(first)])
    known = {row[0] for row in found.fetchall()}
    _insert_new([e for key, e in first.items() if key not in known], repeats, db, now)
    if known:
        db.execute(
            "UPDATE inbox SET duplicates = inbox.duplicates + v.n, last_duplicate_at = ? "
            "FROM (SELECT unnest(?) AS key, unnest(?) AS n) v WHERE inbox.key = v.key",
            [now, list(known), [repeats[key] + 1 for key in known]],
        )
    seen: set[str] = set()
    out = []
    for event in events:
        out.append(event.key not in known and event.key not in seen)
        seen.add(event.key)
    return out


def _insert_new(
    unique: list[Received], repeats: dict[str, int], db: duckdb.DuckDBPyConnection, now: datetime
) -> None:
    """New events in one INSERT, each with the repeats its batch held."""
    if not unique:
        return
    db.execute(
        "INSERT INTO inbox (key, topic, trigger, return_id, return_state, received_at, "
        "body, status, reasons, source, duplicates) SELECT unnest(?), unnest(?), "
        "unnest(?), unnest(?), unnest(?), ?, unnest(?), unnest(?), unnest(?)::JSON, "
        "unnest(?), unnest(?)",
        [
            [e.key for e in unique],
            [e.topic for e in unique],
            [e.trigger for e in unique],
            [e.return_id for e in unique],
            [e.return_state for e in unique],
            now,
            [e.body for e in unique],
            [UNPROCESSABLE if e.problem else RECEIVED for e in unique],
            [dumps([e.problem] if e.problem else []) for e in unique],
            [e.source for e in unique],
            [repeats[e.key] for e in unique],
        ],
    )


def due(
    db: duckdb.DuckDBPyConnection, now: datetime, limit: int, keys: Sequence[str] | None = None
) -> list[InboxEvent]:
    """Events to process, oldest first: received ones, and failed ones whose retry is due."""
    sql = (
        "SELECT key, body, attempts, topic, return_id FROM inbox WHERE (status = ? OR "
        "(status = ? AND next_attempt_at <= ?))"
    )
    params: list[Any] = [RECEIVED, FAILED, now]
    if keys is not None:
        sql += " AND key IN (SELECT unnest(?))"
        params.append(list(keys))
    found = db.execute(sql + " ORDER BY seq LIMIT ?", [*params, limit]).fetchall()
    return [InboxEvent(r[0], bytes(r[1]), int(r[2]), r[3], r[4]) for r in found]


def settle(db: duckdb.DuckDBPyConnection, settled: Sequence[Settlement], now: datetime) -> None:
    """Write what processing decided, and every new (return, state) effect. Call inside one
    transaction: after a crash an event is either still due or settled with its effect."""
    if not settled:
        return
    db.execute(
        "UPDATE inbox SET status = v.status, attempts = inbox.attempts + 1, "
        "reasons = v.reasons::JSON, next_attempt_at = v.next_at, processed_at = ?, "
        "effect = v.effect FROM (SELECT unnest(?) AS key, unnest(?) AS status, "
        "unnest(?) AS reasons, unnest(?::TIMESTAMPTZ[]) AS next_at, unnest(?) AS effect) v "
        "WHERE inbox.key = v.key",
        [
            now,
            [s.key for s in settled],
            [s.status for s in settled],
            [dumps(stored_reasons(list(s.reasons))) for s in settled],
            [s.next_attempt_at for s in settled],
            [f"{s.effect[0]}:{s.effect[1]}" if s.effect else None for s in settled],
        ],
    )
    effects: dict[tuple[str, str], str] = {}
    for s in settled:
        if s.effect is not None and s.status == PROCESSED:
            effects.setdefault(s.effect, s.key)
    if effects:
        db.execute(
            "INSERT INTO return_effects SELECT unnest(?), unnest(?), unnest(?), ? "
            "ON CONFLICT DO NOTHING",
            [[e[0] for e in effects], [e[1] for e in effects], list(effects.values()), now],
        )


def replay(db: duckdb.DuckDBPyConnection, key: str) -> bool:
    """Mark the event to be processed again (its effect, if recorded, stays recorded once); an
    event whose body retention dropped cannot be (StateError)."""
    refuse_dropped(db, key)
    found = db.execute(
        "UPDATE inbox SET status = ?, attempts = 0, next_attempt_at = NULL, reasons = '[]' "
        "WHERE key = ? RETURNING key",
        [RECEIVED, key],
    ).fetchall()
    return bool(found)


# -- reads ---------------------------------------------------------------------------------


def counts(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Events per status (every status present), and the duplicates counted in all."""
    found = dict(db.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())
    out = {status: int(found.get(status, 0)) for status in STATUSES}
    row = db.execute("SELECT coalesce(sum(duplicates), 0) FROM inbox").fetchone()
    out["duplicates"] = int(row[0]) if row else 0
    return out


def last_received(db: duckdb.DuckDBPyConnection) -> datetime | None:
    row = db.execute(
        "SELECT greatest(max(received_at), max(last_duplicate_at)) FROM inbox"
    ).fetchone()
    return None if row is None else row[0]


def recent_keys(db: duckdb.DuckDBPyConnection, limit: int) -> list[str]:
    """The keys of the last `limit` events stored, oldest first."""
    found = db.execute("SELECT key FROM inbox ORDER BY seq DESC LIMIT ?", [limit]).fetchall()
    return [r[0] for r in reversed(found)]


def rows(db: duckdb.DuckDBPyConnection, status: str | None = None) -> list[dict[str, Any]]:
    """Every event (or those with one status), oldest first, without bodies."""
    sql, params = f"SELECT {_COLUMNS} FROM inbox", []
    if status is not None:
        sql += " WHERE status = ?"
        params.append(status)
    return [_row(r) for r in db.execute(sql + " ORDER BY seq", params).fetchall()]


def get(db: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """One event with its body (bytes, exactly as received) and who recorded its effect."""
    found = db.execute(
        f"SELECT {_COLUMNS}, body, (SELECT event_key FROM return_effects e WHERE inbox.effect "
        "IS NOT NULL AND e.return_id = inbox.return_id AND e.state = inbox.return_state) "
        "FROM inbox WHERE key = ?",
        [key],
    ).fetchone()
    if found is None:
        return None
    out = _row(found[:-2])
    out["body"] = bytes(found[-2])
    out["effect_recorded_by"] = found[-1]
    return out


def effects(db: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every recorded (return, state) transition, in the order they were recorded."""
    found = db.execute(
        "SELECT return_id, state, event_key, recorded_at FROM return_effects "
        "ORDER BY recorded_at, return_id, state"
    ).fetchall()
    return [
        {"return_id": r[0], "state": r[1], "event_key": r[2], "recorded_at": r[3].isoformat()}
        for r in found
    ]


def _row(r: Sequence[Any]) -> dict[str, Any]:
    names = [c.strip() for c in _COLUMNS.split(",")]
    out = dict(zip(names, r, strict=True))
    out["reasons"] = json.loads(out["reasons"])
    for stamp in ("received_at", "next_attempt_at", "processed_at", "last_duplicate_at"):
        out[stamp] = out[stamp].isoformat() if out[stamp] is not None else None
    return out
