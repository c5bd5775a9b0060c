"""Retention: old settled inbox bodies and outcome details let go of, their rows (keys,
statuses) kept, so de-duplication and the listings still see them; recent or unsettled ones
kept whole."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.serve.worker import Worker
from engine.state import State
from engine.state.codec import now
from engine.state.inbox import FAILED, PROCESSED, Settlement, received
from engine.state.outbox import DONE
from engine.state.outbox import FAILED as STEP_FAILED
from engine.state.retention import ENV, prune_now, retention_days


def _event(n: int) -> bytes:
    return json.dumps({"topic": "return", "trigger": "return.updated", "id": n,
                       "state": "open", "updated_at": f"2026-11-0{n}T10:00:00Z"}).encode()  # fmt: skip


def _inbox(state: State) -> list[str]:
    """Two old events (one processed, one failed) and a processed recent one: their keys."""
    events = [received(_event(n)) for n in (1, 2, 3)]
    state.receive_events(events)
    keys = [e.key for e in events]
    state.settle_events(
        [
            Settlement(keys[0], PROCESSED),
            Settlement(keys[1], FAILED, ("no",)),
            Settlement(keys[2], PROCESSED),
        ]
    )
    old = now() - timedelta(days=45)
    with state.transaction() as db:
        db.execute("UPDATE inbox SET processed_at = ? WHERE key IN (?, ?)", [old, *keys[:2]])
    return keys


def _outbox(state: State) -> None:
    """Runs 45 days old: done and synced back (7), failed (8), done and not synced yet (9)."""
    box = state.outbox
    for rid, status in (("7", DONE), ("8", STEP_FAILED), ("9", DONE)):
        box.claim(rid, "refund", [("refund", None, "http")], {"order": rid}, None, None)
        [row] = box.steps(rid, "refund")
        box.sending(row.id, {"path": "/refunds"}, None)
        if status == DONE:
            box.confirm(row.id, {"refund": {"id": 5}}, {"refund_id": 5}, "HTTP 201")
        else:
            box.fail(row.id, "HTTP 422", {"errors": "no"})
        box.finish(rid, "refund", status, None)
        if rid == "7":  # run 9 is done but not synced back yet
            box.synced(rid, "refund")
    old = now() - timedelta(days=45)
    with state.transaction() as db:
        db.execute("UPDATE outcome_runs SET updated_at = ?", [old])
        db.execute("UPDATE outbox SET updated_at = ?", [old])


def test_retention_days_reads_the_environment() -> None:
    assert retention_days({}) == 30
    assert retention_days({ENV: "7"}) == 7
    assert retention_days({ENV: "-1"}) is None
    for bad in ("0", "week", "-3"):
        with pytest.raises(StateError, match=ENV):
            retention_days({ENV: bad})


def test_retention_drops_old_processed_bodies_and_keeps_their_keys(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        keys = _inbox(state)
        changed = prune_now(state.transaction, 30)
        events = {e["key"]: e for e in state.inbox_events()}
        bodies = {k: (state.inbox_event(k) or {}).get("body") for k in keys}
        again = state.receive_events([received(_event(1))])  # a redelivery of the pruned one
        with pytest.raises(StateError, match="dropped by the retention"):
            state.replay_event(keys[0])
        assert state.replay_event(keys[1]) is True  # a failed event keeps its body
        second = prune_now(state.transaction, 30)
    assert changed["inbox"] == 1 and second["inbox"] == 0
    assert set(events) == set(keys)  # every row stays listed
    assert bodies[keys[0]] == b""
    assert bodies[keys[1]] and bodies[keys[2]]  # failed, and processed recently: whole
    assert again == [False]  # still recognised as a duplicate


def test_retention_drops_old_done_outcome_details_only(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        _outbox(state)
        changed = prune_now(state.transaction, 30)
        done, failed = state.outbox.run("7", "refund"), state.outbox.run("8", "refund")
        unsynced = state.outbox.run("9", "refund")
        [done_step] = state.outbox.steps("7", "refund")
        [failed_step] = state.outbox.steps("8", "refund")
    assert changed["outcome_runs"] == 1 and changed["outbox"] == 2  # steps of 7 and 9
    assert done is not None and done.status == DONE and done.context == {}
    assert done_step.request is None and done_step.response is None
    assert done_step.kept == {"refund_id": 5}  # what later steps read stays
    assert failed is not None and failed.context == {"order": "8"}
    assert unsynced is not None and unsynced.context == {"order": "9"}
    assert failed_step.request == {"path": "/refunds"}


def test_retention_keeps_everything_with_minus_one(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        _inbox(state)
        _outbox(state)
        assert prune_now(state.transaction, None) == {"inbox": 0, "outcome_runs": 0, "outbox": 0}


def test_retention_applies_as_the_state_closes_and_in_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        keys = _inbox(state)
    with State(path) as state:
        closed = (state.inbox_event(keys[0]) or {}).get("body")
        _outbox(state)
        Worker(state)._prune_when_due()  # the worker's first pass prunes
        run = state.outbox.run("7", "refund")
    monkeypatch.setenv(ENV, "soon")
    with pytest.raises(StateError, match=ENV):
        State(path)
    assert closed == b""
    assert run is not None and run.context == {}
