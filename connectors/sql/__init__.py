"""The `sql` connector: one query per entity against DuckDB, SQLite, or files DuckDB can read.

- `type: duckdb` (a `.duckdb` file or `:memory:`): DuckDB SQL. Parquet and CSV files are read in
  the query itself (`read_parquet('data/orders.parquet')`); relative file paths resolve against
  the mapping's folder (DuckDB's `file_search_path`).
- `type: sqlite` (`.sqlite`, `.sqlite3`, `.db`): read with Python's own sqlite3 module, so the
  query is SQLite SQL. DuckDB's sqlite extension is downloaded on first use and the machines this
  project runs on may have no network, so it is opt-in: `sqlite_reader: duckdb` uses it when it
  is already installed (and says so plainly when it is not).

The saved cursor (or `cursor.initial` on a first run) is always bound as a query parameter,
never formatted into the SQL: write `$cursor` (DuckDB and SQLite; SQLite also takes `:cursor`)
or `?` (each `?` is bound to the cursor); `params:` values are bound the same way (`$name`).
A query is one SELECT (WITH ... SELECT) and nothing else: DuckDB can write files and attach
databases, so any other statement is refused before it runs, DuckDB never installs or loads
an extension on its own here, and SQLite is read through an authorizer that allows reading
only. Rows are fetched `page_size` at a time and become
dicts keyed by column name with JSON-friendly values (connectors.paging.json_friendly: DECIMAL
as its exact decimal string, timestamps as ISO 8601 strings). Schemas:
schemas/connectors/sql.{source,extract}.schema.json.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from connectors.base import Connector, ExtractRequest, Page
from connectors.paging import CursorTracker, cursor_config, json_friendly, paginate
from connectors.validate import KeyPath, connector_schema
from engine.errors import ConfigError, ExtractError

SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
_NAMED = {"duckdb": re.compile(r"\$cursor\b"), "sqlite": re.compile(r"[$:@]cursor\b")}
_DB_ERRORS = (duckdb.Error, sqlite3.Error)
Params = dict[str, Any] | list[Any] | None
# DuckDB would otherwise download and load extensions on first use of a function needing one.
_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
_SQLITE_READING = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


def database_type(source: Mapping[str, Any]) -> str:
    """`type` as declared, else from the file extension (DuckDB for anything else)."""
    declared = source.get("type")
    if declared:
        return str(declared)
    return "sqlite" if Path(str(source["database"])).suffix.lower() in SQLITE_SUFFIXES else "duckdb"


class SqlConnector(Connector):
    """Runs each entity's query and streams its rows, `page_size` at a time."""

    name: ClassVar[str] = "sql"
    embedded_keys: ClassVar[tuple[str, ...]] = ("database", "root")
    source_schema: ClassVar[dict[str, Any]] = connector_schema("sql.source")
    extract_schema: ClassVar[dict[str, Any]] = connector_schema("sql.extract")

    def __init__(self, source: Mapping[str, Any], base_dir: Path) -> None:
        super().__init__(source, base_dir)
        self.kind = database_type(self.source)
        self._conn: duckdb.DuckDBPyConnection | sqlite3.Connection | None = None

    def _extract(self, request: ExtractRequest) -> Iterator[Page]:
        cfg = request.config
        cursor = cursor_config(cfg.get("cursor"))
        query = str(cfg["query"])
        if not self._native_sqlite:
            _one_select(query, request.entity)
        params = _with_params(self._params(query, request.cursor, cursor, request.entity), cfg,
                              request.entity)  # fmt: skip
        page_size = int(cfg.get("page_size", 1000))
        fetch = page_size if request.limit is None else max(1, min(page_size, request.limit))
        tracker = CursorTracker(cursor.get("field"), str(cursor.get("type", "auto")))
        rows = self._rows(query, params, fetch, tracker.field, request.entity)
        ordered = bool(cursor.get("ordered", True))
        yield from paginate(rows, page_size, tracker, ordered=ordered, limit=request.limit)

    def _count_records(self, request: ExtractRequest) -> int | None:
        """COUNT(*) over the query, its parameters bound as a first run binds them."""
        cfg = request.config
        query = str(cfg["query"]).strip().rstrip(";")
        if not self._native_sqlite:
            _one_select(query, request.entity)
        cursor = cursor_config(cfg.get("cursor"))
        params = _with_params(self._params(query, None, cursor, request.entity), cfg,
                              request.entity)  # fmt: skip
        cur = self._cursor()
        try:
            counted = f"SELECT count(*) FROM ({query}) AS counted"
            cur.execute(counted, params) if params is not None else cur.execute(counted)
            row = cur.fetchone()
        except _DB_ERRORS as exc:
            raise ExtractError(f"{request.entity}: count failed: {exc}") from exc
        finally:
            cur.close()
        return int(row[0]) if row else None

    def _params(
        self, query: str, saved: str | None, cursor: Mapping[str, Any], entity: str
    ) -> Params:
        value = saved if saved is not None else cursor.get("initial")
        params = _bind(query, value, self._native_sqlite)
        if params is not None and value is None:
            raise ExtractError(
                f"{entity}: the query takes a cursor parameter but there is no "
                "saved cursor yet; set extract.cursor.initial for a first run"
            )
        return params

    @classmethod
    def check_extract(
        cls, source: Mapping[str, Any], base_dir: Path, extracts: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[str, KeyPath, str]]:
        """Each query prepared (EXPLAIN: planned, never run) against the configured database,
        its cursor bound to `cursor.initial` or NULL. What cannot be checked without the data
        is skipped: a database file that does not exist (yet) or cannot be opened, files the
        query reads that are missing, and, when the database or root is `embedded`, everything
        but the syntax (the demo platform is only generated by a run)."""
        with cls(source, base_dir) as connector:
            return [
                (entity, ("query",), problem)
                for entity, cfg in extracts.items()
                if (problem := connector._query_problem(entity, cfg)) is not None
            ]

    def _query_problem(self, entity: str, cfg: Mapping[str, Any]) -> str | None:
        query = str(cfg["query"])
        try:
            if not self._native_sqlite:
                _one_select(query, entity)
            initial = cursor_config(cfg.get("cursor")).get("initial")
            params = _with_params(_bind(query, initial, self._native_sqlite), cfg, entity)
        except ExtractError as exc:  # DuckDB's parser refused it
            return str(exc).removeprefix(f"{entity}: query failed: ")
        except ConfigError as exc:
            where = f"entities.{entity}.extract"
            return str(exc).removeprefix(f"{where}.query: ").removeprefix(f"{where}: ")
        if any(_is_embedded(self.source.get(key)) for key in self.embedded_keys):
            return None if not self._native_sqlite else _sqlite_syntax(query, params)
        try:
            cur = self._cursor()
        except (ConfigError, ExtractError):
            return None  # no database to prepare against: the run says why
        try:
            cur.execute(f"EXPLAIN {query}", params if params is not None else ())
        except duckdb.IOException:
            return None  # a file the query reads is missing: data, not the query
        except _DB_ERRORS as exc:
            return _db_message(exc)
        finally:
            cur.close()
        return None

    def _rows(
        self, query: str, params: Params, fetch: int, field: str | None, entity: str
    ) -> Iterator[dict[str, Any]]:
        cur = self._cursor()
        try:
            try:
                cur.execute(query, params) if params is not None else cur.execute(query)
            except _DB_ERRORS as exc:
                raise ExtractError(f"{entity}: query failed: {exc}") from exc
            columns = [str(d[0]) for d in cur.description or ()]
            if field is not None and field not in columns:
                raise ExtractError(
                    f"{entity}: cursor field {field!r} is not a column of the "
                    f"query (columns: {', '.join(columns)})"
                )
            yield from _fetch(cur, columns, fetch, entity)
        finally:
            cur.close()

    def _cursor(self) -> Any:
        conn = self._connection()
        cur = conn.cursor()
        if isinstance(cur, duckdb.DuckDBPyConnection):
            # a DuckDB cursor is a new session: settings and USE do not carry over
            cur.execute(
                "SET file_search_path = ?", [str(self.base_dir / self.source.get("root", "."))]
            )
            if self.kind == "sqlite":
                cur.execute("USE source_db")
        return cur

    @property
    def _native_sqlite(self) -> bool:
        return self.kind == "sqlite" and self.source.get("sqlite_reader", "native") == "native"

    def _connection(self) -> duckdb.DuckDBPyConnection | sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> duckdb.DuckDBPyConnection | sqlite3.Connection:
        database = str(self.source["database"])
        memory = database == ":memory:"
        path = database if memory else str(self.base_dir / database)
        if not memory and not Path(path).is_file():
            raise ExtractError(f"database not found: {database}")
        read_only = bool(self.source.get("read_only", True)) and not memory
        try:
            if self._native_sqlite:
                uri = f"{Path(path).resolve().as_uri()}?mode=ro" if read_only else path
                lite = sqlite3.connect(uri, uri=read_only, check_same_thread=False)
                lite.set_authorizer(_reading_only)
                return lite
            if self.kind == "sqlite":
                return self._attach_sqlite(path, read_only)
            return duckdb.connect(path, read_only=read_only, config=_DUCKDB_CONFIG)
        except _DB_ERRORS as exc:
            raise ExtractError(f"cannot open database {database}: {exc}") from exc

    def _attach_sqlite(self, path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(config=_DUCKDB_CONFIG)
        installed = conn.execute(
            "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner'"
        ).fetchone()
        if not installed or not installed[0]:
            conn.close()
            raise ConfigError(
                "sqlite_reader: duckdb needs DuckDB's sqlite extension, which is "
                "not installed here (INSTALL sqlite needs network); use "
                "sqlite_reader: native"
            )
        mode = ", READ_ONLY" if read_only else ""
        conn.execute("LOAD sqlite")
        literal = path.replace("'", "''")  # ATTACH takes no parameters; this is config, not data
        conn.execute(f"ATTACH '{literal}' AS source_db (TYPE sqlite{mode})")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"SqlConnector(database={self.source.get('database')!r}, type={self.kind!r})"


def _one_select(query: str, entity: str) -> None:
    """The query is exactly one SELECT statement (a DuckDB COPY, ATTACH, INSTALL, SET or a
    second statement would reach past reading); a ConfigError says which it found."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ExtractError(f"{entity}: query failed: {_db_message(exc)}") from None
    kinds = [statement.type for statement in statements]
    if kinds != [duckdb.StatementType.SELECT]:
        found = ", ".join(kind.name for kind in kinds) or "nothing"
        raise ConfigError(
            f"entities.{entity}.extract.query: must be one SELECT statement (found: {found})"
        )


def _bind(query: str, value: Any, sqlite: bool) -> Params:
    """The cursor parameter(s) the query takes, bound to `value`; None when it takes none."""
    if _NAMED["sqlite" if sqlite else "duckdb"].search(query) is not None:
        return {"cursor": value}
    positional = query.count("?")
    return [value] * positional if positional else None


def _with_params(params: Params, cfg: Mapping[str, Any], entity: str) -> Params:
    """`params:` values added to the cursor's, all bound by name."""
    if not cfg.get("params"):
        return params
    if isinstance(params, list):
        raise ConfigError(
            f"entities.{entity}.extract: `params` are bound by name; write "
            "`$cursor` instead of `?` in the query"
        )
    return {**(params or {}), **dict(cfg["params"])}


def _is_embedded(value: object) -> bool:
    return isinstance(value, str) and (value == "embedded" or value.startswith("embedded:"))


def _sqlite_syntax(query: str, params: Params) -> str | None:
    """SQLite's complaint about the query's syntax, prepared against an empty database (its
    tables and columns are unknown there, so naming errors are not the query's)."""
    with closing(sqlite3.connect(":memory:")) as empty:
        try:
            empty.execute(f"EXPLAIN {query}", params if params is not None else ())
        except sqlite3.Error as exc:
            return None if str(exc).startswith("no such ") else _db_message(exc)
    return None


def _db_message(exc: Exception) -> str:
    """The database's message without the echo of the statement (DuckDB's `LINE 1: ...`)."""
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(exc).__name__


def _reading_only(action: int, table: str | None = None, *args: Any) -> int:
    """SQLite authorizer: reading and functions, nothing that writes or attaches. (A
    table-valued function such as json_each checks an update of sqlite_master when SQLite
    sets it up; that is SQLite's own bookkeeping, not a write of the query's.)"""
    if action in _SQLITE_READING:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and table == "sqlite_master":
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _fetch(cur: Any, columns: Sequence[str], size: int, entity: str) -> Iterator[dict[str, Any]]:
    while True:
        try:
            batch = cur.fetchmany(size)
        except _DB_ERRORS as exc:
            raise ExtractError(f"{entity}: reading rows failed: {exc}") from exc
        if not batch:
            return
        for row in batch:
            yield {column: json_friendly(value) for column, value in zip(columns, row, strict=True)}
