"""Sandbox returns: Loop's return data and action endpoints, and the sandbox-only admin for returns.

Under /api/{version} (see `returns.query`, `returns.actions`): the Detailed Returns List, Get
Return Details, the ASN report, and the return actions. Under /_sandbox (here):

- `POST /returns` creates a return on a synced order: `{"order_id" | "order_external_id",
  "line_items": [{"line_item_id", "quantity", "outcome": refund|exchange|store_credit,
  "exchange_variant_id", "return_reason", "return_comment"}], "state": "open",
  "created_at"?: ISO 8601 (to backdate), "restock_webhooks"?: bool}` -> 201 with the return;
  an unknown order, line or variant, or units not fulfilled or already returned -> 422.
- `GET /returns`, `GET /returns/{id}`: stored returns in full (with `additional_details`).
- `POST /returns/{id}/expire`: open -> expired (returns whose labels were never used).
- `POST /returns/{id}/label` `{status, carrier, tracking_number, url, rate, service}`: creates
  the return's label (label.created) or updates it (label.updated); both also send return.updated.
- `POST /returns/{id}/deliver`: the package arrived. The label becomes `delivered` (created if
  there was none) and Loop's automation processes the return with no API call: it is closed
  on the worker and return.closed fires (or, with the process fault, return.processing.failed
  with `source: null`). Only an open return; 422 from other states (flagged returns wait for
  a person).

State machine: open -> closed (close, process, remove, deliver) | cancelled (cancel) | review
(flag) | expired (admin); review -> closed (close) only; closed, cancelled and expired are final.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.core import Routes, Sandbox, error_json, json_body, loop_json
from engine.sandbox.returns.actions import (
    action_routes,
    not_found,
    return_or_none,
    wrong_state,
)
from engine.sandbox.returns.errors import ReturnSpecError
from engine.sandbox.returns.lines import current_lines
from engine.sandbox.returns.payloads import label_payload, send
from engine.sandbox.returns.processing import (
    AUTOMATION,
    announce,
    processing_fails,
    queue_processing,
    set_state,
)
from engine.sandbox.returns.query import query_routes
from engine.sandbox.returns.store import (
    TRANSITIONS,
    all_returns,
    clear_tables,
    ensure_tables,
    new_return,
    now_sql,
    save_return,
)

LABEL_STATUSES = ("new", "pre_transit", "in_transit", "out_for_delivery", "delivered")
LABEL_FIELDS = ("status", "carrier", "tracking_number", "url", "rate", "service")


def routes(sb: Sandbox) -> Routes:
    """Return data and return actions (API), and the sandbox-only returns admin."""
    ensure_tables(sb)
    sb.reset_hooks.append(lambda: clear_tables(sb))
    return Routes([*query_routes(sb), *action_routes(sb)], admin_routes(sb))


async def _json_object(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    try:
        body = json_body(raw) if raw.strip() else {}
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def admin_routes(sb: Sandbox) -> list[BaseRoute]:
    """The sandbox-only returns admin, mounted under /_sandbox."""

    async def create(request: Request) -> Response:
        """Creates a return on a synced order (body: see the module docstring); 201."""
        spec = await _json_object(request)
        if spec is None:
            return loop_json(request, {"message": "The request body must be a JSON object."}, 400)
        try:
            record = new_return(sb, spec)
        except ReturnSpecError as exc:
            return error_json(request, 422, "The given data was invalid.", exc.errors)
        announce(sb, record, "return.created")
        return loop_json(request, record, 201)

    async def list_all(request: Request) -> Response:
        """Every stored return in full, oldest first: {"returns": [...]}."""
        return loop_json(request, {"returns": all_returns(sb)})

    async def one(request: Request) -> Response:
        """One stored return in full (with additional_details); 404 when unknown."""
        record = return_or_none(sb, request)
        return not_found(request) if record is None else loop_json(request, record)

    return [
        Route("/returns", create, methods=["POST"]),
        Route("/returns", list_all, methods=["GET"]),
        Route("/returns/{id}", one, methods=["GET"]),
        Route("/returns/{id}/expire", expire_handler(sb), methods=["POST"]),
        Route("/returns/{id}/label", label_handler(sb), methods=["POST"]),
        Route("/returns/{id}/deliver", deliver_handler(sb), methods=["POST"]),
    ]


def expire_handler(sb: Sandbox) -> Any:
    async def expire(request: Request) -> Response:
        """Moves an open return to expired (its label was never used); 422 from other states."""
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        if record["state"] not in TRANSITIONS["expire"]:
            return wrong_state(request, record, "expired")
        set_state(sb, record, "expired")
        return loop_json(request, record)

    return expire


def label_handler(sb: Sandbox) -> Any:
    async def label(request: Request) -> Response:
        """Creates the return's label (201, label.created) or updates it (200, label.updated)."""
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        body = await _json_object(request)
        if body is None:
            return loop_json(request, {"message": "The request body must be a JSON object."}, 400)
        if body.get("status", "new") not in LABEL_STATUSES:
            errors = {"status": [f"The status must be one of {', '.join(LABEL_STATUSES)}."]}
            return error_json(request, 422, "The given data was invalid.", errors)
        created = not record["labels"]
        current = change_label(sb, record, body)
        return loop_json(request, current, 201 if created else 200)

    return label


def deliver_handler(sb: Sandbox) -> Any:
    async def deliver(request: Request) -> Response:
        """The package arrived: the label becomes delivered and Loop's automation processes
        the return (closed on the worker, return.closed); 422 unless the return is open."""
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        if record["state"] not in TRANSITIONS["process"]:
            return wrong_state(request, record, "processed")
        change_label(sb, record, {"status": "delivered"})
        queue_processing(sb, int(record["id"]), {}, AUTOMATION, fails=processing_fails(sb))
        return loop_json(request, record)

    return deliver


def change_label(sb: Sandbox, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Creates or updates the return's label, stores the return and sends label.created or
    label.updated, then return.updated; returns the label."""
    trigger = "label.updated" if record["labels"] else "label.created"
    current = upsert_label(sb, record, body)
    save_return(sb, record)
    send(sb, label_payload(record, trigger))
    announce(sb, record, "return.updated")
    return current


def upsert_label(sb: Sandbox, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Creates the return's label or applies `body` to it; returns the label."""
    stamp = now_sql()
    if not record["labels"]:
        record["labels"].append(
            {
                "status": "new",
                "created_at": stamp,
                "updated_at": stamp,
                "url": f"https://labels.sandbox.loop.test/{record['id']}.pdf",
                "rate": "0.00",
                "carrier": "USPS",
                "service": "Ground",
                "tracking_number": f"SBX{record['id']}",
                "shipment_id": sb.new_id(),
                "line_items": [line["line_item_id"] for line in current_lines(record)],
            }
        )
    label: dict[str, Any] = record["labels"][-1]
    label.update({k: body[k] for k in LABEL_FIELDS if k in body})
    label["updated_at"] = stamp
    return label
