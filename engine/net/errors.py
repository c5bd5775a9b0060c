"""The one error of the HTTP toolkit: a request that failed for good, with what its caller needs
to turn it into its own error (an ExtractError for a source, a LoadError for Loop)."""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError

RETRIED_STATUSES = frozenset({408, 429})


def retried_status(status: int) -> bool:
    """Whether an answer with this status is worth another try: 408, 429 and every 5xx."""
    return status in RETRIED_STATUSES or status >= 500


class RequestFailed(EngineError):
    """A request failed for good: an error answer that is not retried, retries spent, a
    Retry-After too long to wait, a POST that may have been sent, or no usable answer.

    `str()` is the whole message ("GET https://h/p: HTTP 503 ...: body (after 4 attempts)");
    the parts: `label` (method and URL without query, or the caller's endpoint name), `detail`
    (what the last answer said, or what went wrong), `status` (None: no answer), `body` (the
    parsed error body), `attempts`, `transient` (a later try might succeed) and `exhausted`
    (the retries were spent). Every text is already redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        label: str = "",
        detail: str = "",
        status: int | None = None,
        body: Any = None,
        attempts: int = 1,
        transient: bool = False,
        exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.label, self.detail = label, detail or message
        self.status, self.body = status, body
        self.attempts, self.transient, self.exhausted = attempts, transient, exhausted
