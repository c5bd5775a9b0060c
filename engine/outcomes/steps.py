"""Running one outcome step in the platform: an HTTP request (through the source's Sender:
its auth, budget, breaker), a file written atomically into an import folder, or SQL statements
in one transaction against the source's database.

Each runner first looks for the step's effect when an earlier attempt's result is unknown
(`again`): an HTTP `check`, the file's existence, a SQL `check` (always run first, in the same
transaction). Where nothing can tell, an HTTP step with an idempotency key is resent with the
same key, and any other fails (`Refused`) rather than risk acting twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import EngineError, RecordError
from engine.mapping.outcomes import CompiledStep
from engine.net.errors import RequestFailed
from engine.net.sender import Sender, parsed_body

Record = Callable[[Any, str | None], None]  # (request, idempotency key) -> recorded as sent
DEFAULT_HEADER = "Idempotency-Key"


class Refused(EngineError):
    """The platform refused the step, or it cannot be run safely: the step fails for good
    (until `etl outbox retry`); `answer` is what the platform said."""

    def __init__(self, message: str, answer: Any = None) -> None:
        super().__init__(message)
        self.answer = answer


class Unknown(EngineError):
    """The step may or may not have been done (no answer, retries spent): tried again later,
    with its check or its idempotency key."""


class Platform:
    """What steps use of the source: its Sender (http), its folder (files), its database."""

    def __init__(self, source: dict[str, Any], base_dir: Path, sender: Sender | None) -> None:
        self.source, self.base_dir, self.sender = source, base_dir, sender

    def folder(self, rendered: str) -> Path:
        path = Path(rendered)
        if path.is_absolute():
            return path
        root = self.source.get("root") or self.source.get("folder")
        return (self.base_dir / str(root) if root else self.base_dir) / path

    def database(self) -> tuple[str, Path]:
        if "database" not in self.source:
            raise Refused("a sql step needs the sql connector's `database`")
        path = Path(str(self.source["database"]))
        path = path if path.is_absolute() else self.base_dir / path
        suffix = path.suffix.lower()
        kind = str(self.source.get("type") or ("sqlite" if suffix in SQLITE else "duckdb"))
        return kind, path


SQLITE = {".sqlite", ".sqlite3", ".db"}


def run_step(
    step: CompiledStep, context: dict[str, Any], platform: Platform, again: bool, record: Record
) -> tuple[Any, str]:
    """Run the step (or find it done): (the answer, how it was confirmed)."""
    if step.kind == "http":
        return _http(step, context, platform, again, record)
    if step.kind == "file":
        return _file(step, context, platform, record)
    return _sql(step, context, platform, again, record)


# -- http -----------------------------------------------------------------------------------


def _http(
    step: CompiledStep, ctx: dict[str, Any], platform: Platform, again: bool, record: Record
) -> tuple[Any, str]:
    sender = platform.sender
    if sender is None:
        raise Refused("an http step needs the http connector (its base URL, auth and budget)")
    key = step.text("idempotency_key", ctx) if step.has("idempotency_key") else None
    if again:
        if step.has("check.path"):
            found = _check(step, ctx, sender)
            if found is not None:
                return found, "found in the platform by the step's check"
        if key is None and not step.has("check.path"):
            raise Refused(
                "an earlier attempt was sent and its result is unknown, and the step has "
                "neither an idempotency_key nor a check: look in the platform, then "
                "`etl outbox retry` if it was not done"
            )
    method = str(step.spec["method"])
    path = step.text("path", ctx)
    params = step.value("params", ctx) if step.has("params") else None
    body = step.value("body", ctx) if step.has("body") else None
    record({"method": method, "path": path, "params": params, "body": body}, key)
    headers = {str(step.spec.get("idempotency_header", DEFAULT_HEADER)): key} if key else None
    try:
        response = sender.request(
            method, path, params=params, json=body, headers=headers, retry=key is not None
        )
    except RequestFailed as failed:
        if failed.transient:
            raise Unknown(str(failed)) from None
        raise Refused(str(failed), failed.body) from None
    answer = parsed_body(response)
    expect = step.spec.get("expect")
    if expect and response.status_code not in expect:
        said = f"HTTP {response.status_code}, expected {', '.join(map(str, expect))}"
        raise Refused(f"{method} {path}: {said}", answer)
    return answer, f"HTTP {response.status_code}"


def _check(step: CompiledStep, ctx: dict[str, Any], sender: Sender) -> Any:
    """The record of this return the check finds in the platform (under `as`), or None."""
    params = step.value("check.params", ctx) if step.has("check.params") else None
    try:
        answer = parsed_body(sender.get(step.text("check.path", ctx), params=params))
    except RequestFailed as failed:
        raise Unknown(f"the check could not look: {failed}") from None
    found = step.evaluate("check.records", answer) if step.has("check.records") else answer
    wanted = {
        slot.removeprefix("check.match."): step.text(slot, ctx)
        for slot in step.texts
        if slot.startswith("check.match.")
    }
    for item in found if isinstance(found, list) else []:
        if isinstance(item, dict) and all(_text(item.get(k)) == v for k, v in wanted.items()):
            name = (step.spec.get("check") or {}).get("as")
            return {str(name): item} if name else item
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- files ----------------------------------------------------------------------------------


def _file(
    step: CompiledStep, ctx: dict[str, Any], platform: Platform, record: Record
) -> tuple[Any, str]:
    folder = platform.folder(step.text("folder", ctx))
    name = step.text("name", ctx)
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise RecordError(f"step {step.name!r}: name: {name!r} is not a file name")
    target = folder / name
    done = [target] + [
        folder / step.text(slot, ctx) for slot in step.texts if slot.startswith("also_done_if.")
    ]
    if any(path.exists() for path in done):
        return {"file": name}, "the file exists already"
    rows = step.value("rows", ctx)
    rows = rows if isinstance(rows, list) else [] if rows is None else [rows]
    if not all(isinstance(row, dict) for row in rows):
        raise RecordError(f"step {step.name!r}: rows: every row must be an object")
    data = _encode(rows, step.spec)
    record({"file": str(target), "rows": rows}, None)
    _write_once(folder, name, data)
    return {"file": name, "rows": len(rows)}, "written"


def _encode(rows: list[dict[str, Any]], spec: dict[str, Any]) -> bytes:
    encoding = str(spec.get("encoding", "utf-8"))
    if spec.get("format", "csv") == "jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        return text.encode(encoding)
    header: list[str] = []
    for row in rows:
        header += [str(k) for k in row if str(k) not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, delimiter=str(spec.get("delimiter", ",")))
    writer.writeheader()
    writer.writerows({str(k): ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue().encode(encoding)


def _write_once(folder: Path, name: str, data: bytes) -> None:
    """Write to a temporary file, sync it, then link it to its name: a reader never sees half
    a file, and an existing file is never overwritten (the link fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, folder / name)
    except FileExistsError:
        pass  # written meanwhile by an earlier attempt: it stands
    finally:
        temporary.unlink(missing_ok=True)


