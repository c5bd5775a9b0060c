"""The schema version: recorded in state_meta, older files migrated, newer files refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from engine.errors import StateError
from engine.state import State
from engine.state.schema import SCHEMA_VERSION, STEPS


def _recorded(path: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(path)) as db:
        # (the spool's moved offset is recorded there too: engine/state/spool.py)
        return db.execute(
            "SELECT key, value FROM state_meta WHERE key = 'schema_version'"
        ).fetchall()


def _set_version(path: Path, value: str) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute("UPDATE state_meta SET value = ? WHERE key = 'schema_version'", [value])


def test_schema_a_new_file_records_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    State(path).close()
    assert _recorded(path) == [("schema_version", str(SCHEMA_VERSION))]
    with State(path) as state:  # reopening the current version changes nothing
        assert state.runs() == []
    assert _recorded(path) == [("schema_version", str(SCHEMA_VERSION))]


def test_schema_a_file_without_a_version_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with duckdb.connect(str(path)) as db:  # a state file written before versions existed
        db.execute(STEPS[0])
        db.execute("INSERT INTO cursors VALUES ('orders', 'c1', now())")
    with State(path) as state:
        assert state.cursor("orders") == "c1"
    assert _recorded(path) == [("schema_version", str(SCHEMA_VERSION))]


def test_schema_a_newer_version_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    State(path).close()
    _set_version(path, str(SCHEMA_VERSION + 1))
    with pytest.raises(StateError) as refused:
        State(path)
    message = str(refused.value)
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1}" in message
    assert f"version {SCHEMA_VERSION})" in message
    assert "upgrade loop-etl" in message
    assert _recorded(path) == [("schema_version", str(SCHEMA_VERSION + 1))]  # left as it was
    # The refusal released the file: another process can open it.
    probe = f"import duckdb; duckdb.connect({str(path)!r}).close()"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


def test_schema_an_unreadable_version_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    State(path).close()
    _set_version(path, "one")
    with pytest.raises(StateError, match="unreadable schema version 'one'"):
        State(path)
