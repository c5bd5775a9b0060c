"""The stand-ins of fixture tests (engine.mapping.fixture_sources): typed tables, files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from engine.mapping.fixture_sources import FixtureError, create_database, write_files


def test_create_database_types_duckdb_columns_from_their_values(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "price": 2, "day": dt.date(2024, 3, 1), "at": dt.datetime(2024, 3, 1, 10)},
        {"id": 2, "price": 2.5, "ok": True},
    ]
    create_database(tmp_path / "f.duckdb", "duckdb", {"t": rows})
    with duckdb.connect(str(tmp_path / "f.duckdb")) as conn:
        types = {name: kind for name, kind, *_ in conn.execute("DESCRIBE t").fetchall()}
        second = conn.execute("SELECT day, ok FROM t WHERE id = 2").fetchone()
    assert types == {"id": "BIGINT", "price": "DOUBLE", "day": "DATE", "at": "TIMESTAMP",
                     "ok": "BOOLEAN"}  # fmt: skip
    assert second == (None, True)


def test_create_database_refuses_a_table_without_rows(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"tables\.t: no rows"):
        create_database(tmp_path / "f.sqlite", "sqlite", {"t": []})


def test_create_database_refuses_a_nested_value(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="column 'tags' holds list: one scalar type"):
        create_database(tmp_path / "f.duckdb", "duckdb", {"t": [{"tags": ["a"]}]})


def test_write_files_writes_text_as_is_and_other_values_as_json(tmp_path: Path) -> None:
    write_files(tmp_path, {"a/b.csv": "x,y\n", "c.json": [{"d": dt.date(2024, 3, 1)}]})
    assert (tmp_path / "a" / "b.csv").read_text() == "x,y\n"
    assert json.loads((tmp_path / "c.json").read_text()) == [{"d": "2024-03-01"}]
