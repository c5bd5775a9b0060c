"""What every Commerce Data endpoint shares: errors as Loop sends them, body parsing, schema
validation as Laravel-style 422s, the record store, and cursor pagination.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import duckdb
from starlette.requests import Request
from starlette.responses import Response

from engine.sandbox.core import Sandbox, loop_json
from engine.validation import ValidationIssue, validator

INVALID = "The given data was invalid."
_REQUIRED = re.compile(r'^"(?P<name>[^"]+)" is a required property$')
Errors = dict[str, list[str]]
Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An answer other than success, raised from deep inside a handler; rolls the write back."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def unprocessable(errors: Errors) -> ApiError:
    return ApiError(422, {"message": INVALID, "errors": errors})


def field_error(field: str, message: str) -> ApiError:
    return unprocessable({field: [message]})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"errors": {"code": "NOT_FOUND", "message": f"{what} not found."}})


def endpoint(handler: Handler) -> Handler:
    """Turns an ApiError raised by the handler into Loop's response for it."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return loop_json(request, exc.body, exc.status)

    return wrapped


async def read_payload(request: Request) -> dict[str, Any]:
    """The JSON object in the body; 400 when it is not JSON or not an object."""
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, {"message": f"The request body is not valid JSON: {exc}."}) from exc
    if not isinstance(payload, dict):
        raise ApiError(400, {"message": "The request body must be a JSON object."})
    return payload


def laravel_field(issue: ValidationIssue) -> tuple[str, str]:
    """'$.line_items[0].unit_price' -> 'line_items.0.unit_price'; a missing property is
    reported on the property itself, as Laravel does ("The name field is required.")."""
    field = re.sub(r"\[(\d+)\]", r".\1", issue.path).removeprefix("$").lstrip(".")
    match = _REQUIRED.match(issue.message)
    if match:
        field = f"{field}.{match['name']}" if field else match["name"]
        return field, f"The {field} field is required."
    field = field or "body"
    if "valid under more than one of the schemas listed in the 'oneOf'" in issue.message:
        return field, f"The {field} must have exactly one of id and external_id, not both."
    if "not valid under any of the schemas listed in the 'oneOf'" in issue.message:
        return field, f"The {field} must have exactly one of id and external_id."
    return field, issue.message


def validate(
    schema: str,
    payload: dict[str, Any],
    *,
    partial: bool = False,
    optional: frozenset[str] = frozenset(),
) -> None:
    """422 naming every bad field. `partial` (updates) forgives every missing top-level field,
    `optional` the named ones (fields a version of the API does not require)."""
    errors: Errors = {}
    for issue in validator(schema).errors(payload):
        missing = _REQUIRED.match(issue.message) if issue.path == "$" else None
        if missing and (partial or missing["name"] in optional):
            continue
        field, message = laravel_field(issue)
        errors.setdefault(field, []).append(message)
    if errors:
        raise unprocessable(errors)


def as_id(value: Any) -> int | None:
    """A Loop id given as a JSON integer or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return as_id(int(value))
    return None


def path_id(request: Request, name: str, what: str) -> int:
    found = as_id(request.path_params[name])
    if found is None:
        raise not_found(what)
    return found


class Store:
    """The commerce_records table, through one connection inside one transaction."""

    def __init__(self, sb: Sandbox, db: duckdb.DuckDBPyConnection) -> None:
        self.sb = sb
        self.db = db

    def new_ids(self, count: int) -> list[int]:
        return self.sb.new_ids(count) if count else []

    def get(self, kind: str, loop_id: int | None) -> dict[str, Any] | None:
        if loop_id is None:
            return None
        row = self.db.execute(
            "SELECT body FROM commerce_records WHERE kind = ? AND id = ?", [kind, loop_id]
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def by_external(
        self, kind: str, external_id: str, parent_id: int | None = None
    ) -> dict[str, Any] | None:
        sql = "SELECT body FROM commerce_records WHERE kind = ? AND external_id = ?"
        params: list[Any] = [kind, external_id]
        if parent_id is not None:
            sql += " AND parent_id = ?"
            params.append(parent_id)
        row = self.db.execute(sql + " ORDER BY id LIMIT 1", params).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def where(self, kind: str, condition: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT body FROM commerce_records WHERE kind = ? AND ({condition}) ORDER BY id",
            [kind, *params],
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def put(
        self,
        kind: str,
        body: dict[str, Any],
        parent_id: int | None = None,
        key: str | None = None,
    ) -> None:
        """Insert or replace the record with body["id"]; seq keeps creation order. `key` is
        looked up like an external_id (default: the body's own external_id)."""
        external = body.get("external_id") if key is None else key
        self.db.execute(
            "INSERT INTO commerce_records VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, id) DO UPDATE SET external_id = excluded.external_id,"
            " parent_id = excluded.parent_id, body = excluded.body",
            [
                kind,
                body["id"],
                None if external is None else str(external),
                parent_id,
                json.dumps(body),
                body["id"],
            ],
        )

    def delete(self, kind: str, loop_id: int) -> None:
        self.db.execute("DELETE FROM commerce_records WHERE kind = ? AND id = ?", [kind, loop_id])

    def channel(self, name: str | None) -> dict[str, Any] | None:
        """{id, name} of a sales channel; an unknown name creates it, as Loop does."""
        if name is None:
            return None
        found = self.by_external("channel", name)
        if found is None:
            found = {"id": self.new_ids(1)[0], "name": name, "external_id": name}
            self.put("channel", found)
        return {"id": found["id"], "name": found["name"]}


# --- cursor pagination -------------------------------------------------------------------


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
        if not text.lstrip("-").isdigit() or not 1 <= int(text) <= 250:
            errors["limit"] = ["The limit must be an integer between 1 and 250."]
        else:
            limit = int(text)
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
