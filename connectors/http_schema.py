"""JSON Schemas of the `http` connector's `source:` and `extract:` blocks (the mapping reference)."""

from __future__ import annotations

from typing import Any

from connectors.paging import CURSOR_TYPE_SCHEMA, ordered_schema, page_size_schema


def _text(title: str, description: str, *examples: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "type": "string",
        "minLength": 1,
        "examples": list(examples),
    }


_TYPE = {
    "title": "Type",
    "description": "Which variant of this block; it decides the other keys allowed.",
    "type": "string",
}

_AUTH_VARIANTS: dict[str, dict[str, Any]] = {
    "header": {
        "name": _text("Header name", "The header that carries the key.", "X-Shop-Token"),
        "value": _text(
            "Header value", "The key (a secret: never logged or shown).", "${SHOP_TOKEN}"
        ),
    },
    "bearer": {
        "token": _text(
            "Token", "Sent as `Authorization: Bearer TOKEN` (a secret).", "${API_TOKEN}"
        ),
    },
    "basic": {
        "username": _text("User name", "HTTP basic user name.", "etl"),
        "password": _text("Password", "HTTP basic password (a secret).", "${API_PASSWORD}"),
    },
    "query": {
        "name": _text("Parameter name", "The query parameter that carries the key.", "api_key"),
        "value": _text("Parameter value", "The key (a secret).", "${API_KEY}"),
    },
    "oauth2_client_credentials": {
        "token_url": _text(
            "Token URL",
            "Absolute URL of the token endpoint.",
            "https://auth.example.com/oauth/token",
        ),
        "client_id": _text("Client id", "OAuth2 client id.", "loop-etl"),
        "client_secret": _text(
            "Client secret", "OAuth2 client secret (a secret).", "${CLIENT_SECRET}"
        ),
        "scope": _text("Scope", "Space-separated scopes asked for, if any.", "read_orders"),
        "client_auth": {
            "title": "Client authentication",
            "description": "How the client credentials reach the token endpoint: form fields "
            "(`body`) or HTTP basic (`basic`).",
            "enum": ["body", "basic"],
            "default": "body",
            "examples": ["basic"],
        },
    },
}
_AUTH_REQUIRED = {"oauth2_client_credentials": ["token_url", "client_id", "client_secret"]}

_AUTH_SCHEMA: dict[str, Any] = {
    "title": "Authentication",
    "description": "How requests authenticate. Secret values are never logged or shown in "
    "errors. OAuth2 tokens are fetched once, kept until shortly before expiry, and fetched "
    "again (once) when the source answers 401.",
    "type": "object",
    "required": ["type"],
    "properties": {"type": {**_TYPE, "enum": list(_AUTH_VARIANTS), "examples": ["bearer"]}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": kind}}},
            "then": {
                "properties": {"type": {}, **props},
                "required": _AUTH_REQUIRED.get(kind, [k for k in props if k != "scope"]),
                "additionalProperties": False,
            },
        }
        for kind, props in _AUTH_VARIANTS.items()
    ],
    "examples": [
        {"type": "header", "name": "X-Shop-Token", "value": "${SHOP_TOKEN}"},
        {
            "type": "oauth2_client_credentials",
            "token_url": "https://a.example/token",
            "client_id": "etl",
            "client_secret": "${CLIENT_SECRET}",
        },
    ],
}

_PAGE_PARAM = _text(
    "Page parameter",
    "Query parameter carrying the cursor, page number or "
    "offset (default `cursor`, `page`, `offset`).",
    "page_info",
    "page",
)
_BODY_PATH = _text(
    "Body path",
    "JMESPath into the response body giving the next cursor "
    "(`cursor`) or the next URL (`next_url`); null or empty ends.",
    "next_page_url",
    "meta.next_cursor",
)
_SIZE_PARAM = {
    "title": "Page size parameter",
    "description": "Query parameter carrying the page size; null sends none.",
    "type": ["string", "null"],
    "default": "limit",
    "examples": ["limit", "per_page"],
}
_START = {
    "title": "First value",
    "description": "First page number (default 1) or offset (default 0).",
    "type": "integer",
    "minimum": 0,
    "examples": [1, 0],
}
_PAGINATION_VARIANTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "none": ({}, []),
    "link_header": ({}, []),
    "next_url": ({"path": _BODY_PATH}, ["path"]),
    "cursor": ({"path": _BODY_PATH, "param": _PAGE_PARAM}, ["path"]),
    "page_number": ({"param": _PAGE_PARAM, "start": _START}, []),
    "offset": ({"param": _PAGE_PARAM, "start": _START}, []),
}

_PAGINATION_SCHEMA: dict[str, Any] = {
    "title": "Pagination",
    "description": "How the source splits a list into pages: `link_header` (RFC 8288 "
    '`Link: <url>; rel="next"`), `next_url` (a JMESPath into the body gives the next URL), '
    "`cursor` (a JMESPath gives the next cursor, sent as a parameter), `page_number` and "
    "`offset` (until an empty or short page), `none`.",
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {**_TYPE, "enum": list(_PAGINATION_VARIANTS), "examples": ["link_header"]}
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"const": kind}}},
            "then": {
                "properties": {"type": {}, "size_param": _SIZE_PARAM, **props},
                "required": required,
                "additionalProperties": False,
            },
        }
        for kind, (props, required) in _PAGINATION_VARIANTS.items()
    ],
    "default": {"type": "none"},
    "examples": [
        {"type": "link_header"},
        {"type": "next_url", "path": "next_page_url"},
        {"type": "cursor", "path": "meta.next", "param": "cursor"},
    ],
}

