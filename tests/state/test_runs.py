"""Runs: start and finish, the list of recent runs, and the run(command) lifecycle."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.state import RunHandle, State


@pytest.fixture
def state(tmp_path: Path) -> Any:
    with State(tmp_path / "s.duckdb") as opened:
        yield opened


class Tally:
    """A summary object, like the pipeline's RunSummary: read through as_dict() at the end."""

    def __init__(self) -> None:
        self.done = 0

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done}


def test_state_runs_are_recorded(state: State) -> None:
    run = state.start_run("run")
    state.finish_run(run, "ok", {"entities": []})
    (row,) = state.runs()
    assert (row["run_id"], row["status"], row["summary"]) == (run, "ok", {"entities": []})


def test_state_runs_lists_the_newest_first_up_to_the_limit(state: State) -> None:
    first, second, third = (state.start_run(c) for c in ("run", "reconcile", "run"))
    state.finish_run(first, "ok", None)
    assert [r["run_id"] for r in state.runs()] == [third, second, first]
    assert [r["run_id"] for r in state.runs(limit=2)] == [third, second]
    running = state.runs()[0]
    assert (running["command"], running["status"]) == ("run", "running")
    assert (running["finished_at"], running["summary"]) == (None, None)
    assert state.runs()[-1]["finished_at"] is not None


def test_state_run_finishes_ok_by_default(state: State) -> None:
    with state.run("run") as handle:
        assert isinstance(handle, RunHandle)
        assert state.runs()[0]["status"] == "running"
    (row,) = state.runs()
    assert (row["run_id"], row["command"], row["status"]) == (handle.run_id, "run", "ok")
    assert row["summary"] is None and row["finished_at"] is not None


def test_state_run_finishes_with_the_status_and_summary_the_block_set(state: State) -> None:
    with state.run("reconcile") as handle:
        handle.status, handle.summary = "parked", {"remaining": 2}
    (row,) = state.runs()
    assert (row["status"], row["summary"]) == ("parked", {"remaining": 2})


def test_state_run_reads_a_summary_object_when_it_finishes(state: State) -> None:
    tally = Tally()
    with state.run("run") as handle:
        handle.summary = tally
        tally.done = 7  # counted after it was set: the row keeps the final count
    assert state.runs()[0]["summary"] == {"done": 7}


def test_state_run_records_failed_keeps_the_summary_and_reraises(state: State) -> None:
    tally = Tally()
    with pytest.raises(RuntimeError, match="source down"), state.run("run") as handle:
        handle.summary, handle.status = tally, "parked"
        tally.done = 3
        raise RuntimeError("source down")
    (row,) = state.runs()
    assert (row["status"], row["summary"]) == ("failed", {"done": 3})
    assert row["finished_at"] is not None


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(KeyboardInterrupt(), id="ctrl-c"),
        pytest.param(SystemExit(143), id="sigterm handler exits"),
    ],
)
def test_state_run_records_interrupted_on_ctrl_c_or_exit(state: State, stop: BaseException) -> None:
    with pytest.raises(type(stop)), state.run("run") as handle:
        handle.summary = {"done": 1}
        raise stop
    (row,) = state.runs()
    assert (row["status"], row["summary"]) == ("interrupted", {"done": 1})


def test_state_run_does_not_hold_the_lock_across_the_block(state: State) -> None:
    # Worker threads (prefetch, concurrent loads) use the state while the run is open.
    seen: list[str | None] = []
    with state.run("run"):
        worker = threading.Thread(target=lambda: seen.append(state.cursor("orders")))
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive()
    assert seen == [None]
