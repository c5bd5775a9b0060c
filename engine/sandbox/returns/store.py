"""Sandbox returns: their DuckDB tables, creation on a synced order, and the state machine.

A return is stored as one JSON document (the fullest form, the webhook payload's fields) plus
the columns the list endpoints filter on. Views (`returns.views`) cut it to each endpoint's shape.
Timestamps are kept as `YYYY-MM-DD HH:MM:SS` in UTC, the format of the returns list's `from`/`to`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.sandbox.core import Sandbox
from engine.sandbox.returns.errors import ReturnSpecError
from engine.sandbox.returns.lines import (
    build_lines,
    currency_digits,
    current_lines,
    order_currency,
    order_customer,
    refunded_quantities,
    used_quantities,
)
from engine.sandbox.returns.totals import compute_totals

STATES = ("open", "closed", "cancelled", "expired", "review")
# Which state each action may start from; anything else is UNPROCESSABLE_RETURN.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "close": ("open", "review"),
    "process": ("open",),
    "flag": ("open",),
    "cancel": ("open",),
    "expire": ("open",),
}
# A return in one of these states holds its items: they cannot go into another return. Pending
# ones are not refunded yet; a closed one may have been (lines.used_quantities).
PENDING_STATES, CLOSED_STATES = ("open", "review"), ("closed",)
HOLDING_STATES = PENDING_STATES + CLOSED_STATES
SQL_TIME = "%Y-%m-%d %H:%M:%S"


def now_sql() -> str:
    return datetime.now(UTC).strftime(SQL_TIME)


def parse_sql_time(text: str) -> datetime:
    return datetime.strptime(text, SQL_TIME).replace(tzinfo=UTC)


def ensure_tables(sb: Sandbox) -> None:
    with sb.lock:
        sb.db.execute(
            "CREATE TABLE IF NOT EXISTS sandbox_returns (id UBIGINT PRIMARY KEY,"
            " order_id UBIGINT NOT NULL, order_name TEXT, state TEXT NOT NULL,"
            " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, body JSON NOT NULL)"
        )
        sb.db.execute(
            "CREATE TABLE IF NOT EXISTS sandbox_return_notes (id UBIGINT PRIMARY KEY,"
            " return_id UBIGINT NOT NULL, content TEXT NOT NULL, created_at TEXT NOT NULL)"
        )


def clear_tables(sb: Sandbox) -> None:
    with sb.lock:
        sb.db.execute("DELETE FROM sandbox_returns")
        sb.db.execute("DELETE FROM sandbox_return_notes")


def find_order(sb: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("order_id") is not None:
        try:
            order = sb.get_record("order", int(spec["order_id"]))
        except (TypeError, ValueError):
            order = None
        if order is None:
            raise ReturnSpecError({"order_id": [f"no order with id {spec['order_id']}"]})
        return order
    external = spec.get("order_external_id")
    if not isinstance(external, str) or not external:
        raise ReturnSpecError({"order_id": ["order_id or order_external_id is required"]})
    with sb.lock:
        row = sb.db.execute(
            "SELECT body FROM commerce_records WHERE kind = 'order' AND external_id = ?",
            [external],
        ).fetchone()
    if row is None:
        raise ReturnSpecError({"order_external_id": [f"no order with external_id {external!r}"]})
    return dict(json.loads(row[0]))


def held_quantities(sb: Sandbox, order: dict[str, Any]) -> dict[int, int]:
    """Order line id -> units no longer returnable: in a return that holds them (open, review,
    closed) or refunded on the platform (the order's pushed `refunds[]`)."""
    pending: dict[int, int] = {}
    closed: dict[int, int] = {}
    for record in returns_of_order(sb, int(order["id"])):
        if record["state"] in HOLDING_STATES:
            held = pending if record["state"] in PENDING_STATES else closed
            for line in current_lines(record):
                key = int(line["provider_line_item_id"])
                held[key] = held.get(key, 0) + 1
    return used_quantities(pending, closed, refunded_quantities(order))


def returns_of_order(sb: Sandbox, order_id: int) -> list[dict[str, Any]]:
    with sb.lock:
        rows = sb.db.execute(
            "SELECT body FROM sandbox_returns WHERE order_id = ? ORDER BY created_at DESC, id DESC",
            [order_id],
        ).fetchall()
    return [dict(json.loads(r[0])) for r in rows]


def new_return(sb: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    """Builds and stores a return from the admin body; ReturnSpecError when it cannot exist."""
    state = spec.get("state", "open")
    if state not in STATES:
        raise ReturnSpecError({"state": [f"must be one of {', '.join(STATES)}"]})
    order = find_order(sb, spec)
    order_id = int(order["id"])
    created = _created_at(spec)
    held = held_quantities(sb, order)
    lines, exchanges = build_lines(sb, order, spec.get("line_items"), held, created)
    record = _header(sb, order, state, created)
    record.update(
        line_items=lines,
        exchanges=exchanges,
        restock_webhooks=bool(spec.get("restock_webhooks", True)),
        additional_details={},
    )
    compute_totals(record)
    with sb.transaction() as db:
        db.execute(
            "INSERT INTO sandbox_returns VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                record["id"],
                order_id,
                record["order_name"],
                state,
                created,
                created,
                json.dumps(record),
            ],
        )
    return record


def _created_at(spec: dict[str, Any]) -> str:
    given = spec.get("created_at")
    if given is None:
        return now_sql()
    try:
        parsed = datetime.fromisoformat(str(given).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReturnSpecError({"created_at": ["must be an ISO 8601 date and time"]}) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(SQL_TIME)


def _header(sb: Sandbox, order: dict[str, Any], state: str, created: str) -> dict[str, Any]:
    email, detail = order_customer(sb, order)
    address = order.get("shipping_address") or {}
    return_id = sb.new_id()
    return {
        "id": return_id,
        "shop_id": sb.config.shop_id,
        "state": state,
        "created_at": created,
        "updated_at": created,
        "edited_at": None,
        "order_id": int(order["id"]),
        "order_name": order.get("name"),
        "order_number": str(order.get("name") or "").lstrip("#"),
        # On Loop Anywhere the "provider" is the integrator's platform: its id is external_id.
        "provider_order_id": order.get("external_id") or str(order["id"]),
        "provider_order_number": str(order.get("name") or "").lstrip("#"),
        "provider_order_external_id": order.get("external_id"),
        "provider_order_sales_channel": (order.get("channel") or {}).get("name")
        if isinstance(order.get("channel"), dict)
        else order.get("channel"),
        "customer": email,
        "customer_detail": detail,
        "address": _address(address, detail),
        "currency": order_currency(order),
        "multi_currency": False,
        "currency_digits": currency_digits(order_currency(order)),
        "origin_country": address.get("country_code"),
        "origin_country_code": address.get("country_code"),
        "status_page_url": f"https://returns.sandbox.loop.test/returns/{return_id}",
        "is_gift_return": False,
        "refunds": [],
        "labels": [],
        "destination_id": None,
    }


def _address(address: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(p for p in (detail.get("first_name"), detail.get("last_name")) if p)
    return {
        "name": address.get("name") or name or None,
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "state": address.get("region"),
        "zip": None if address.get("postal_code") is None else str(address["postal_code"]),
        "country": address.get("country_code"),
        "country_code": address.get("country_code"),
        "phone": detail.get("phone"),
    }


def load_return(sb: Sandbox, return_id: int) -> dict[str, Any] | None:
    with sb.lock:
        row = sb.db.execute("SELECT body FROM sandbox_returns WHERE id = ?", [return_id]).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def save_return(sb: Sandbox, record: dict[str, Any], *, edited: bool = False) -> None:
    """Stores a changed return, stamping updated_at (and edited_at for line changes)."""
    stamp = now_sql()
    record["updated_at"] = stamp
    if edited:
        record["edited_at"] = stamp
    with sb.transaction() as db:
        db.execute(
            "UPDATE sandbox_returns SET state = ?, updated_at = ?, body = ? WHERE id = ?",
            [record["state"], stamp, json.dumps(record), record["id"]],
        )


@dataclass(frozen=True)
class Window:
    """A query over the returns: a time range on one column, and the states wanted."""

    start: str
    end: str
    column: str = "created_at"
    states: tuple[str, ...] = ("open", "closed", "expired")


def query_returns(
    sb: Sandbox,
    window: Window,
    after: tuple[str, int] | None = None,
    before: tuple[str, int] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Returns in the window ordered by (column, id); keyset-paged by `after` or `before`."""
    col = "created_at" if window.column == "created_at" else "updated_at"
    marks = ",".join("?" for _ in window.states)
    sql = f"SELECT body FROM sandbox_returns WHERE {col} >= ? AND {col} <= ? AND state IN ({marks})"
    args: list[Any] = [window.start, window.end, *window.states]
    order = "ASC"
    if after is not None:
        sql += f" AND ({col}, id) > (?, ?)"
        args += list(after)
    elif before is not None:
        sql += f" AND ({col}, id) < (?, ?)"
        args += list(before)
        order = "DESC"
    sql += f" ORDER BY {col} {order}, id {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with sb.lock:
        rows = sb.db.execute(sql, args).fetchall()
    found = [dict(json.loads(r[0])) for r in rows]
    return found[::-1] if order == "DESC" else found


def all_returns(sb: Sandbox) -> list[dict[str, Any]]:
    with sb.lock:
        rows = sb.db.execute("SELECT body FROM sandbox_returns ORDER BY created_at, id").fetchall()
    return [dict(json.loads(r[0])) for r in rows]


def add_note(sb: Sandbox, return_id: int, content: str) -> dict[str, Any]:
    note = {"id": sb.new_id(), "content": content, "created_at": now_sql()}
    with sb.transaction() as db:
        db.execute(
            "INSERT INTO sandbox_return_notes VALUES (?, ?, ?, ?)",
            [note["id"], return_id, content, note["created_at"]],
        )
    return note


def notes_of(sb: Sandbox, return_id: int) -> list[dict[str, Any]]:
    with sb.lock:
        rows = sb.db.execute(
            "SELECT id, content, created_at FROM sandbox_return_notes WHERE return_id = ?"
            " ORDER BY id",
            [return_id],
        ).fetchall()
    return [{"id": int(r[0]), "content": r[1], "created_at": r[2]} for r in rows]
