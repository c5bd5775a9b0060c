"""The inbox worker: processing (parse, validate, the (return, state) effect once), retries with
backoff for failures, and draining off the request path."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.loop.webhooks import php_json
from engine.net.retry import RetryPolicy
from engine.serve.metrics import Metrics
from engine.serve.worker import Worker, process
from engine.state import InboxEvent, Settlement, State
from engine.state.inbox import received
from tests.serve.support import return_event


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "s.duckdb") as s:
        yield s


def _event(body: object) -> InboxEvent:
    raw = body if isinstance(body, bytes) else php_json(body)
    return InboxEvent("k", raw, 0)


def test_worker_process_a_return_reports_its_transition() -> None:
    settled = process(_event(return_event(return_id=12, state="review")))
    assert settled == Settlement("k", "processed", effect=("12", "review"))


def test_worker_process_other_topics_have_no_transition() -> None:
    label = {"topic": "label", "trigger": "label.updated", "id": "1", "label_status": "new"}
    assert process(_event(label)) == Settlement("k", "processed")
    failed = {"topic": "return.processing", "trigger": "return.processing.failed"}
    assert process(_event(failed)).status == "processed"


def test_worker_process_refuses_what_the_schema_refuses_with_every_reason() -> None:
    bad = return_event(state="exploded", total=12.5)
    settled = process(_event(bad))
    assert settled.status == "unprocessable" and settled.effect is None
    assert any(r.startswith("$.state") for r in settled.reasons)
    assert any(r.startswith("$.total") for r in settled.reasons)


def test_worker_process_an_unknown_topic_is_unprocessable() -> None:
    settled = process(_event({"topic": "weather", "trigger": "rain"}))
    assert settled.status == "unprocessable" and "'weather'" in settled.reasons[0]


def _failing(times: int) -> tuple[list[str], object]:
    calls: list[str] = []

    def processor(event: InboxEvent) -> Settlement:
        calls.append(event.key)
        if len(calls) <= times:
            raise ConnectionError("the platform is down")
        return process(event)

    return calls, processor


def test_worker_retries_a_failure_with_backoff_then_processes(state: State) -> None:
    calls, processor = _failing(2)
    retry = RetryPolicy(max_retries=5, backoff_s=0.05, max_backoff_s=0.1, rng=random.Random(1))
    worker = Worker(state, processor=processor, retry=retry)  # type: ignore[arg-type]
    event = received(php_json(return_event(return_id="5", state="closed")))
    state.receive_event(event)

    worker.drain()
    (row,) = state.inbox_events()
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["reasons"] == ["attempt 1: ConnectionError: the platform is down"]
    assert row["next_attempt_at"] is not None
    assert worker.drain() == 0  # not due yet
    deadline = time.monotonic() + 5
    while state.inbox_events()[0]["status"] != "processed" and time.monotonic() < deadline:
        time.sleep(0.05)
        worker.drain()
    (row,) = state.inbox_events()
    assert row["status"] == "processed" and row["attempts"] == 3 and row["reasons"] == []
    assert len(calls) == 3
    assert [(e["return_id"], e["state"]) for e in state.return_effects()] == [("5", "closed")]


def test_worker_gives_up_after_the_last_attempt(state: State) -> None:
    calls, processor = _failing(100)
    retry = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=0.01)
    metrics = Metrics(state)
    worker = Worker(state, metrics, processor=processor, retry=retry)  # type: ignore[arg-type]
    state.receive_event(received(php_json(return_event())))
    deadline = time.monotonic() + 5
    while not calls or (len(calls) < 3 and time.monotonic() < deadline):
        worker.drain()
        time.sleep(0.02)
    worker.drain()
    (row,) = state.inbox_events()
    assert row["status"] == "failed" and row["attempts"] == 3 and len(calls) == 3
    assert row["next_attempt_at"] is None and row["reasons"][-1] == "no attempts left"
    assert state.return_effects() == []
    assert metrics.events.labels(status="failed")._value.get() == 3


def test_worker_thread_drains_what_arrives_and_stops(state: State) -> None:
    worker = Worker(state, poll_s=5)
    worker.start()
    try:
        assert worker.alive
        for n in range(20):
            state.receive_event(received(php_json(return_event(return_id=n, state="open"))))
        worker.wake()
        deadline = time.monotonic() + 10
        while state.inbox_counts()["processed"] < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state.inbox_counts()["processed"] == 20
        assert len(state.return_effects()) == 20
    finally:
        worker.stop()
    assert not worker.alive


def test_worker_drain_of_some_keys_leaves_the_others(state: State) -> None:
    one = received(php_json(return_event(return_id=1)))
    two = received(php_json(return_event(return_id=2)))
    state.receive_event(one)
    state.receive_event(two)
    assert Worker(state).drain(keys=[two.key]) == 1
    assert {r["key"]: r["status"] for r in state.inbox_events()} == {
        one.key: "received",
        two.key: "processed",
    }


def test_worker_survives_a_state_error_and_carries_on(state: State) -> None:
    calls: list[int] = []

    def processor(event: InboxEvent) -> Settlement:
        calls.append(1)
        return process(event)

    worker = Worker(state, processor=processor, poll_s=0.05,
                    retry=RetryPolicy(backoff_s=0.01, max_backoff_s=0.02))  # fmt: skip
    with state.lock:  # the worker thread shares the connection: never alter it under its feet
        state.db.execute("ALTER TABLE inbox RENAME TO inbox_away")
    worker.start()
    try:
        time.sleep(0.2)
        assert worker.alive
        with state.lock:
            state.db.execute("ALTER TABLE inbox_away RENAME TO inbox")
        state.receive_event(received(php_json(return_event())))
        worker.wake()
        deadline = time.monotonic() + 30
        while state.inbox_counts()["processed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state.inbox_counts()["processed"] == 1
    finally:
        worker.stop()


def test_a_processing_failure_is_reported_on_its_inbox_event() -> None:
    body = {
        "topic": "return.processing",
        "trigger": "return.processing.failed",
        "return_id": 6042537,
        "return_state": "open",
        "message": "Return failed to process",
        "source": "api",
    }
    event = InboxEvent("k", php_json(body), 0)
    settled = process(event)
    assert settled.status == "processed"
    assert settled.reasons == (
        "Loop failed to process return 6042537 (open): Return failed to process",
    )
