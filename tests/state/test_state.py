"""Opening the state file: its folder, the in-memory form, and a file it cannot open."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engine.errors import StateError
from engine.state import State

HOLDER = """
import duckdb, sys
db = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held_by_another_process(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "s.duckdb"
    State(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield path
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_state_open_creates_the_folder_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "s.duckdb"
    with State(path) as state:
        assert state.path == str(path)
    assert path.is_file()


def test_state_in_memory_works_without_a_file(tmp_path: Path) -> None:
    with State(":memory:") as state:
        run = state.start_run("run")
        state.finish_run(run, "ok", {})
        assert [r["status"] for r in state.runs()] == ["ok"]


def test_state_close_on_leaving_the_block(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        pass
    with pytest.raises(duckdb.ConnectionException):
        state.cursors()


def test_state_a_file_another_process_holds_is_a_clear_state_error(
    held_by_another_process: Path,
) -> None:
    with pytest.raises(StateError) as refused:
        State(held_by_another_process)
    message = str(refused.value)
    assert message.startswith(f"cannot open the state file {held_by_another_process}: ")
    assert "another process is using it" in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_state_a_file_that_is_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    path.write_text("not a database " * 100)
    with pytest.raises(StateError, match=re.escape(f"cannot open the state file {path}: ")):
        State(path)