# -- sql ------------------------------------------------------------------------------------


def _sql(
    step: CompiledStep, ctx: dict[str, Any], platform: Platform, again: bool, record: Record
) -> tuple[Any, str]:
    check = step.spec.get("check")
    if again and check is None:
        raise Refused(
            "an earlier attempt may have committed, and the step has no check: look in the "
            "database, then `etl outbox retry` if it was not done"
        )
    planned = _statements(step, ctx)
    record({"statements": [{"sql": sql, "params": params} for sql, params in planned]}, None)
    kind, path = platform.database()
    try:
        return _transaction(kind, path, step, ctx, planned)
    except (sqlite3.Error, duckdb.Error) as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from None


def _statements(step: CompiledStep, ctx: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, statement in enumerate(step.spec["statements"]):
        items: list[Any] = [None]
        if "each" in statement:
            found = step.evaluate(f"statements.{i}.each", ctx)
            items = found if isinstance(found, list) else []
        for item in items:
            scope = ctx if item is None else {**ctx, "item": item}
            slot = f"statements.{i}.params"
            params = step.value(slot, scope) if step.has(slot) else {}
            out.append((str(statement["sql"]), dict(params or {})))
    return out


def _transaction(
    kind: str,
    path: Path,
    step: CompiledStep,
    ctx: dict[str, Any],
    planned: list[tuple[str, dict[str, Any]]],
) -> tuple[Any, str]:
    check = step.spec.get("check")
    db: Any = sqlite3.connect(path, isolation_level=None) if kind == "sqlite" else None
    db = db or duckdb.connect(str(path))
    try:
        db.execute("BEGIN IMMEDIATE" if kind == "sqlite" else "BEGIN TRANSACTION")
        if check is not None:
            params = step.value("check.params", ctx) if step.has("check.params") else {}
            if db.execute(str(check["sql"]), dict(params or {})).fetchone() is not None:
                db.execute("ROLLBACK")
                return {"statements": 0}, "found in the database by the step's check"
        for sql, params in planned:
            db.execute(sql, params)
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error, duckdb.Error):
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    return {"statements": len(planned)}, "committed"
