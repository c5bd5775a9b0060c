"""JSON Schemas of the `sql` connector's `source:` and `extract:` blocks (the mapping reference)."""

from __future__ import annotations

from typing import Any

from connectors.paging import CURSOR_TYPE_SCHEMA, ordered_schema, page_size_schema

SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sql source",
    "description": "Records read with SQL from a DuckDB or SQLite database, or from Parquet and "
    "CSV files through DuckDB.",
    "type": "object",
    "required": ["connector", "database"],
    "additionalProperties": False,
    "properties": {
        "connector": {
            "title": "Connector",
            "description": "The connector's registered name.",
            "const": "sql",
            "examples": ["sql"],
        },
        "database": {
            "title": "Database",
            "description": "Database file, relative to the mapping file's folder, or "
            "`:memory:` for an empty DuckDB whose queries read files (read_parquet, read_csv).",
            "type": "string",
            "minLength": 1,
            "examples": ["data/oms.duckdb", "data/oms.sqlite", ":memory:"],
        },
        "root": {
            "title": "Files folder",
            "description": "Folder that relative file paths in queries (read_csv, read_parquet) "
            "resolve against, itself relative to the mapping file's folder. Default: the "
            "mapping file's folder.",
            "type": "string",
            "minLength": 1,
            "examples": ["exports/", "${ERP_DATA_DIR}"],
        },
        "type": {
            "title": "Database type",
            "description": "`duckdb` or `sqlite`; by default `sqlite` for .sqlite, .sqlite3 and "
            ".db files, else `duckdb`. It decides the SQL dialect of the queries.",
            "enum": ["duckdb", "sqlite"],
            "examples": ["sqlite"],
        },
        "sqlite_reader": {
            "title": "SQLite reader",
            "description": "`native`: Python's sqlite3 (SQLite SQL, needs nothing else). "
            "`duckdb`: attach the file through DuckDB's sqlite extension (DuckDB SQL), which "
            "must already be installed: it is never downloaded.",
            "enum": ["native", "duckdb"],
            "default": "native",
            "examples": ["duckdb"],
        },
        "read_only": {
            "title": "Read only",
            "description": "Open the database read-only (the default: extraction never writes).",
            "type": "boolean",
            "default": True,
            "examples": [True],
        },
    },
}

_CURSOR_SCHEMA: dict[str, Any] = {
    "title": "Incremental cursor",
    "description": "The column whose highest value is saved as the watermark, and the value "
    "bound to the query's `$cursor` (or `?`) parameter. A string is shorthand for `{field: NAME}`.",
    "type": ["string", "object"],
    "minLength": 1,
    "required": ["field"],
    "additionalProperties": False,
    "properties": {
        "field": {
            "title": "Cursor column",
            "description": "A column of the query's result.",
            "type": "string",
            "minLength": 1,
            "examples": ["updated_at"],
        },
        "initial": {
            "title": "Initial cursor",
            "description": "Bound to the cursor parameter on a first run or a full refresh, "
            "when there is no saved cursor yet.",
            "type": ["string", "number"],
            "examples": ["1970-01-01", 0],
        },
        "type": CURSOR_TYPE_SCHEMA,
        "ordered": ordered_schema(True),
    },
    "examples": ["updated_at", {"field": "updated_at", "initial": "1970-01-01"}],
}

EXTRACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sql extract",
    "description": "The query that gives one entity's records.",
    "type": "object",
    "required": ["query"],
    "additionalProperties": False,
    "properties": {
        "query": {
            "title": "Query",
            "description": "A SELECT in the database's dialect. For incremental runs compare "
            "the cursor column with the `$cursor` parameter (never with a formatted value) and "
            "ORDER BY it, so that every page can advance the watermark.",
            "type": "string",
            "minLength": 1,
            "examples": [
                "SELECT * FROM orders WHERE updated_at > $cursor ORDER BY updated_at",
                "SELECT * FROM read_parquet('exports/orders-*.parquet')",
            ],
        },
        "cursor": _CURSOR_SCHEMA,
        "page_size": page_size_schema(1000),
    },
}
