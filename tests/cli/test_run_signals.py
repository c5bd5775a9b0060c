"""SIGTERM ends `etl run` as interrupted even when it lands inside a DuckDB query, which DuckDB
reports as RuntimeError('Query interrupted') instead of the handler's SystemExit."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from engine import interrupt
from engine.cli.run import terminated_as_exit
from engine.state import State

# seconds long: the SIGTERM lands inside it
LONG_QUERY = "SELECT count(*) FROM range(1500000000) t(i) WHERE i % 7 = 3"


def _sigterm_soon() -> threading.Timer:
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_run_signals_sigterm_inside_a_duckdb_query_is_an_interrupted_run(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        timer = _sigterm_soon()
        with pytest.raises(SystemExit) as stopped, terminated_as_exit(), state.run("run"):
            state.db.execute(LONG_QUERY).fetchall()  # cut short: RuntimeError, not SystemExit
        timer.join()
        [last] = state.runs(limit=1)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert last["status"] == "interrupted" and last["finished_at"] is not None
    assert interrupt.asked() is None  # forgotten once the command ended


def test_run_signals_a_failure_without_a_signal_stays_a_failure(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        with pytest.raises(RuntimeError), terminated_as_exit(), state.run("run"):
            raise RuntimeError("boom")
        [last] = state.runs(limit=1)
    assert last["status"] == "failed"
