"""Return data pull endpoints (loop-api.md §3.4): Detailed Returns List, Get Return Details, ASN.

`from`/`to` are `YYYY-MM-DD HH:MM:SS` (UTC; a literal space, `+`, `%20` or a `T` all work, and a
bare date means its whole day); neither -> the last 24 hours, only one -> 24 hours from/to it;
more than 120 days, `from` after `to`, or a bad value -> 422 with Laravel-style field errors.
Paging (`paginate=true`, `pageSize` 1-750, default 100) is keyset-based on (timestamp, id); the
cursor in `nextPageUrl` / `previousPageUrl` is base64 of a small JSON object. Ids are strings,
as in Loop's returns data, unless the sandbox runs with `integer_ids`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.core import Sandbox, error_json, loop_json
from engine.sandbox.returns.lines import restock_location
from engine.sandbox.returns.store import (
    SQL_TIME,
    STATES,
    Window,
    load_return,
    query_returns,
    returns_of_order,
)
from engine.sandbox.returns.views import asn_rows, details_view, list_view, loop_ids

MAX_RANGE = timedelta(days=120)
DEFAULT_RANGE = timedelta(hours=24)
PAGE_DEFAULT, PAGE_MAX = 100, 750
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
INVALID = "The given data was invalid."


def parse_time(text: str, end_of_day: bool = False) -> datetime | None:
    text = text.strip().replace("+", " ").removesuffix("Z")
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d" and end_of_day:
            parsed += timedelta(days=1, seconds=-1)
        return parsed
    return None


def parse_range(q: Any) -> tuple[str, str] | dict[str, list[str]]:
    """The (from, to) of a query in SQL time, or field errors."""
    errors: dict[str, list[str]] = {}
    bounds: dict[str, datetime | None] = {}
    for key in ("from", "to"):
        raw = q.get(key)
        bounds[key] = None if not raw else parse_time(raw, end_of_day=key == "to")
        if raw and bounds[key] is None:
            errors[key] = [f"The {key} must be a date in the format YYYY-MM-DD HH:MM:SS."]
    if errors:
        return errors
    start, end = bounds["from"], bounds["to"]
    if start is None and end is None:
        end = datetime.now(UTC)
    if start is None:
        assert end is not None
        start = end - DEFAULT_RANGE
    if end is None:
        end = datetime.now(UTC)
    if start > end:
        return {"from": ["The from must be a date before or equal to to."]}
    if end - start > MAX_RANGE:
        return {"to": ["The range between from and to must not be more than 120 days."]}
    return start.strftime(SQL_TIME), end.strftime(SQL_TIME)


def parse_window(q: Any) -> Window | dict[str, list[str]]:
    found = parse_range(q)
    if isinstance(found, dict):
        return found
    column = q.get("filter") or "created_at"
    if column not in ("created_at", "updated_at"):
        return {"filter": ["The selected filter is invalid (created_at, updated_at)."]}
    states = tuple(s for s in (q.get("state") or "").split(",") if s.strip())
    if any(s not in STATES for s in states):
        return {"state": [f"The selected state is invalid ({', '.join(STATES)})."]}
    return Window(found[0], found[1], column, states or Window.states)


def encode_cursor(direction: str, key: tuple[str, int]) -> str:
    raw = json.dumps({direction: [key[0], key[1]]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(text: str) -> dict[str, tuple[str, int]] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
        ((direction, (stamp, ident)),) = data.items()
        if direction not in ("after", "before"):
            return None
        return {direction: (str(stamp), int(ident))}
    except (binascii.Error, ValueError, TypeError, AttributeError):
        return None


def page_size(q: Any) -> int | dict[str, list[str]]:
    try:
        size = int(q.get("pageSize", PAGE_DEFAULT))
    except ValueError:
        size = 0
    if not 1 <= size <= PAGE_MAX:
        return {"pageSize": [f"The pageSize must be between 1 and {PAGE_MAX}."]}
    return size


def paged(sb: Sandbox, request: Request, window: Window) -> Response:
    q = request.query_params
    size = page_size(q)
    if isinstance(size, dict):
        return error_json(request, 422, INVALID, size)
    cursor = decode_cursor(q["cursor"]) if q.get("cursor") else {}
    if cursor is None:
        return error_json(request, 422, INVALID, {"cursor": ["The cursor is invalid."]})
    items = query_returns(sb, window, cursor.get("after"), cursor.get("before"), size)

    def key(item: dict[str, Any]) -> tuple[str, int]:
        return str(item[window.column]), int(item["id"])

    def link(direction: str, at: tuple[str, int]) -> str | None:
        kwargs = {"after": at} if direction == "after" else {"before": at}
        if not query_returns(sb, window, limit=1, **kwargs):
            return None
        return str(request.url.include_query_params(cursor=encode_cursor(direction, at)))

    body = {
        "returns": [list_view(r) for r in items],
        "nextPageUrl": link("after", key(items[-1])) if items else None,
        "previousPageUrl": link("before", key(items[0])) if items else None,
    }
    return loop_json(request, loop_ids(sb, body))


def query_routes(sb: Sandbox) -> list[BaseRoute]:
    async def returns_list(request: Request) -> Response:
        window = parse_window(request.query_params)
        if isinstance(window, dict):
            return error_json(request, 422, INVALID, window)
        if request.query_params.get("paginate", "").lower() in ("true", "1"):
            return paged(sb, request, window)
        items = [list_view(r) for r in query_returns(sb, window)]
        return loop_json(request, loop_ids(sb, items))

    async def details(request: Request) -> Response:
        q = request.query_params
        if q.get("currency_type", "shop") not in ("shop", "presentment"):
            errors = {
                "currency_type": ["The selected currency_type is invalid (shop, presentment)."]
            }
            return error_json(request, 422, INVALID, errors)
        record = find_for_details(sb, q)
        if isinstance(record, dict) and "errors" in record:
            return error_json(request, 422, INVALID, record["errors"])
        if record is None:
            body = {"errors": {"code": "NOT_FOUND", "message": "Return not found."}}
            return loop_json(request, body, 404)
        location = restock_location(sb, int(record["order_id"]))
        return loop_json(request, loop_ids(sb, details_view(record, location)))

    async def asn(request: Request) -> Response:
        found = parse_range(request.query_params)
        if isinstance(found, dict):
            return error_json(request, 422, INVALID, found)
        window = Window(found[0], found[1], "created_at", STATES)
        rows = [row for r in query_returns(sb, window) for row in asn_rows(r)]
        return loop_json(request, loop_ids(sb, rows))

    return [
        Route("/warehouse/return/list", returns_list, methods=["GET"]),
        Route("/warehouse/return/details", details, methods=["GET"]),
        Route("/warehouse/reporting/asn", asn, methods=["GET"]),
    ]


def find_for_details(sb: Sandbox, q: Any) -> dict[str, Any] | None:
    """By return_id, else the newest return of order_id, else of order_name."""
    try:
        if q.get("return_id"):
            return load_return(sb, int(q["return_id"]))
        if q.get("order_id"):
            found = returns_of_order(sb, int(q["order_id"]))
            return found[0] if found else None
    except ValueError:
        return None
    if q.get("order_name"):
        with sb.lock:
            row = sb.db.execute(
                "SELECT order_id FROM sandbox_returns WHERE order_name = ?"
                " ORDER BY created_at DESC, id DESC LIMIT 1",
                [q["order_name"]],
            ).fetchone()
        return None if row is None else returns_of_order(sb, int(row[0]))[0]
    return {"errors": {"return_id": ["One of return_id, order_id or order_name is required."]}}
