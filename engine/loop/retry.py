"""What the Loop client decides about an answer: how long to back off, what Retry-After says,
which of Loop's error bodies says what, and the counters it keeps.

Written here rather than with a retry library (tenacity, backoff), which is not a dependency:
the policy is a few lines, and it has to share its waits with the request budget (a 429 pauses
every client of the key, a 5xx only the caller).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 500
_NUMERIC_SEGMENT = re.compile(r"^\d+$")


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    max_retries: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("max_retries, backoff_s and max_backoff_s must not be negative")

    def ceiling(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number `attempt` + 1; the server's Retry-After wins."""
        if retry_after is not None:
            return retry_after
        return self.rng.uniform(0.0, self.ceiling(attempt))

    def pause_after_429(self, attempt: int, retry_after: float | None) -> float:
        """How long the whole budget pauses on a 429: Retry-After, else a jittered backoff of
        at least backoff_s (an instant retry would most likely meet another 429)."""
        if retry_after is not None:
            return retry_after
        return max(self.backoff_s, self.delay(attempt))


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


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


@dataclass
class ClientStats:
    """What a client sent and what came back. Thread-safe: every change goes through `add`;
    read single counters directly or take a consistent `snapshot()`."""

    sent: int = 0
    ok: int = 0
    rate_limited: int = 0
    retries: int = 0
    transient_failures: int = 0
    permanent_failures: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, endpoint: str | None = None, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)
            if endpoint is not None:
                self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def snapshot(self) -> ClientStats:
        with self._lock:
            return ClientStats(
                self.sent,
                self.ok,
                self.rate_limited,
                self.retries,
                self.transient_failures,
                self.permanent_failures,
                dict(self.by_endpoint),
            )
