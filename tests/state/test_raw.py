"""Raw records: staged as the platform sent them, upserted per entity and key, when asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.state import State, raw


def test_state_stage_raw_upserts_records_with_their_parent_key_and_run(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb", keep_raw=True) as state:
        first, second = state.start_run("run"), state.start_run("run")
        state.stage_raw("lines", [("l1", {"q": 1}, "o1"), ("l2", {"q": "é"}, None)], first)
        state.stage_raw("lines", iter([("l1", {"q": 2}, "o2")]), second)
        state.stage_raw("lines", [], second)  # nothing to stage
        with state.transaction() as db:
            rows = db.execute(
                "SELECT key, record, parent_key, run_id FROM raw_records ORDER BY key"
            ).fetchall()
        assert [(k, json.loads(r), p, run) for k, r, p, run in rows] == [
            ("l1", {"q": 2}, "o2", second),
            ("l2", {"q": "é"}, None, first),
        ]


def test_state_stage_raw_a_batch_larger_than_the_memory_limit_is_staged_in_chunks(
    tmp_path: Path,
) -> None:
    # 2,000 records of ~10 kB: 20 MB of JSON, which one statement cannot cast and upsert
    # within 32 MiB; staged a chunk at a time, every record lands.
    record = {"lines": [{"sku": f"SKU-{i}", "title": "x" * 80} for i in range(100)]}
    with State(tmp_path / "s.duckdb", memory_limit="32MiB", keep_raw=True) as state:
        run = state.start_run("run")
        state.stage_raw("orders", ((str(i), {**record, "id": i}, None) for i in range(2000)), run)
        with state.transaction() as db:
            count, keys = db.execute(
                "SELECT count(*), count(DISTINCT key) FROM raw_records"
            ).fetchone() or (0, 0)
            last = db.execute("SELECT record FROM raw_records WHERE key = '1999'").fetchone()
    assert (count, keys) == (2000, 2000)
    assert last is not None and json.loads(last[0]) == {**record, "id": 1999}


def test_state_stage_raw_chunks_keep_every_row_and_the_last_partial_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw, "CHUNK_BYTES", 50)  # a statement every few rows
    with State(tmp_path / "s.duckdb", keep_raw=True) as state:
        run = state.start_run("run")
        rows = [(f"k{i}", {"i": i, "pad": "y" * 20}, f"p{i}") for i in range(7)]
        state.stage_raw("lines", iter(rows), run)
        with state.transaction() as db:
            got = db.execute(
                "SELECT key, record, parent_key FROM raw_records ORDER BY key"
            ).fetchall()
    assert [(k, json.loads(r), p) for k, r, p in got] == rows


def test_state_stage_raw_stages_nothing_by_default_and_everything_with_the_env_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def staged(path: Path) -> int:
        with State(path) as state:
            state.stage_raw("lines", [("l1", {"q": 1}, None)], state.start_run("run"))
            with state.transaction() as db:
                row = db.execute("SELECT count(*) FROM raw_records").fetchone()
        return row[0] if row else -1

    monkeypatch.delenv(raw.ENV, raising=False)
    assert staged(tmp_path / "default.duckdb") == 0
    monkeypatch.setenv(raw.ENV, "On ")
    assert staged(tmp_path / "on.duckdb") == 1
    monkeypatch.setenv(raw.ENV, "off")
    assert staged(tmp_path / "off.duckdb") == 0
    monkeypatch.setenv(raw.ENV, "sometimes")
    with pytest.raises(StateError, match="ETL_STATE_RAW='sometimes'"):
        State(tmp_path / "s.duckdb")
    assert raw.keep_raw({}) is False and raw.keep_raw({raw.ENV: "ON"}) is True
