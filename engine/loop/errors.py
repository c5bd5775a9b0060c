"""What Loop's answers mean to the client: Loop's own words from its error bodies, the endpoint
name of a path (the key of the per-endpoint counters), and a failed request as a LoadError."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import EngineError, LoadError, PermanentLoadError, TransientLoadError
from engine.net import RequestFailed

MAX_TEXT = 500
_NUMERIC_SEGMENT = re.compile(r"^\d+$")


REFUSED_KEY = frozenset({401, 403})


class LoopRefused(EngineError):
    """Loop refused the API key (401 or 403): no request can succeed, so the run stops at
    once (exit 1) and nothing is parked. Names Loop's URL, never the key."""


def load_error(failure: RequestFailed) -> LoadError:
    """Transient (retries spent, or a POST that may have been applied) or permanent (Loop's
    own text of any other 4xx, as the quarantine shows it)."""
    if not failure.transient:
        text = failure.detail if failure.status is not None else str(failure)
        return PermanentLoadError(text, failure.status, failure.body)
    if failure.exhausted:
        said = failure.detail if failure.status is None else f"{failure.status} {failure.detail}"
        message = f"{failure.label} failed after {failure.attempts} attempts: {said}"
        return TransientLoadError(message, failure.status, failure.body)
    return TransientLoadError(str(failure), failure.status, failure.body)


def loop_error_text(body: Any, status: int) -> str:
    """Loop's own words from any documented error body shape:

    * Laravel 422 `{"message", "errors": {field: [...]}}` -> "message: field: text; field: text"
    * `{"errors": {"message", "code"}}` and `{"error": {"code", "http_code", "message"}}`
    * `{"errors": "Unauthorized."}`, `{"message": ...}`, plain text.
    """
    if isinstance(body, dict):
        text = _from_dict(body)
        if text:
            return text
    if isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."
    if body not in (None, "", {}):
        return _clip(str(body))
    return f"HTTP {status} with no error text"


def _from_dict(body: dict[str, Any]) -> str:
    message = body.get("message")
    errors = body.get("errors")
    parts: list[str] = []
    if isinstance(errors, dict) and errors and all(isinstance(v, list) for v in errors.values()):
        parts = [f"{name}: {text}" for name, texts in errors.items() for text in texts]
    elif isinstance(errors, dict):
        message = message or _coded(errors)
    elif isinstance(errors, str | list):
        message = message or (errors if isinstance(errors, str) else "; ".join(map(str, errors)))
    if isinstance(body.get("error"), dict):
        message = message or _coded(body["error"])
    elif isinstance(body.get("error"), str):
        message = message or body["error"]
    head = str(message) if message else ""
    if parts:
        return _clip(f"{head}: {'; '.join(parts)}" if head else "; ".join(parts))
    return _clip(head)


def _coded(error: dict[str, Any]) -> str:
    """'message (CODE)' from {"message", "code"} or {"message", "http_code"}."""
    message = error.get("message")
    code = error.get("http_code") or error.get("code")
    if message and code and str(code) not in str(message):
        return f"{message} ({code})"
    return str(message or code or "")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def path_template(path: str) -> str:
    """'/products/external/p-1/product-variants' -> '/products/external/{external_id}/...';
    numeric segments become {id}: the key of the per-endpoint counters."""
    segments = path.split("?", 1)[0].split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        if i and segments[i - 1] == "external":
            out.append("{external_id}")
        elif _NUMERIC_SEGMENT.match(segment):
            out.append("{id}")
        else:
            out.append(segment)
    return "/".join(out)
