"""Bulk operations in the sandbox: a JSONL upload applied line by line through the very routes
of the single Commerce Data endpoints, and its operation and jobs to read back.

Loop documents the endpoints (loop-api.md §6) but not the line format, the statuses or the
limits. ASSUMPTION (the same as engine.loop.bulk's): a line is the single request it replaces,
`{"method": "PUT", "path": "/orders", "body": {...}}` (`path` relative to /api/{version}; only
PUT and POST on Commerce Data paths); each line gets a job `{"line", "status": "succeeded" |
"failed", "http_code", "id", "result", "errors"}`; an operation is `{"id", "status", "lines",
"succeeded", "failed", "created_at", "completed_at"}`, its status `completed` once every line
has run (`failed` when none succeeded). The sandbox runs the file before it answers 201, so a
client's first GET already sees the final status. At most MAX_LINES lines a file (assumed).

Each line goes through the same route handler as its single request (validation, upsert,
derived fields, errors) but not through the gate: the upload is one request of the budget.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message

from engine.sandbox.commerce import common, paging
from engine.sandbox.core import Sandbox, loop_json

PATH = "/bulk-operations"
MAX_LINES = 10_000
METHODS = ("PUT", "POST")
_DROPPED_HEADERS = (b"content-type", b"content-length")


def _file(content_type: str, raw: bytes) -> bytes | None:
    """The `file` field of a multipart/form-data body (None when there is none)."""
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            return data if isinstance(data, bytes) else None
    return None


class Dispatcher:
    """Runs one bulk line through the route that serves its single request."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes

    async def run(self, request: Request, number: int, text: str) -> dict[str, Any]:
        job: dict[str, Any] = {"line": number, "id": None, "result": None, "errors": None}
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict) or not isinstance(line.get("body"), dict):
            return _failed(job, 400, {"message": "The line is not a JSON object with a body."})
        method, path = str(line.get("method", "")).upper(), line.get("path")
        if method not in METHODS or not isinstance(path, str) or not path.startswith("/"):
            return _failed(job, 400, {"message": "The line needs a method (PUT, POST) and a path."})
        status, answer = await self._call(request, method, path, line["body"])
        if status >= 300:
            return _failed(job, status, answer)
        record = _record(answer)
        job.update(status="succeeded", http_code=status, result=record)
        job["id"] = record.get("id") if isinstance(record, dict) else None
        return job

    async def _call(
        self, request: Request, method: str, path: str, body: dict[str, Any]
    ) -> tuple[int, Any]:
        headers = [(k, v) for k, v in request.scope["headers"] if k not in _DROPPED_HEADERS]
        scope = {
            **request.scope,
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [*headers, (b"content-type", b"application/json")],
            "path_params": {"version": request.path_params.get("version", "")},
        }
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return await _handle(route, {**scope, **child}, json.dumps(body).encode())
        return 404, {"errors": {"code": "NOT_FOUND", "message": f"No route {method} {path}."}}


