"""Return actions (loop-api.md §4): process, remove line items, flag, cancel, close, notes.

Success is HTTP 200 with the JSON string "true". Where the docs leave the error form open, the
sandbox picks one and keeps it:

| action  | unknown id | wrong state                                                            |
|---------|------------|------------------------------------------------------------------------|
| process | 404 NOT_FOUND | cancelled: **200** `{"message":"Return is cancelled..."}` (the documented 200-with-error-body); review: 422 UNPROCESSABLE_FLAGGED_RETURN (flagged returns need an admin setting); closed/expired: 422 UNPROCESSABLE_RETURN |
| remove  | 404 | not open: 422 UNPROCESSABLE_RETURN "cannot be modified"; `line_item_id` missing, none qualify, not all qualify (only refund / store-credit lines), or every line would go: 422 `{"errors":{"message"}}` |
| cancel  | 404 | review: 422 UNPROCESSABLE_FLAGGED_RETURN; expired/closed/cancelled: 422 UNPROCESSABLE_RETURN |
| flag    | 404 | review: 422 UNPROCESSABLE_FLAGGED_RETURN; closed/cancelled/expired: 422 UNPROCESSABLE_RETURN |
| close   | 404 | closed/cancelled/expired: 422 UNPROCESSABLE_RETURN (a flagged return can be closed) |
| note    | 404 | content missing, not a string, empty or 255+ characters: 422 `{"errors":{"message"}}` |
| notes   | 404 | no notes: 422 `{"errors":{"message"}}` |

404 bodies are `{"errors":{"code":"NOT_FOUND","message":...}}`. Processing is asynchronous: the
200 means queued; the sandbox's worker then closes the return (lines get `returned_at`, refund
lines a refund), sends return.closed and return.updated and, unless restock webhooks are off for
the return or the sandbox (`restock_webhooks`, in the admin body or in SandboxConfig),
restock.requested. The optional JSON object sent
to process is kept as the return's `additional_details` (visible in the admin API).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.core import Sandbox, ascii_int, json_body, loop_json
from engine.sandbox.returns.lines import restock_location
from engine.sandbox.returns.store import (
    TRANSITIONS,
    add_note,
    compute_totals,
    load_return,
    notes_of,
    now_sql,
    save_return,
)
from engine.sandbox.returns.views import restock_payload, webhook_view

NOTE_MAX = 255
REMOVABLE = ("refund", "store_credit")


def ok(request: Request) -> Response:
    return loop_json(request, "true")


def not_found(request: Request) -> Response:
    return loop_json(
        request, {"errors": {"code": "NOT_FOUND", "message": "Return not found."}}, 404
    )


def unprocessable(request: Request, message: str, code: str | None = None) -> Response:
    errors: dict[str, str] = {"message": message}
    if code:
        errors["code"] = code
    return loop_json(request, {"errors": errors}, 422)


def wrong_state(request: Request, record: dict[str, Any], action: str) -> Response:
    state = record["state"]
    if state == "review":
        return unprocessable(
            request,
            f"Return {record['id']} is flagged for review and cannot be {action}.",
            "UNPROCESSABLE_FLAGGED_RETURN",
        )
    return unprocessable(
        request, f"Return {record['id']} is {state} and cannot be {action}.", "UNPROCESSABLE_RETURN"
    )


def announce(sb: Sandbox, record: dict[str, Any], *triggers: str) -> None:
    for trigger in triggers:
        sb.events.emit("return", trigger, webhook_view(record, trigger))


def set_state(sb: Sandbox, record: dict[str, Any], state: str) -> None:
    record["state"] = state
    save_return(sb, record)
    announce(sb, record, *(("return.closed",) if state == "closed" else ()), "return.updated")


def finish_processing(sb: Sandbox, return_id: int, details: dict[str, Any]) -> None:
    """The worker's half of process: close the return, fulfil outcomes, send the webhooks."""
    record = load_return(sb, return_id)
    if record is None or record["state"] != "open":
        return
    stamp = now_sql()
    for line in record["line_items"]:
        line["returned_at"] = stamp
    record["additional_details"] = {**record.get("additional_details", {}), **details}
    if record["refund"] and float(record["refund"]) > 0:
        record["refunds"] = [
            {
                "gateway": "sandbox",
                "amount": record["refund"],
                "currency": record["currency"],
                "provider_refund_id": sb.new_id(),
                "provider": "sandbox",
            }
        ]
    set_state(sb, record, "closed")
    if record.get("restock_webhooks", True) and sb.config.restock_webhooks:
        location = restock_location(sb, int(record["order_id"]))
        sb.events.emit("restock", "restock.requested", restock_payload(record, location))


