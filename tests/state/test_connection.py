"""The state's DuckDB connections: the memory limit applied to each, and a limit DuckDB refuses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from engine.errors import StateError
from engine.state import State
from engine.state.connection import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV, applied, memory_limit


def spelled(limit: str) -> str:
    """How DuckDB reports `limit` once set (it rounds and respells: 64MB is '61.0 MiB')."""
    db = duckdb.connect()
    try:
        db.execute("SET memory_limit = ?", [limit])
        return applied(db)
    finally:
        db.close()


def test_connection_default_memory_limit_on_the_state_and_its_intake_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    unlimited = applied(duckdb.connect())
    with State(tmp_path / "s.duckdb") as state:
        assert applied(state.db) == spelled(DEFAULT_MEMORY_LIMIT) != unlimited
        assert applied(state._intake()) == spelled(DEFAULT_MEMORY_LIMIT)


def test_connection_memory_limit_from_the_environment_and_the_argument_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, " 100MiB ")
    with State(tmp_path / "a.duckdb") as state:
        assert applied(state.db) == spelled("100MiB")
    with State(tmp_path / "b.duckdb", memory_limit="1GiB") as state:
        assert applied(state.db) == spelled("1GiB")
    with State(":memory:") as state:
        assert applied(state.db) == spelled("100MiB")


def test_connection_memory_limit_resolution_order() -> None:
    assert memory_limit(None, {}) == DEFAULT_MEMORY_LIMIT
    assert memory_limit(None, {MEMORY_LIMIT_ENV: ""}) == DEFAULT_MEMORY_LIMIT
    assert memory_limit(None, {MEMORY_LIMIT_ENV: "2GB"}) == "2GB"
    assert memory_limit("512MB", {MEMORY_LIMIT_ENV: "2GB"}) == "512MB"


def test_connection_unreadable_memory_limit_is_a_state_error_and_frees_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(StateError, match=f"{MEMORY_LIMIT_ENV} .* is 'lots', not a size"):
        State(path)
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    with State(path) as state:  # the refused open left the file free for the next one
        assert state.runs() == []
