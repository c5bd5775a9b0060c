"""Where a fixture test's source data lives while it runs: files under a temporary root, tables
in a temporary DuckDB or SQLite database, response bodies served on a loopback port."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

# A body served again and again (a path-only key under a paginator that never sees a short page)
# would loop for ever: past this many requests the server answers 404 and says why.
MAX_REQUESTS = 200


class FixtureError(Exception):
    """A fixture that cannot stand in for the source (the message says which key and why)."""


def write_files(root: Path, files: Mapping[str, Any]) -> None:
    """Each file as written: a string is the file's text, any other value its JSON."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        path.write_text(text, encoding="utf-8")


# -- tables ----------------------------------------------------------------------------------

_DUCK_TYPES = {
    bool: "BOOLEAN",
    int: "BIGINT",
    float: "DOUBLE",
    str: "VARCHAR",
    dt.date: "DATE",
    dt.datetime: "TIMESTAMP",
}


def create_database(path: Path, kind: str, tables: Mapping[str, list[dict[str, Any]]]) -> None:
    """A database file of `kind` (duckdb or sqlite) holding `tables`: columns in order of first
    appearance, typed from their values (YAML dates become DATE or TIMESTAMP in DuckDB, ISO
    text in SQLite), a missing key NULL; values are bound as parameters, never formatted."""
    conn = duckdb.connect(str(path)) if kind == "duckdb" else sqlite3.connect(str(path))
    with closing(conn):
        for name, rows in tables.items():
            columns = _columns(name, rows)
            types = {c: _column_type(name, c, [r.get(c) for r in rows], kind) for c in columns}
            defs = ", ".join(f"{_quoted(c)} {types[c]}" for c in columns)
            values = [[_cell(row.get(c), kind) for c in columns] for row in rows]
            marks = ", ".join("?" for _ in columns)
            try:
                conn.execute(f"CREATE TABLE {_quoted(name)} ({defs})")
                conn.executemany(f"INSERT INTO {_quoted(name)} VALUES ({marks})", values)
            except (duckdb.Error, sqlite3.Error, OverflowError) as exc:
                raise FixtureError(f"tables.{name}: {exc}") from None
        conn.commit()


def _columns(table: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        raise FixtureError(f"tables.{table}: no rows (its columns come from its rows)")
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(str(key) for key in row))
    return list(columns)


def _column_type(table: str, column: str, values: list[Any], kind: str) -> str:
    found = {_python_type(v) for v in values if v is not None}
    if found == {int, float}:
        found = {float}
    if len(found) > 1 or found - set(_DUCK_TYPES):
        names = ", ".join(sorted(t.__name__ for t in found))
        raise FixtureError(
            f"tables.{table}: column {column!r} holds {names}: one scalar type per column"
        )
    duck = _DUCK_TYPES[found.pop()] if found else "VARCHAR"
    if kind == "duckdb":
        return duck
    return {"BIGINT": "INTEGER", "BOOLEAN": "INTEGER", "DOUBLE": "REAL"}.get(duck, "TEXT")


def _python_type(value: Any) -> type:
    # datetime is a date: the narrower type names the column
    return dt.datetime if isinstance(value, dt.datetime) else type(value)


def _cell(value: Any, kind: str) -> Any:
    if kind == "sqlite" and isinstance(value, dt.date):
        return value.isoformat()
    return value


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- responses -------------------------------------------------------------------------------


class ResponseServer:
    """Serves `responses` (path -> body) on 127.0.0.1: a key with a query string answers only
    that query (parameters in any order), a key without one any query of its path; the exact
    key wins. A request no key answers gets a 404 and is remembered in `problems`."""

    def __init__(self, responses: Mapping[str, Any]) -> None:
        self.exact: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}
        self.any_query: dict[str, bytes] = {}
        for key, body in responses.items():
            parts = urlsplit(key)
            data = (body if isinstance(body, str) else json.dumps(body, default=str)).encode()
            if parts.query:
                self.exact[(unquote(parts.path), _query(parts.query))] = data
            else:
                self.any_query[unquote(parts.path)] = data
        self.keys = ", ".join(sorted(responses))
        self.problems: list[str] = []
        self.count = 0
        self._lock = threading.Lock()

    def answer(self, target: str) -> bytes | None:
        parts = urlsplit(target)
        path = unquote(parts.path)
        with self._lock:
            self.count += 1
            if self.count > MAX_REQUESTS:
                if self.count == MAX_REQUESTS + 1:
                    self.problems.append(
                        f"more than {MAX_REQUESTS} requests: the same body was served again "
                        "and again; give each page its own key with its query (/orders?page=2)"
                    )
                return None
            body = self.exact.get((path, _query(parts.query)), self.any_query.get(path))
            if body is None:
                self.problems.append(f"no response for GET {target} (responses: {self.keys})")
            return body


def _query(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(parse_qsl(text, keep_blank_values=True)))


@contextmanager
def serve_responses(responses: Mapping[str, Any]) -> Iterator[tuple[str, ResponseServer]]:
    """A loopback HTTP server answering from `responses`, for as long as the block runs: its
    base URL and the server (whose `problems` say which requests had no response)."""
    fixture = ResponseServer(responses)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            body = fixture.answer(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: `etl test` prints only its own results."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fixture
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