_RETRIES_SCHEMA: dict[str, Any] = {
    "title": "Retries",
    "description": "Retries on 429, 5xx, timeouts and connection errors, with exponential "
    "backoff and jitter; a Retry-After header (seconds or HTTP date) is waited out instead.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max": {
            "title": "Most retries",
            "description": "Retries after the first try.",
            "type": "integer",
            "minimum": 0,
            "default": 5,
            "examples": [5],
        },
        "backoff_s": {
            "title": "First backoff",
            "description": "Seconds before the first retry; doubled each time.",
            "type": "number",
            "minimum": 0,
            "default": 0.5,
            "examples": [0.5],
        },
        "max_backoff_s": {
            "title": "Longest backoff",
            "description": "Cap of one computed backoff, in seconds.",
            "type": "number",
            "minimum": 0,
            "default": 30,
            "examples": [30],
        },
        "max_retry_after_s": {
            "title": "Longest Retry-After",
            "description": "A Retry-After asking for a longer wait fails the extract at once "
            "rather than stalling it.",
            "type": "number",
            "minimum": 0,
            "default": 300,
            "examples": [300],
        },
    },
    "examples": [{"max": 5, "backoff_s": 0.5, "max_backoff_s": 30}],
}

SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "http source",
    "description": "Records read from a JSON REST API.",
    "type": "object",
    "required": ["connector", "base_url"],
    "additionalProperties": False,
    "properties": {
        "connector": {
            "title": "Connector",
            "description": "The connector's registered name.",
            "const": "http",
            "examples": ["http"],
        },
        "base_url": _text(
            "Base URL",
            "Every extract path is relative to it.",
            "https://shop.example.com/admin/api/2024-01",
        ),
        "auth": _AUTH_SCHEMA,
        "pagination": _PAGINATION_SCHEMA,
        "headers": {
            "title": "Headers",
            "description": "Sent with every request (not secret: use `auth` for keys).",
            "type": "object",
            "additionalProperties": {"type": "string"},
            "examples": [{"Accept": "application/json"}],
        },
        "timeout_s": {
            "title": "Timeout",
            "description": "Seconds to wait for a connection or a response before retrying.",
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 30,
            "examples": [30],
        },
        "retries": _RETRIES_SCHEMA,
        "rate_limit": {
            "title": "Request budget",
            "description": "This connector's own pace, `N/s`, `N/min` or `N/hour`: requests "
            "are spaced evenly so that the source's limit is never reached. None by default.",
            "type": "string",
            "pattern": r"^\s*\d+(\.\d+)?\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$",
            "examples": ["120/min", "2/s"],
        },
        "page_size": page_size_schema(100),
        "incremental_param": _text(
            "Incremental parameter",
            "Query parameter that carries the saved cursor when an "
            "extract's cursor is a bare field name; `{field}` is replaced by that name.",
            "{field}_min",
            "since",
        ),
    },
}

_CURSOR_SCHEMA: dict[str, Any] = {
    "title": "Incremental cursor",
    "description": "The record field whose highest value is saved, and the query parameter "
    "that sends it back on the next run (the source filters). A bare field name uses "
    "`source.incremental_param` (default `{field}_min`: `updated_at` -> `updated_at_min`).",
    "type": ["string", "object"],
    "minLength": 1,
    "required": ["field"],
    "additionalProperties": False,
    "properties": {
        "field": _text("Cursor field", "Record field holding the change marker.", "updated_at"),
        "param": _text(
            "Cursor parameter", "Query parameter that sends the saved cursor.", "updated_at_min"
        ),
        "type": CURSOR_TYPE_SCHEMA,
        "ordered": ordered_schema(False),
    },
    "examples": ["updated_at", {"field": "updated_at", "param": "updated_at_min"}],
}

EXTRACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "http extract",
    "description": "The endpoint that lists one entity's records.",
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "path": _text("Path", "Endpoint path, relative to `source.base_url`.", "/products.json"),
        "records": _text(
            "Records expression",
            "JMESPath into the response body giving the "
            "page's list of records; without it the body must be that list.",
            "products",
            "data.items",
        ),
        "params": {
            "title": "Query parameters",
            "description": "Sent with the first request.",
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
            "examples": [{"status": "any"}],
        },
        "cursor": _CURSOR_SCHEMA,
        "page_size": page_size_schema(100),
        "count": {
            "title": "Count endpoint",
            "description": "An endpoint that counts what the extract lists (same parameters, "
            "cursor included), so that progress shows a total and an ETA. `value` is a "
            "JMESPath to the number (default `count`).",
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": _text("Path", "Count endpoint path.", "/orders/count.json"),
                "value": _text("Value", "JMESPath to the count in the body.", "count"),
            },
            "examples": [{"path": "/orders/count.json", "value": "count"}],
        },
        "include": {
            "title": "Included sub-resources",
            "description": "For each record, list a related endpoint and embed its records in "
            "the record under `field` (all pages). `{name}` in `path` and `params` is replaced "
            "by the record's field of that name (URL-encoded). One extra listing per record: "
            "for small entities such as collections.",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "path"],
                "additionalProperties": False,
                "properties": {
                    "field": _text(
                        "Field", "Where the records go in the parent record.", "collects"
                    ),
                    "path": _text(
                        "Path", "Endpoint path; `{id}` is the parent's id.", "/collects.json"
                    ),
                    "params": {
                        "title": "Query parameters",
                        "description": "Sent with the first request; `{field}` placeholders allowed.",
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean"]},
                        "examples": [{"collection_id": "{id}"}],
                    },
                    "records": _text(
                        "Records expression", "JMESPath to the list in the body.", "collects"
                    ),
                },
            },
            "examples": [
                [
                    {
                        "field": "collects",
                        "path": "/collects.json",
                        "params": {"collection_id": "{id}"},
                        "records": "collects",
                    }
                ]
            ],
        },
    },
}
