"""Cursor pagination and list filters of the Commerce Data list endpoints (loop-api.md §1)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from engine.sandbox.commerce.common import Errors, Store, as_id, field_error, unprocessable
from engine.sandbox.core import ascii_int


def _cursor(loop_id: int, direction: str) -> str:
    raw = json.dumps({"k": loop_id, "d": direction}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(text: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        key, direction = data["k"], data["d"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise field_error("cursor", "The cursor is invalid.") from exc
    if as_id(key) is None or direction not in ("next", "prev"):
        raise field_error("cursor", "The cursor is invalid.")
    return int(key), direction


def page_params(request: Request) -> tuple[int, bool, tuple[int, str] | None]:
    """(limit, ascending, cursor) from the query; 422 for a limit outside 1-250 and such."""
    query = request.query_params
    errors: Errors = {}
    limit = 50
    if "limit" in query:
        text = query["limit"]
        number = ascii_int(text, max_digits=4)
        if number is None or not 1 <= number <= 250:
            errors["limit"] = ["The limit must be an integer between 1 and 250."]
        else:
            limit = number
    order = query.get("sort_order", "asc")
    if order not in ("asc", "desc"):
        errors["sort_order"] = ["The selected sort_order is invalid (asc, desc)."]
    if errors:
        raise unprocessable(errors)
    cursor = _parse_cursor(query["cursor"]) if query.get("cursor") else None
    return limit, order == "asc", cursor


def list_page(
    request: Request,
    store: Store,
    kind: str,
    plural: str,
    where: list[str],
    params: list[Any],
) -> dict[str, Any]:
    """One page of records of a kind matching `where`, with full next/previous page URLs."""
    limit, ascending, cursor = page_params(request)
    forward, backward = (">", "<") if ascending else ("<", ">")
    order, reverse = ("ASC", "DESC") if ascending else ("DESC", "ASC")
    base = ["kind = ?", *where]
    args: list[Any] = [kind, *params]

    def query(extra: list[str], extra_args: list[Any], direction: str, count: int) -> list[Any]:
        sql = f"SELECT id, body FROM commerce_records WHERE {' AND '.join(base + extra)}"
        sql += f" ORDER BY id {direction} LIMIT {count}"
        return store.db.execute(sql, args + extra_args).fetchall()

    if cursor is None:
        rows = query([], [], order, limit)
    elif cursor[1] == "next":
        rows = query([f"id {forward} ?"], [cursor[0]], order, limit)
    else:
        rows = list(reversed(query([f"id {backward} ?"], [cursor[0]], reverse, limit)))
    next_url = prev_url = None
    if rows and query([f"id {forward} ?"], [rows[-1][0]], order, 1):
        next_url = _page_url(request, _cursor(int(rows[-1][0]), "next"))
    if rows and query([f"id {backward} ?"], [rows[0][0]], reverse, 1):
        prev_url = _page_url(request, _cursor(int(rows[0][0]), "prev"))
    return {
        plural: [json.loads(r[1]) for r in rows],
        "next_page_url": next_url,
        "previous_page_url": prev_url,
    }


def _page_url(request: Request, cursor: str) -> str:
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return str(request.url.replace(query=urlencode([*items, ("cursor", cursor)])))


def list_filters(request: Request, columns: dict[str, str]) -> tuple[list[str], list[Any]]:
    """SQL conditions for the documented list filters: `external_id`, `external_ids[]` and
    exact matches on body fields (`columns`: query name -> JSON path)."""
    query = request.query_params
    where: list[str] = []
    params: list[Any] = []
    if "external_id" in query:
        where.append("external_id = ?")
        params.append(query["external_id"])
    many = query.getlist("external_ids[]") + query.getlist("external_ids")
    many = [part for value in many for part in value.split(",") if part]
    if many:
        where.append(f"external_id IN ({', '.join('?' * len(many))})")
        params.extend(many)
    for name, json_path in columns.items():
        if name in query:
            where.append(f"json_extract_string(body, '{json_path}') = ?")
            params.append(query[name])
    return where, params
