"""The outbox: a run claimed once per return and outcome, its steps recorded planned, sent,
confirmed or failed, and a failed step reopened for `etl outbox retry`."""

from __future__ import annotations

from pathlib import Path

from engine.state import State
from engine.state.closes import ManualCloses, closes_path, record_close, was_closed
from engine.state.outbox import CONFIRMED, DONE, FAILED, PLANNED, RUNNING, SENT


def test_outbox_claims_a_run_once_with_its_steps_planned(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        box = state.outbox
        steps = [("refund", None, "http"), ("note", None, "http")]
        assert box.claim("7", "refund", steps, {"x": 1}, "return.closed", "k1") is True
        assert box.claim("7", "refund", steps, {"x": 2}, "return.closed", "k2") is False
        run = box.run("7", "refund")
        rows = box.steps("7", "refund")
    assert run is not None and run.status == RUNNING and run.context == {"x": 1}
    assert [(r.step, r.kind, r.status, r.position) for r in rows] == [
        ("refund", "http", PLANNED, 0),
        ("note", "http", PLANNED, 1),
    ]


def test_outbox_records_a_step_sent_then_confirmed_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        state.outbox.claim("7", "refund", [("refund", None, "http")], {}, None, None)
        [row] = state.outbox.steps("7", "refund")
        state.outbox.sending(row.id, {"path": "/r"}, "key-7")
    with State(path) as state:  # what was sent survives the process
        sent = state.outbox.step(row.id)
        state.outbox.confirm(row.id, {"refund": {"id": 5}}, {"refund_id": 5}, "HTTP 201")
        state.outbox.finish("7", "refund", DONE, None)
        done = state.outbox.step(row.id)
        unsynced = state.outbox.run("7", "refund")
        state.outbox.synced("7", "refund")
        synced = state.outbox.run("7", "refund")
    assert sent is not None and sent.status == SENT and sent.attempts == 1
    assert sent.request == {"path": "/r"} and sent.idempotency_key == "key-7"
    assert done is not None and done.status == CONFIRMED and done.kept == {"refund_id": 5}
    assert unsynced is not None and unsynced.status == DONE and unsynced.synced_at is None
    assert synced is not None and synced.synced_at is not None


def test_outbox_reopens_only_a_failed_step_and_its_run(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        box = state.outbox
        box.claim("7", "refund", [("refund", None, "http")], {}, None, None)
        [row] = box.steps("7", "refund")
        assert box.reopen(row.id) is None  # planned: nothing to reopen
        box.fail(row.id, "HTTP 422: no", {"errors": "no"})
        box.finish("7", "refund", FAILED, "step refund: HTTP 422: no")
        counts = box.counts()
        reopened = box.reopen(row.id)
        run = box.run("7", "refund")
    assert counts[FAILED] == 1
    assert reopened is not None and reopened.status == PLANNED
    assert reopened.response == {"errors": "no"}  # the last answer stays for the record
    assert run is not None and run.status == RUNNING and run.reason is None


def test_closes_are_remembered_beside_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    assert was_closed(str(path), "41") is False
    record_close(str(path), "41")
    assert was_closed(str(path), "41") is True
    assert was_closed(str(path), "4") is False
    record_close(":memory:", "41")  # an in-memory state keeps nothing beside it
    assert closes_path(path) == tmp_path / "shop.closes"
    assert "41" in ManualCloses(closes_path(path))


def test_closes_refuse_a_return_id_that_is_not_digits(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="digits"):
        ManualCloses(tmp_path / "x.closes").add("4\n5")