def queue_processing(sb: Sandbox, return_id: int, details: dict[str, Any]) -> None:
    sb.worker.submit(lambda: finish_processing(sb, return_id, details))


def return_or_none(sb: Sandbox, request: Request) -> dict[str, Any] | None:
    return_id = ascii_int(request.path_params["id"])
    return None if return_id is None else load_return(sb, return_id)


async def _details(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json_body(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def action_routes(sb: Sandbox) -> list[BaseRoute]:
    async def process(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        details = await _details(request)
        if details is None:
            return unprocessable(request, "The additional details must be a JSON object.")
        if record["state"] == "cancelled":
            return loop_json(request, {"message": "Return is cancelled and cannot be processed."})
        if record["state"] not in TRANSITIONS["process"]:
            return wrong_state(request, record, "processed")
        queue_processing(sb, int(record["id"]), details)
        return ok(request)

    def transition(action: str, state: str, past: str) -> Any:
        async def handler(request: Request) -> Response:
            record = return_or_none(sb, request)
            if record is None:
                return not_found(request)
            if record["state"] not in TRANSITIONS[action]:
                return wrong_state(request, record, past)
            set_state(sb, record, state)
            return ok(request)

        return handler

    return [
        Route("/warehouse/return/{id}/process", process, methods=["POST"]),
        Route("/warehouse/return/{id}/remove", remove_handler(sb), methods=["POST"]),
        Route(
            "/warehouse/return/{id}/flag", transition("flag", "review", "flagged"), methods=["POST"]
        ),
        Route(
            "/warehouse/return/{id}/cancel",
            transition("cancel", "cancelled", "cancelled"),
            methods=["POST"],
        ),
        Route(
            "/warehouse/return/{id}/close",
            transition("close", "closed", "closed"),
            methods=["POST"],
        ),
        *note_routes(sb),
    ]


def _line_ids(text: str | None) -> list[int] | None:
    try:
        ids = [int(part) for part in (text or "").split(",") if part.strip()]
    except ValueError:
        return None
    return ids or None


def remove_handler(sb: Sandbox) -> Any:
    async def remove(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        ids = _line_ids(request.query_params.get("line_item_id"))
        if ids is None:
            return unprocessable(
                request,
                "The line_item_id query parameter is required "
                "(comma-separated return line item ids).",
            )
        if record["state"] != "open":
            return unprocessable(
                request,
                f"Return {record['id']} is {record['state']} and cannot be modified.",
                "UNPROCESSABLE_RETURN",
            )
        lines = {int(line["line_item_id"]): line for line in record["line_items"]}
        ok_ids = [i for i in ids if i in lines and lines[i]["outcome"] in REMOVABLE]
        if not ok_ids:
            return unprocessable(
                request,
                "None of the line items qualify for removal: only "
                "refund or store-credit items can be removed.",
            )
        if len(set(ok_ids)) != len(set(ids)):
            bad = ", ".join(str(i) for i in sorted(set(ids) - set(ok_ids)))
            return unprocessable(request, f"Not all line items qualify for removal: {bad}.")
        if len(set(ok_ids)) == len(lines):
            return unprocessable(request, "A return must keep at least one line item.")
        record["line_items"] = [ln for i, ln in lines.items() if i not in set(ok_ids)]
        compute_totals(record)
        save_return(sb, record, edited=True)
        announce(sb, record, "return.updated")
        queue_processing(sb, int(record["id"]), {})
        return ok(request)

    return remove


def note_routes(sb: Sandbox) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        try:
            body = json_body(await request.body() or b"null")
        except ValueError:
            body = None
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str) or not content.strip() or len(content) >= NOTE_MAX:
            return unprocessable(
                request, f"The content field is required and must be under {NOTE_MAX} characters."
            )
        add_note(sb, int(record["id"]), content)
        return ok(request)

    async def list_notes(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        notes = notes_of(sb, int(record["id"]))
        if not notes:
            return unprocessable(request, f"Return {record['id']} has no notes.")
        return loop_json(request, {"notes": notes})

    return [
        Route("/warehouse/return/{id}/note", create, methods=["POST"]),
        Route("/warehouse/return/{id}/notes", list_notes, methods=["GET"]),
    ]
