"""The inbox table: keys derived from the body, insert-if-new, settling with the effect record
once per (return, state), replay, counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.loop.webhooks import php_json
from engine.state import Settlement, State
from engine.state.inbox import POLL, event_key, received

RETURN = {
    "topic": "return",
    "trigger": "return.updated",
    "id": "6042537",
    "state": "closed",
    "created_at": "2026-03-01 10:00:00",
    "edited_at": None,
}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "s.duckdb") as s:
        yield s


KEYS = [
    pytest.param(RETURN, "return:6042537:closed:2026-03-01T10:00:00Z:return.updated", id="return"),
    pytest.param(
        {**RETURN, "id": 6042537, "edited_at": "2026-03-02 09:00:00"},
        "return:6042537:closed:2026-03-02T09:00:00Z:return.updated",
        id="integer id, edited",
    ),
    pytest.param(
        {**RETURN, "updated_at": "2026-03-03T00:00:00+00:00"},
        "return:6042537:closed:2026-03-01T10:00:00Z:return.updated",
        id="updated_at ignored (a polled return gets its webhook's key)",
    ),
    pytest.param(
        {
            "topic": "label",
            "trigger": "label.updated",
            "id": "6042537",
            "label_status": "in_transit",
            "label_updated_at": "2026-03-04 08:00:00",
        },
        "label:6042537:in_transit:2026-03-04 08:00:00",
        id="label (Loop's flat payload)",
    ),
    pytest.param(
        {
            "topic": "label",
            "trigger": "label.created",
            "return_id": 9,
            "label": {"status": "new", "updated_at": "2026-03-04T08:00:00+00:00"},
        },
        "label:9:new:2026-03-04T08:00:00+00:00",
        id="label (the sandbox's nested payload)",
    ),
    pytest.param(
        {"topic": "restock", "trigger": "restock.requested", "id": 5, "restock_items": []},
        "restock:5:restock.requested",
        id="restock",
    ),
]


@pytest.mark.parametrize(("body", "key"), KEYS)
def test_inbox_key_is_derived_from_the_body(body: dict[str, Any], key: str) -> None:
    assert event_key(body) == key


def test_inbox_key_falls_back_to_a_digest_of_the_canonical_body() -> None:
    gift = {"topic": "giftcard", "trigger": "giftcard.requested", "id": None, "return_id": "1"}
    key = event_key(gift)
    assert key.startswith("giftcard:sha256:") and len(key) == len("giftcard:sha256:") + 64
    assert event_key(dict(reversed(list(gift.items())))) == key  # key order does not matter
    missing_state = {k: v for k, v in RETURN.items() if k != "state"}
    assert event_key(missing_state).startswith("return:sha256:")
    assert event_key({"hello": 1}).startswith("event:sha256:")
    assert event_key({**RETURN, "id": "9" * 500}).startswith("return:sha256:")


def test_inbox_received_reads_the_header_fields_or_the_problem() -> None:
    event = received(php_json(RETURN), POLL)
    assert (event.topic, event.trigger, event.return_id, event.return_state) == (
        "return",
        "return.updated",
        "6042537",
        "closed",
    )
    assert event.source == POLL and event.problem is None
    bad = received(b"{not json")
    assert bad.key.startswith("raw:sha256:") and bad.problem is not None
    assert "{not json" not in bad.problem  # never quotes the body


def test_inbox_insert_stores_once_and_counts_duplicates(state: State) -> None:
    event = received(php_json(RETURN))
    assert [state.receive_event(event) for _ in range(3)] == [True, False, False]
    (row,) = state.inbox_events()
    assert row["status"] == "received" and row["duplicates"] == 2
    assert row["last_duplicate_at"] is not None
    assert state.inbox_counts()["duplicates"] == 2
    stored = state.inbox_event(event.key)
    assert stored is not None and stored["body"] == php_json(RETURN)


def test_inbox_an_unreadable_body_is_stored_unprocessable_with_its_reason(state: State) -> None:
    event = received(b"\x00\x01")
    assert state.receive_event(event)
    (row,) = state.inbox_events()
    assert row["status"] == "unprocessable" and row["reasons"] == [event.problem]
    assert state.due_events(10) == []


def test_inbox_settle_records_each_return_state_once(state: State) -> None:
    bodies = [
        {**RETURN, "trigger": "return.updated"},
        {**RETURN, "trigger": "return.closed"},  # another event, the same transition
        {**RETURN, "state": "open", "trigger": "return.created"},
    ]
    for body in bodies:
        state.receive_event(received(php_json(body)))
    due = state.due_events(10)
    assert len(due) == 3
    state.settle_events(
        [
            Settlement(e.key, "processed", effect=("6042537", json.loads(e.body)["state"]))
            for e in due
        ]
    )
    effects = state.return_effects()
    assert sorted((e["return_id"], e["state"]) for e in effects) == [
        ("6042537", "closed"),
        ("6042537", "open"),
    ]
    closed = next(e for e in effects if e["state"] == "closed")
    assert closed["event_key"] == due[0].key  # the first event that reported it
    assert state.due_events(10) == []
    assert all(r["attempts"] == 1 for r in state.inbox_events())


def test_inbox_replay_processes_again_but_the_effect_stays_once(state: State) -> None:
    event = received(php_json(RETURN))
    state.receive_event(event)
    state.settle_events([Settlement(event.key, "processed", effect=("6042537", "closed"))])
    assert state.replay_event(event.key) is True
    assert [e.key for e in state.due_events(10)] == [event.key]
    state.settle_events([Settlement(event.key, "processed", effect=("6042537", "closed"))])
    assert len(state.return_effects()) == 1
    shown = state.inbox_event(event.key)
    assert shown is not None and shown["effect_recorded_by"] == event.key
    assert state.replay_event("no-such-key") is False


def test_inbox_a_failed_event_is_due_again_only_at_its_time(state: State) -> None:
    from datetime import UTC, datetime, timedelta

    event = received(php_json(RETURN))
    state.receive_event(event)
    later = datetime.now(UTC) + timedelta(hours=1)
    state.settle_events([Settlement(event.key, "failed", ("boom",), next_attempt_at=later)])
    assert state.due_events(10) == []
    (row,) = state.inbox_events("failed")
    assert row["reasons"] == ["boom"] and row["attempts"] == 1
    assert row["next_attempt_at"] == later.isoformat()
    earlier = datetime.now(UTC) - timedelta(seconds=1)
    state.settle_events([Settlement(event.key, "failed", ("boom",), next_attempt_at=earlier)])
    assert [e.attempts for e in state.due_events(10)] == [2]


def test_inbox_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        state.receive_event(received(php_json(RETURN)))
    with State(path) as state:
        assert [e.key for e in state.due_events(10)] == [event_key(RETURN)]
        assert state.inbox_last_received() is not None


def test_inbox_a_batch_with_repeats_stores_each_key_once(state: State) -> None:
    one, two = received(php_json(RETURN)), received(php_json({**RETURN, "id": "2"}))
    assert state.receive_events([one, two, one, one]) == [True, True, False, False]
    assert state.receive_events([two, one]) == [False, False]
    counts = {r["key"]: r["duplicates"] for r in state.inbox_events()}
    assert counts == {one.key: 3, two.key: 1}


def test_inbox_a_version_1_state_file_gains_the_inbox_and_keeps_its_rows(tmp_path: Path) -> None:
    import duckdb

    from engine.state.schema import STEPS

    path = tmp_path / "v1.duckdb"
    with duckdb.connect(str(path)) as db:  # a state file as loop-etl wrote it before the inbox
        db.execute(STEPS[0])
        db.execute("CREATE TABLE state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO state_meta VALUES ('schema_version', '1')")
        db.execute("INSERT INTO cursors VALUES ('orders', 'c1', now())")
    with State(path) as state:
        assert state.cursor("orders") == "c1"
        assert state.receive_event(received(php_json(RETURN)))
        assert state.inbox_counts()["received"] == 1


def test_both_spellings_of_the_flagged_state_are_one_state() -> None:
    from engine.state.inbox import event_key

    spelled = {**RETURN, "state": "needs review"}
    assert event_key(spelled) == event_key({**RETURN, "state": "review"})
    assert ":review:" in event_key(spelled)
