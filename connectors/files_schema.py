"""JSON Schemas of the `files` connector's `source:` and `extract:` blocks (the mapping reference)."""

from __future__ import annotations

from typing import Any

from connectors.paging import CURSOR_TYPE_SCHEMA, ordered_schema, page_size_schema

SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "files source",
    "description": "Records read from CSV, JSON or JSONL files below a root folder.",
    "type": "object",
    "required": ["connector"],
    "additionalProperties": False,
    "properties": {
        "connector": {
            "title": "Connector",
            "description": "The connector's registered name.",
            "const": "files",
            "examples": ["files"],
        },
        "root": {
            "title": "Root folder",
            "description": "Folder holding the files, relative to the mapping file's folder "
            "(or absolute). Every entity's `extract.path` is relative to it.",
            "type": "string",
            "minLength": 1,
            "default": ".",
            "examples": ["data/", "../examples/erp-like/exports"],
        },
    },
}

_CSV_SCHEMA: dict[str, Any] = {
    "title": "CSV options",
    "description": "How CSV files are parsed. Values stay strings.",
    "type": "object",
    "examples": [{"delimiter": ";", "encoding": "latin-1", "rename": {"ITEM_NO": "sku"}}],
    "additionalProperties": False,
    "properties": {
        "delimiter": {
            "title": "Delimiter",
            "description": "The one character between fields; a tab for `.tsv` files, else a comma.",
            "type": "string",
            "minLength": 1,
            "maxLength": 1,
            "examples": [";", "\t"],
        },
        "encoding": {
            "title": "Encoding",
            "description": "Text encoding of the file (a Python codec name). The default reads "
            "UTF-8 with or without a byte-order mark.",
            "type": "string",
            "default": "utf-8-sig",
            "examples": ["latin-1", "cp1252"],
        },
        "quotechar": {
            "title": "Quote character",
            "description": "The character around fields that hold the delimiter or newlines.",
            "type": "string",
            "minLength": 1,
            "maxLength": 1,
            "default": '"',
            "examples": ["'"],
        },
        "header": {
            "title": "Header",
            "description": "`true`: the first row names the columns. A list of names: the file "
            "has no header row and these name its columns in order.",
            "anyOf": [
                {"const": True},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "default": True,
            "examples": [True, ["sku", "name", "price"]],
        },
        "rename": {
            "title": "Rename columns",
            "description": "Column name in the file -> field name in the record.",
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "examples": [{"ITEM_NO": "sku", "DESC": "name"}],
        },
    },
}

_CURSOR_SCHEMA: dict[str, Any] = {
    "title": "Incremental cursor",
    "description": "What makes a record new since the last run. A field name (shorthand for "
    "`{field: NAME}`): records whose value is above the saved cursor. `{mtime: true}`: only "
    "files modified after the saved cursor (an ISO 8601 UTC timestamp), read whole.",
    "type": ["string", "object"],
    "minLength": 1,
    "additionalProperties": False,
    "properties": {
        "field": {
            "title": "Cursor field",
            "description": "Record field (after `csv.rename`) holding the change marker.",
            "type": "string",
            "minLength": 1,
            "examples": ["MODIFIED", "updated_at"],
        },
        "type": CURSOR_TYPE_SCHEMA,
        "mtime": {
            "title": "By modification time",
            "description": "Read only files modified after the saved cursor.",
            "const": True,
            "examples": [True],
        },
        "ordered": ordered_schema(False),
    },
    "oneOf": [
        {"type": "string"},
        {"type": "object", "required": ["field"], "not": {"required": ["mtime"]}},
        {"type": "object", "required": ["mtime"], "not": {"required": ["field"]}},
    ],
    "examples": ["MODIFIED", {"field": "updated_at", "type": "datetime"}, {"mtime": True}],
}

EXTRACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "files extract",
    "description": "Which files hold one entity's records and how to read them.",
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "path": {
            "title": "Path or glob",
            "description": "File path relative to `source.root`, or a glob (`*`, `?`, `[...]`, "
            "`**`) matching several files, read in sorted path order. A plain path that does "
            "not exist is an error; a glob matching nothing gives no records.",
            "type": "string",
            "minLength": 1,
            "examples": ["items.csv", "exports/orders-*.jsonl"],
        },
        "format": {
            "title": "Format",
            "description": "File format; by default from the extension (.csv .tsv .json "
            ".jsonl .ndjson).",
            "enum": ["csv", "json", "jsonl"],
            "examples": ["jsonl"],
        },
        "csv": _CSV_SCHEMA,
        "records": {
            "title": "Records expression",
            "description": "For JSON files holding an object: a JMESPath expression giving the "
            "list of records. A JSON file holding a list needs none.",
            "type": "string",
            "minLength": 1,
            "examples": ["products", "data.items"],
        },
        "cursor": _CURSOR_SCHEMA,
        "page_size": page_size_schema(1000),
    },
}
