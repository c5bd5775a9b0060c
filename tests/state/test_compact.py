"""Compaction on close: a grown state file is rewritten smaller, every row and sequence kept."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine.state import BatchOutcome, Parked, State, Synced, compact
from engine.state.inbox import Received


@pytest.fixture(autouse=True)
def raw_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw records grow the file fastest; these tests stage them (ETL_STATE_RAW=on)."""
    monkeypatch.setenv("ETL_STATE_RAW", "on")


def churn(state: State, run: int, rows: int, version: int) -> None:
    """Stage `rows` raw records of ~2 kB (again: an update of each), sync and park some."""
    record = {"note": "n" * 1500, "version": version}
    state.stage_raw("orders", ((str(i), {**record, "id": i}, None) for i in range(rows)), run)
    synced = [Synced(str(i), 10**16 + i, f"{version:032d}") for i in range(0, rows, 2)]
    parked = [Parked("bad", ["no total"], {"id": "bad"}, None, "validate")]
    state.commit(BatchOutcome("orders", synced=synced, quarantined=parked), run)


def tables(path: Path) -> dict[str, Any]:
    """Every table's row count, a raw record, the schema version and the sequences' next."""
    db = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in db.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        out: dict[str, Any] = {
            n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone() for n in names
        }
        out["raw 7"] = db.execute("SELECT record FROM raw_records WHERE key = '7'").fetchone()
        out["meta"] = db.execute(
            "SELECT value FROM state_meta WHERE key = 'schema_version'"
        ).fetchone()
    finally:
        db.close()
    return out


@pytest.fixture
def grown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state file with runs, raw records updated once, the ID map, a parked record and an
    inbox event; compaction due at any size."""
    monkeypatch.setattr(compact, "MIN_BYTES", 0)
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        monkeypatch.setattr(compact, "due", lambda db, p: False)  # not on this close
        for version in (1, 2):
            churn(state, state.start_run("run"), 3000, version)
        state.receive_event(Received("e1", b"{}"))
    monkeypatch.undo()  # undoes raw_on's too: set it again
    monkeypatch.setattr(compact, "MIN_BYTES", 0)
    monkeypatch.setenv("ETL_STATE_RAW", "on")
    return path


def test_compact_on_close_shrinks_the_file_and_keeps_every_row(grown: Path) -> None:
    before, size, inode = tables(grown), grown.stat().st_size, grown.stat().st_ino
    State(grown).close()  # due: never compacted
    assert grown.stat().st_ino != inode and grown.stat().st_size < size * 0.8
    after = tables(grown)
    assert (before.pop("state_meta"), after.pop("state_meta")) == ((2,), (3,))  # + its size
    assert after == before
    assert json.loads(after["raw 7"][0])["version"] == 2
    assert not Path(f"{grown}.compact").exists() and not Path(f"{grown}.compact.wal").exists()
    with State(grown) as state:  # what replay reads is there; sequences go on where they were
        [bad] = state.parked("quarantine")
        assert (bad["key"], bad["record"], bad["reasons"]) == ("bad", {"id": "bad"}, ["no total"])
        assert state.lookup("orders", ["4"]) == {"4": (10**16 + 4, f"{2:032d}", None)}
        assert state.start_run("run") == 3
        state.receive_event(Received("e2", b"{}"))
        seqs = [r[0] for r in state.db.execute("SELECT seq FROM inbox ORDER BY key").fetchall()]
        assert seqs[1] > seqs[0]


def test_compact_again_only_once_the_file_has_grown_by_half(grown: Path) -> None:
    State(grown).close()
    compacted = grown.stat().st_ino
    with State(grown) as state:
        state.finish_run(state.start_run("status"), "ok", {})
    assert grown.stat().st_ino == compacted  # a small change: left as it is
    with State(grown) as state:
        churn(state, state.start_run("run"), 6000, 3)
    assert grown.stat().st_ino != compacted


def test_compact_a_refused_copy_leaves_the_file_as_it_was(
    grown: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def differs(db: duckdb.DuckDBPyConnection, source: str) -> None:
        raise duckdb.IOException("the compacted copy of raw_records differs")

    monkeypatch.setattr(compact, "_check", differs)
    before, inode = tables(grown), grown.stat().st_ino
    with caplog.at_level(logging.WARNING, logger="engine.state.compact"):
        State(grown).close()
    assert grown.stat().st_ino == inode and tables(grown) == before
    assert "could not compact the state file" in caplog.text
    assert not Path(f"{grown}.compact").exists()


def test_compact_never_for_a_state_in_memory_or_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        churn(state, state.start_run("run"), 500, 1)
        assert not compact.due(state.db, ":memory:")
    inode = path.stat().st_ino
    State(path).close()
    assert path.stat().st_ino == inode and os.path.getsize(path) < compact.MIN_BYTES
