"""Intake's memory of recent keys and the spool mover, on real state files."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.loop.webhooks import php_json
from engine.net.retry import RetryPolicy
from engine.serve.intake import Mover, RecentKeys
from engine.state import State
from engine.state.inbox import received
from tests.serve.support import return_event, running_receiver


def test_intake_recent_keys_forget_the_oldest_past_their_limit() -> None:
    recent = RecentKeys(["a", "b"], limit=3)
    assert recent.add("c") is True
    assert recent.add("a") is False
    assert recent.add("d") is True  # "a" is forgotten now
    assert recent.add("a") is True
    assert recent.add("d") is False


def test_intake_a_repeat_of_an_event_stored_before_a_restart_is_answered_duplicate(
    tmp_path: Path,
) -> None:
    body = return_event(return_id="808", state="open")
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        state.receive_event(received(php_json(body)))
    with running_receiver(path) as receiver:
        answer = receiver.post(body)
        assert answer.json() == {"received": True, "duplicate": True}
        (row,) = receiver.state.inbox_events()
        assert row["duplicates"] == 1


def test_intake_mover_moves_the_spool_and_wakes_the_worker(tmp_path: Path) -> None:
    moved = threading.Event()
    with State(tmp_path / "s.duckdb") as state:
        mover = Mover(state, moved.set, linger_s=0.0, poll_s=30.0)
        mover.start()
        try:
            state.spool_events([php_json(return_event()) for _ in range(3)])
            assert not moved.wait(0.2)  # asleep until woken (poll_s is long)
            mover.wake()
            assert moved.wait(10)
            assert state.spool.unmoved == 0  # moved by the mover, not by the read below
            assert [r["status"] for r in state.inbox_events()] == ["received"] * 3
        finally:
            mover.stop()
        assert not mover.alive


def test_intake_mover_keeps_the_spool_while_the_inbox_fails_then_moves_it(tmp_path: Path) -> None:
    moved = threading.Event()
    with State(tmp_path / "s.duckdb") as state:
        state.db.execute("ALTER TABLE inbox RENAME TO inbox_away")
        retry = RetryPolicy(max_retries=1, backoff_s=0.05, max_backoff_s=0.05)
        mover = Mover(state, moved.set, linger_s=0.0, poll_s=0.05, retry=retry)
        mover.start()
        try:
            state.spool_events([php_json(return_event())])
            mover.wake()
            assert not moved.wait(0.3)
            assert mover.alive and state.spool.unmoved > 0
            state.db.execute("ALTER TABLE inbox_away RENAME TO inbox")
            assert moved.wait(10)
            assert len(state.inbox_events()) == 1
        finally:
            mover.stop()


def test_intake_mover_moves_the_spool_once_more_when_stopped(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        mover = Mover(state, linger_s=0.0, poll_s=30.0)
        mover.start()
        state.spool_events([php_json(return_event()) for _ in range(2)])
        assert state.spool.unmoved > 0  # never woken: nothing moved yet
        mover.stop()
        assert state.spool.unmoved == 0
