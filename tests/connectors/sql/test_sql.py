"""The sql connector: conformance on DuckDB, SQLite and Parquet; binding, types, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.base import ExtractRequest
from connectors.sql import SqlConnector
from connectors.testing import ConnectorConformance, MakeSource
from engine.errors import ConfigError, ExtractError

QUERY = "SELECT * FROM items WHERE updated_at > $cursor ORDER BY updated_at"
CURSOR = {"field": "updated_at", "initial": "1970-01-01T00:00:00Z"}
ROW = {"id": 1, "name": "a", "price": "1.00", "updated_at": "2024-01-01 00:00:00"}


def _duckdb(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    with duckdb.connect(str(tmp_path / "oms.duckdb")) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER, name VARCHAR, price DECIMAL(10, 2), "
            "updated_at TIMESTAMP)"
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [[r["id"], r["name"], r["price"], r["updated_at"]] for r in records],
        )
    return {"connector": "sql", "database": "oms.duckdb"}, {"query": QUERY, "cursor": CURSOR}


def _sqlite(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    with sqlite3.connect(tmp_path / "oms.sqlite") as conn:
        conn.execute("CREATE TABLE items (id INTEGER, name TEXT, price TEXT, updated_at TEXT)")
        conn.executemany("INSERT INTO items VALUES (:id, :name, :price, :updated_at)", records)
    conn.close()
    return {"connector": "sql", "database": "oms.sqlite"}, {"query": QUERY, "cursor": CURSOR}


def _parquet(
    tmp_path: Path, records: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    (tmp_path / "exports").mkdir()
    with duckdb.connect() as conn:
        conn.execute(
            "CREATE TABLE t (id INTEGER, name VARCHAR, price VARCHAR, updated_at TIMESTAMPTZ)"
        )
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            [[r["id"], r["name"], r["price"], r["updated_at"]] for r in records],
        )
        conn.execute(f"COPY t TO '{tmp_path / 'exports' / 'items.parquet'}' (FORMAT parquet)")
    query = (
        "SELECT * FROM read_parquet('exports/items.parquet') "
        "WHERE updated_at > ? ORDER BY updated_at"
    )
    return {"connector": "sql", "database": ":memory:"}, {"query": query, "cursor": CURSOR}


FACTORIES = {"duckdb": _duckdb, "sqlite": _sqlite, "parquet": _parquet}


class TestSqlConformance(ConnectorConformance):
    @pytest.fixture(params=list(FACTORIES))
    def make_source(self, request: pytest.FixtureRequest) -> MakeSource:
        return FACTORIES[request.param]


def _rows(
    source: dict[str, Any], tmp_path: Path, cfg: dict[str, Any], cursor: str | None = None
) -> list[dict[str, Any]]:
    with SqlConnector(source, tmp_path) as conn:
        return [
            r for p in conn.extract(ExtractRequest("o", cfg, cursor, tmp_path)) for r in p.records
        ]


INJECTIONS = [
    pytest.param("x' OR '1'='1", id="quote or true"),
    pytest.param("'; DROP TABLE notes; --", id="drop table"),
    pytest.param("$cursor ? :cursor", id="placeholders"),
]


@pytest.mark.parametrize("cursor", INJECTIONS)
@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_sql_cursor_is_bound_never_formatted(tmp_path: Path, kind: str, cursor: str) -> None:
    rows = [("a", "x' OR '1'='1"), ("b", "zzz")]
    if kind == "duckdb":
        with duckdb.connect(str(tmp_path / "n.duckdb")) as conn:
            conn.execute("CREATE TABLE notes (id VARCHAR, v VARCHAR)")
            conn.executemany("INSERT INTO notes VALUES (?, ?)", rows)
    else:
        with sqlite3.connect(tmp_path / "n.sqlite") as lite:
            lite.execute("CREATE TABLE notes (id TEXT, v TEXT)")
            lite.executemany("INSERT INTO notes VALUES (?, ?)", rows)
        lite.close()
    source = {"connector": "sql", "database": f"n.{kind}"}
    cfg = {"query": "SELECT * FROM notes WHERE v > $cursor ORDER BY v", "cursor": "v"}
    expected = sorted(i for i, v in rows if v > cursor)
    assert sorted(r["id"] for r in _rows(source, tmp_path, cfg, cursor)) == expected
    assert len(_rows(source, tmp_path, {"query": "SELECT * FROM notes"})) == 2, "table intact"


def test_sql_types_become_json_friendly(tmp_path: Path) -> None:
    query = (
        "SELECT 12.30::DECIMAL(10, 2) AS price, TIMESTAMP '2024-03-01 10:00:00' AS at, "
        "DATE '2024-03-01' AS day, [1, 2] AS list, {'a': 1.5::DOUBLE} AS struct, "
        "'00000000-0000-0000-0000-000000000001'::UUID AS uid, 'ab'::BLOB AS raw, NULL AS none"
    )
    rows = _rows({"connector": "sql", "database": ":memory:"}, tmp_path, {"query": query})
    assert rows == [
        {
            "price": "12.30",
            "at": "2024-03-01T10:00:00",
            "day": "2024-03-01",
            "list": [1, 2],
            "struct": {"a": 1.5},
            "uid": "00000000-0000-0000-0000-000000000001",
            "raw": "YWI=",
            "none": None,
        }
    ]


def test_sql_number_cursor_and_first_run_needs_initial(tmp_path: Path) -> None:
    source = {"connector": "sql", "database": ":memory:"}
    cfg: dict[str, Any] = {
        "query": "SELECT * FROM range(12) t(id) WHERE id > ? ORDER BY id",
        "cursor": "id",
        "page_size": 5,
    }
    with pytest.raises(ExtractError, match=r"set extract\.cursor\.initial"):
        _rows(source, tmp_path, cfg)
    with SqlConnector(source, tmp_path) as conn:
        pages = list(conn.extract(ExtractRequest("o", cfg, "3", tmp_path)))
    assert [p.cursor for p in pages] == ["8", "11"], "an ordered query advances every page"


def test_sql_cursor_field_must_be_a_column(tmp_path: Path) -> None:
    cfg = {"query": "SELECT 1 AS id", "cursor": "updated_at"}
    with pytest.raises(ExtractError, match=r"cursor field 'updated_at' is not a column.*id"):
        _rows({"connector": "sql", "database": ":memory:"}, tmp_path, cfg)


def test_sql_bad_query_and_missing_database_are_extract_errors(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="o: query failed"):
        _rows({"connector": "sql", "database": ":memory:"}, tmp_path, {"query": "SELEC 1"})
    with pytest.raises(ExtractError, match=r"database not found: gone\.duckdb"):
        _rows({"connector": "sql", "database": "gone.duckdb"}, tmp_path, {"query": "SELECT 1"})


def test_sql_sqlite_through_duckdb_never_downloads(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "a.sqlite") as lite:
        lite.execute("CREATE TABLE t (id INTEGER)")
    lite.close()
    source = {"connector": "sql", "database": "a.sqlite", "sqlite_reader": "duckdb"}
    probe = duckdb.connect()
    installed = probe.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner'"
    ).fetchone()
    probe.close()
    if installed and installed[0]:
        assert _rows(source, tmp_path, {"query": "SELECT * FROM t"}) == []
    else:
        with pytest.raises(ConfigError, match="sqlite_reader: native"):
            _rows(source, tmp_path, {"query": "SELECT * FROM t"})


def _extract_all(source: dict[str, Any], extract: dict[str, Any], base: Path) -> list[Any]:
    with SqlConnector(source, base) as connector:
        return [r for page in connector.extract(ExtractRequest("t", extract)) for r in page.records]


def test_sql_params_are_bound_so_an_injected_value_stays_a_value(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a;b\n1;2\n")
    query = "SELECT * FROM read_csv('t.csv', delim=';', header=true, encoding=$encoding)"
    source = {"connector": "sql", "database": ":memory:"}
    assert _extract_all(source, {"query": query, "params": {"encoding": "utf-8"}}, tmp_path) == [
        {"a": 1, "b": 2}
    ]
    target = tmp_path / "pwned.csv"
    evil = f"utf-8'); COPY (SELECT 1) TO '{target}'; --"
    with pytest.raises(ExtractError, match="does not support the encoding"):
        _extract_all(source, {"query": query, "params": {"encoding": evil}}, tmp_path)
    assert not target.exists()


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("COPY (SELECT 1) TO 'out.csv'", id="copy"),
        pytest.param("SELECT 1; COPY (SELECT 1) TO 'out.csv'", id="a second statement"),
        pytest.param("ATTACH 'other.duckdb'", id="attach"),
        pytest.param("INSTALL httpfs", id="install"),
        pytest.param("SET enable_external_access = false", id="set"),
    ],
)
def test_sql_a_duckdb_query_is_one_select_and_nothing_else(tmp_path: Path, query: str) -> None:
    source = {"connector": "sql", "database": ":memory:"}
    with pytest.raises(ConfigError, match="must be one SELECT statement"):
        _extract_all(source, {"query": query}, tmp_path)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("INSERT INTO items VALUES (9, 'x', '1', '2024')", id="insert"),
        pytest.param("ATTACH DATABASE 'other.sqlite' AS o", id="attach"),
    ],
)
def test_sql_sqlite_is_read_only(tmp_path: Path, query: str) -> None:
    source, _ = _sqlite(tmp_path, [])
    with pytest.raises(ExtractError, match="query failed"):
        _extract_all({**source, "read_only": False}, {"query": query}, tmp_path)
    assert not (tmp_path / "other.sqlite").exists()


def _check(
    tmp_path: Path, source: dict[str, Any], extracts: dict[str, dict[str, Any]]
) -> dict[str, str]:
    found = SqlConnector.check_extract(source, tmp_path, extracts)
    assert all(at == ("query",) for _, at, _ in found)
    return {entity: message for entity, _, message in found}


def test_sql_check_prepares_each_query_against_duckdb_without_running_it(tmp_path: Path) -> None:
    source, extract = _duckdb(tmp_path, [ROW])
    found = _check(
        tmp_path,
        source,
        {
            "good": extract,
            "column": {"query": "SELECT nme FROM items"},
            "table": {"query": "SELECT * FROM itemz WHERE updated_at > ?"},
            "syntax": {"query": "SELEC * FROM items"},
            "write": {"query": "COPY items TO 'out.csv'"},
            "missing_file": {"query": "SELECT * FROM read_csv('later.csv')"},
        },
    )
    assert set(found) == {"column", "table", "syntax", "write"}
    assert found["column"].startswith('Binder Error: Referenced column "nme" not found')
    assert found["table"].startswith("Catalog Error: Table with name itemz does not exist")
    assert found["syntax"].startswith("Parser Error: syntax error at or near")
    assert found["write"] == "must be one SELECT statement (found: COPY)"
    assert "LINE" not in " ".join(found.values())
    assert not (tmp_path / "out.csv").exists()


def test_sql_check_prepares_sqlite_queries_with_their_cursor_and_params(tmp_path: Path) -> None:
    source, extract = _sqlite(tmp_path, [ROW])
    found = _check(
        tmp_path,
        source,
        {
            "good": extract,
            "params": {"query": "SELECT * FROM items WHERE name = :shop", "params": {"shop": "a"}},
            "column": {"query": "SELECT nme FROM items WHERE updated_at > :cursor"},
        },
    )
    assert found == {"column": "no such column: nme"}


def test_sql_check_skips_what_it_cannot_see_without_the_data(tmp_path: Path) -> None:
    absent = {"connector": "sql", "database": "later.duckdb"}
    assert _check(tmp_path, absent, {"o": {"query": "SELECT nme FROM items"}}) == {}
    for database, kind in (("embedded", "sqlite"), ("embedded:oms-like", "duckdb")):
        embedded = {"connector": "sql", "database": database, "type": kind}
        found = _check(
            tmp_path,
            embedded,
            {"names": {"query": "SELECT nme FROM items"}, "syntax": {"query": "SELECT FROM, 1"}},
        )
        assert list(found) == ["syntax"], kind


def test_sql_check_reports_params_that_cannot_be_bound_by_name(tmp_path: Path) -> None:
    source, _ = _duckdb(tmp_path, [ROW])
    positional = {"query": "SELECT * FROM items WHERE id > ?", "params": {"shop": "a"}}
    found = _check(tmp_path, source, {"items": positional})
    assert found == {
        "items": "`params` are bound by name; write `$cursor` instead of `?` in the query"
    }
