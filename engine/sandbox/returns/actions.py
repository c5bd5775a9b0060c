"""Return actions (loop-api.md §4): process, remove line items, flag, cancel, close, notes.

Success is HTTP 200 with the JSON string "true". Process, cancel, flag and close answer a
return in a state that forbids them with **HTTP 200 and an error body**, as Loop does (only 200
and 401 are declared), so a client must read the body: anything but "true" failed.

| action  | wrong state (HTTP 200)                                                            |
|---------|-----------------------------------------------------------------------------------|
| process | cancelled: `{"message":"Return is cancelled and therefore cannot be processed."}`; |
|         | review: `{"errors":{"message","code":"UNPROCESSABLE_FLAGGED_RETURN"}}`;           |
|         | closed, expired: `{"errors":{"message":"Return is closed and therefore cannot be  |
|         | processed.","code":"UNPROCESSABLE_RETURN"}}`                                      |
| cancel  | review: UNPROCESSABLE_FLAGGED_RETURN; expired, closed, cancelled: UNPROCESSABLE_RETURN |
| flag    | review: UNPROCESSABLE_FLAGGED_RETURN; closed, cancelled, expired: UNPROCESSABLE_RETURN |
| close   | closed, cancelled, expired: UNPROCESSABLE_RETURN (a flagged return can be closed) |

Remove and notes keep Loop's 4xx/5xx: remove answers 422 `{"error":{"message"}}` (singular)
when `line_item_id` is missing, 422 `{"errors":{"message"[,"code"]}}` when the return cannot be
modified (not open) or not all lines qualify (only refund / store-credit lines, and at least one
must stay), and 500 when processing fails (the `process_fail_rate` fault; nothing changes).
Create note: content missing, not a string, empty or 255+ characters -> 422
`{"errors":{"message"}}`. Get notes with none -> 422 with the JSON string "false". An unknown
return id is 404 `{"errors":{"code":"NOT_FOUND","message"}}` everywhere; process with a body that
is not a JSON object is 422.

Process is asynchronous (see `returns.processing`): the 200 means queued. The optional JSON object
sent to process is kept as the return's `additional_details` (visible in the admin API).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.core import Sandbox, ascii_int, json_body, loop_json
from engine.sandbox.returns.lines import current_lines, line_outcome, remove_line
from engine.sandbox.returns.payloads import FAILED_MESSAGE
from engine.sandbox.returns.processing import (
    API,
    announce,
    processing_fails,
    queue_processing,
    set_state,
)
from engine.sandbox.returns.store import (
    TRANSITIONS,
    add_note,
    load_return,
    notes_of,
    now_sql,
    save_return,
)
from engine.sandbox.returns.totals import compute_totals

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


def state_error(record: dict[str, Any], verb: str) -> dict[str, Any]:
    """Loop's error body for an action the return's state forbids (`verb`: processed, ...)."""
    state = record["state"]
    if state == "cancelled" and verb == "processed":
        return {"message": "Return is cancelled and therefore cannot be processed."}
    if state == "review":
        message = f"Return is flagged for review and therefore cannot be {verb}."
        return {"errors": {"message": message, "code": "UNPROCESSABLE_FLAGGED_RETURN"}}
    message = f"Return is {state} and therefore cannot be {verb}."
    return {"errors": {"message": message, "code": "UNPROCESSABLE_RETURN"}}


def refused(request: Request, record: dict[str, Any], verb: str) -> Response:
    """The action's answer to a state that forbids it: HTTP 200 with an error body, as Loop's."""
    return loop_json(request, state_error(record, verb))


def wrong_state(request: Request, record: dict[str, Any], verb: str) -> Response:
    """The sandbox admin's answer to a state that forbids a change: 422 with the same body."""
    return loop_json(request, state_error(record, verb), 422)


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


# The actions that only move a return to another state: (action, new state, past tense).
TRANSITION_ACTIONS = (
    ("flag", "review", "flagged"),
    ("cancel", "cancelled", "cancelled"),
    ("close", "closed", "closed"),
)


def action_routes(sb: Sandbox) -> list[BaseRoute]:
    return [
        Route("/warehouse/return/{id}/process", process_handler(sb), methods=["POST"]),
        Route("/warehouse/return/{id}/remove", remove_handler(sb), methods=["POST"]),
        *(
            Route(
                f"/warehouse/return/{{id}}/{action}",
                transition_handler(sb, action, state, past),
                methods=["POST"],
            )
            for action, state, past in TRANSITION_ACTIONS
        ),
        *note_routes(sb),
    ]


def process_handler(sb: Sandbox) -> Any:
    async def process(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        details = await _details(request)
        if details is None:
            return unprocessable(request, "The additional details must be a JSON object.")
        if record["state"] not in TRANSITIONS["process"]:
            return refused(request, record, "processed")
        queue_processing(sb, int(record["id"]), details, API, fails=processing_fails(sb))
        return ok(request)

    return process


def transition_handler(sb: Sandbox, action: str, state: str, past: str) -> Any:
    async def handler(request: Request) -> Response:
        record = return_or_none(sb, request)
        if record is None:
            return not_found(request)
        if record["state"] not in TRANSITIONS[action]:
            return refused(request, record, past)
        set_state(sb, record, state)
        return ok(request)

    return handler


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
            message = "The line_item_id query parameter is required (comma-separated ids)."
            return loop_json(request, {"error": {"message": message}}, 422)
        if record["state"] != "open":
            return unprocessable(
                request,
                f"Return {record['id']} is {record['state']} and cannot be modified.",
                "UNPROCESSABLE_RETURN",
            )
        problem = _removal_problem(record, ids)
        if problem:
            return unprocessable(request, problem)
        if processing_fails(sb):
            body = {"errors": {"code": "UNEXPECTED_ERROR", "message": FAILED_MESSAGE}}
            return loop_json(request, body, 500)
        stamp = now_sql()
        for line in current_lines(record):
            if int(line["line_item_id"]) in ids:
                remove_line(line, stamp, record["currency"])
        compute_totals(record)
        save_return(sb, record, edited=True)
        announce(sb, record, "return.updated")
        queue_processing(sb, int(record["id"]), {}, API, fails=False)
        return ok(request)

    return remove


def _removal_problem(record: dict[str, Any], ids: list[int]) -> str | None:
    """Why these lines cannot be removed, or None: only current refund or store-credit lines
    qualify, all of them must, and at least one line must stay."""
    lines = {int(line["line_item_id"]): line for line in current_lines(record)}
    good = {i for i in ids if i in lines and line_outcome(lines[i]) in REMOVABLE}
    if not good:
        return (
            "None of the line items qualify for removal: "
            "only refund or store-credit items can be removed."
        )
    if good != set(ids):
        bad = ", ".join(str(i) for i in sorted(set(ids) - good))
        return f"Not all line items qualify for removal: {bad}."
    if len(good) == len(lines):
        return "A return must keep at least one line item."
    return None


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
            # Loop answers a return without notes with 422 and the JSON string "false".
            return loop_json(request, "false", 422)
        return loop_json(request, {"notes": notes})

    return [
        Route("/warehouse/return/{id}/note", create, methods=["POST"]),
        Route("/warehouse/return/{id}/notes", list_notes, methods=["GET"]),
    ]