async def _handle(route: BaseRoute, scope: dict[str, Any], raw: bytes) -> tuple[int, Any]:
    sent: dict[str, Any] = {"status": 500, "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    await route.handle(scope, receive, send)
    try:
        return int(sent["status"]), json.loads(sent["body"] or b"null")
    except ValueError:
        return int(sent["status"]), {"message": sent["body"].decode("utf-8", "replace")}


def _record(answer: Any) -> Any:
    """The record inside a single endpoint's answer ({"order": {...}} or bare)."""
    if isinstance(answer, dict) and len(answer) == 1:
        inner = next(iter(answer.values()))
        if isinstance(inner, dict):
            return inner
    return answer


def _failed(job: dict[str, Any], status: int, errors: Any) -> dict[str, Any]:
    job.update(status="failed", http_code=status, errors=errors)
    return job


class Operations:
    """The sandbox_bulk_operations table: each operation with its jobs."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        with sb.lock:
            sb.db.execute(
                "CREATE TABLE IF NOT EXISTS sandbox_bulk_operations ("
                " id UBIGINT PRIMARY KEY, body JSON NOT NULL, jobs JSON NOT NULL)"
            )
        sb.reset_hooks.append(self._reset)

    def _reset(self) -> None:
        self.sb.db.execute("DELETE FROM sandbox_bulk_operations")

    def add(self, jobs: list[dict[str, Any]], created_at: str) -> dict[str, Any]:
        succeeded = sum(1 for j in jobs if j["status"] == "succeeded")
        body = {
            "id": self.sb.new_id(),
            "status": "completed" if succeeded or not jobs else "failed",
            "lines": len(jobs),
            "succeeded": succeeded,
            "failed": len(jobs) - succeeded,
            "created_at": created_at,
            "completed_at": common.now(),
        }
        with self.sb.transaction() as db:
            db.execute(
                "INSERT INTO sandbox_bulk_operations VALUES (?, ?, ?)",
                [body["id"], json.dumps(body), json.dumps(jobs)],
            )
        return body

    def get(self, operation_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self.sb.transaction() as db:
            row = db.execute(
                "SELECT body, jobs FROM sandbox_bulk_operations WHERE id = ?", [operation_id]
            ).fetchone()
        if row is None:
            raise common.not_found("Bulk operation")
        return json.loads(row[0]), json.loads(row[1])

    def all(self) -> list[dict[str, Any]]:
        with self.sb.transaction() as db:
            rows = db.execute("SELECT body FROM sandbox_bulk_operations ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]


def _page(request: Request, items: list[dict[str, Any]], key: str, plural: str) -> dict[str, Any]:
    """One page of `items` (ascending by `key`), with cursor next/previous page URLs."""
    limit, ascending, cursor = paging.page_params(request)
    ordered = items if ascending else list(reversed(items))
    start = 0
    if cursor is not None:
        at = [i for i, item in enumerate(ordered) if item[key] == cursor[0]]
        start = (at[0] + 1) if at and cursor[1] == "next" else max((at or [0])[0] - limit, 0)
    rows = ordered[start : start + limit]
    more, before = start + limit < len(ordered), start > 0
    return {
        plural: rows,
        "next_page_url": paging._page_url(request, paging._cursor(rows[-1][key], "next"))
        if rows and more
        else None,
        "previous_page_url": paging._page_url(request, paging._cursor(rows[0][key], "prev"))
        if rows and before
        else None,
    }


def bulk_routes(sb: Sandbox, routes: list[BaseRoute]) -> list[BaseRoute]:
    """POST/GET /bulk-operations, GET /bulk-operations/{id} and /{id}/jobs, over `routes`."""
    operations, dispatcher = Operations(sb), Dispatcher(routes)

    @common.endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            return loop_json(request, _page(request, operations.all(), "id", "bulk_operations"))
        created_at = common.now()
        data = _file(request.headers.get("content-type", ""), await request.body())
        if data is None:
            raise common.field_error("file", "The file field is required.")
        lines = [(n, t) for n, t in enumerate(data.decode("utf-8", "replace").splitlines(), 1)]
        lines = [(n, t) for n, t in lines if t.strip()]
        if len(lines) > MAX_LINES:
            raise common.field_error("file", f"The file may not have more than {MAX_LINES} lines.")
        jobs = [await dispatcher.run(request, n, text) for n, text in lines]
        return loop_json(request, {"bulk_operation": operations.add(jobs, created_at)}, 201)

    @common.endpoint
    async def one(request: Request) -> Response:
        body, jobs = operations.get(common.path_id(request, "id", "Bulk operation"))
        if request.url.path.endswith("/jobs"):
            return loop_json(request, _page(request, jobs, "line", "jobs"))
        return loop_json(request, {"bulk_operation": body})

    return [
        Route(PATH, collection, methods=["GET", "POST"]),
        Route(f"{PATH}/{{id}}", one, methods=["GET"]),
        Route(f"{PATH}/{{id}}/jobs", one, methods=["GET"]),
    ]
