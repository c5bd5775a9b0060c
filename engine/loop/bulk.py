"""Loop's bulk operations: upload a JSONL file of writes, wait for the operation, read its jobs.

Documented (loop-api.md §6): `POST /bulk-operations` (multipart/form-data, field `file`, a
JSONL file) -> 201 `{bulk_operation}`; `GET /bulk-operations/{id}`; `GET
/bulk-operations/{id}/jobs` (paged like every list). ASSUMPTION, not documented: the line
format, the statuses and the job fields. Assumed here (and emulated by the sandbox):

- a line is the single request it replaces: `{"method": "PUT", "path": "/orders", "body": {...}}`
  (`path` relative to /api/{version}, as the single endpoint's);
- the operation's `status` ends as `completed` or `failed` (before: `created`, `running`);
- a job is one line's outcome: `{"line": 1, "status": "succeeded" | "failed", "http_code",
  "id", "result" (the single endpoint's answer), "errors" (its error body)}`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import LoadError
from engine.loop.api import LoopAPI

PATH = "/bulk-operations"
MAX_LINES = 10_000  # lines per file: Loop documents no limit; the sandbox assumes this one
DONE = frozenset({"completed", "failed"})
POLL_S = 1.0
WAIT_S = 3600.0  # an operation still unfinished after this is given up on (held, retried later)


@dataclass(frozen=True)
class Line:
    """One write of a bulk file (what its single request would be), serialised when made."""

    method: str
    path: str
    text: str  # the JSONL line, without its newline

    @classmethod
    def of(cls, method: str, path: str, body: dict[str, Any]) -> Line:
        return cls(method, path, json.dumps({"method": method, "path": path, "body": body}))


class BulkOperations:
    """Bulk operations through a Loop client (its budget: each call is one request)."""

    def __init__(
        self,
        loop: LoopAPI,
        poll_s: float = POLL_S,
        wait_s: float = WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.loop, self.poll_s, self.wait_s, self.sleep = loop, poll_s, wait_s, sleep

    def submit(self, lines: list[Line]) -> dict[str, Any]:
        """Upload the lines as one JSONL file; the new operation."""
        data = "".join(line.text + "\n" for line in lines).encode()
        body = self.loop.request(
            "POST", PATH, files={"file": ("batch.jsonl", data, "application/x-ndjson")}
        )
        return _operation(body)

    def wait(self, operation: dict[str, Any]) -> dict[str, Any]:
        """The operation once its status is final (polled every `poll_s`)."""
        deadline = time.monotonic() + self.wait_s
        while operation.get("status") not in DONE:
            if time.monotonic() > deadline:
                raise LoadError(f"bulk operation {operation.get('id')} still not done")
            self.sleep(self.poll_s)
            operation = _operation(self.loop.request("GET", f"{PATH}/{int(operation['id'])}"))
        return operation

    def jobs(self, operation_id: int) -> Iterator[dict[str, Any]]:
        """Every job (one per line) of a finished operation, page by page."""
        return self.loop.list_path(f"{PATH}/{int(operation_id)}/jobs", "jobs")

    def run(self, lines: list[Line]) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
        """Submit, wait, and read the jobs: the final operation and its jobs by line number."""
        operation = self.wait(self.submit(lines))
        return operation, {int(job["line"]): job for job in self.jobs(int(operation["id"]))}


def _operation(body: Any) -> dict[str, Any]:
    inner = body.get("bulk_operation") if isinstance(body, dict) else None
    if not isinstance(inner, dict) or "id" not in inner:
        raise LoadError(f"expected a bulk_operation from Loop, got {body!r:.100}")
    return inner
