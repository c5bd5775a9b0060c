"""How the `http` connector sends a request: its own request budget, retries, Retry-After.

Written here rather than with a retry library (tenacity, backoff) because neither is a dependency
of the project and the whole policy is a few lines: exponential backoff with jitter on 429, 5xx,
timeouts and connection errors, a server's Retry-After (seconds or an HTTP date) taking
precedence, every other 4xx raised at once as an ExtractError with the status and a redacted
excerpt of the body.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.http_errors import HttpExtractError, Redactor, excerpt, shown_url
from engine.errors import ConfigError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
}


def parse_rate(text: str) -> float:
    """'120/min' -> 2.0 requests per second."""
    match = _RATE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"rate_limit {text!r}: expected a positive N/s, N/min or N/hour")
    return float(match.group(1)) / _UNIT_SECONDS[match.group(2)]


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class RequestBudget:
    """A proactive budget: requests are spaced evenly at the configured rate (a token bucket of
    depth one), so that the source's limit is never hit by our own pace."""

    def __init__(self, per_second: float | None, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self._sleep(wait)


@dataclass(frozen=True)
class RetryPolicy:
    """`retries:` of the source: how often and how long to wait between tries."""

    max: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> RetryPolicy:
        cfg = cfg or {}
        return cls(
            int(cfg.get("max", 5)),
            float(cfg.get("backoff_s", 0.5)),
            float(cfg.get("max_backoff_s", 30.0)),
            float(cfg.get("max_retry_after_s", 300.0)),
        )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the server sent one, else backoff * 2^attempt with equal jitter."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


class Sender:
    """Sends GET requests through one keep-alive client, within the budget, with retries."""

    def __init__(
        self,
        client: httpx.Client,
        retry: RetryPolicy,
        budget: RequestBudget,
        redact: Redactor,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.retry, self.budget = client, retry, budget
        self.redact, self._sleep = redact, sleep
        self.requests = 0
        self.retried = 0

    def get(self, url: str, params: Mapping[str, Any] | None) -> httpx.Response:
        attempt = 0
        while True:
            self.budget.acquire()
            self.requests += 1
            try:
                response = self.client.get(url, params=dict(params) if params else None)
                problem, retry_after = self._check(response)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem, retry_after = self._transport_problem(url, exc), None
            except HttpExtractError as exc:  # raised inside an auth flow (token endpoint)
                problem, retry_after = exc, None
            if problem is None:
                return response
            if not problem.transient or attempt >= self.retry.max:
                raise self._final(problem, attempt)
            if retry_after is not None and retry_after > self.retry.max_retry_after_s:
                raise self._final(
                    problem,
                    attempt,
                    f"; Retry-After {retry_after:.0f} s is more than retries.max_retry_after_s",
                )
            self._sleep(self.retry.delay(attempt, retry_after))
            attempt += 1
            self.retried += 1

    def _check(self, response: httpx.Response) -> tuple[HttpExtractError | None, float | None]:
        status = response.status_code
        if status < 400:
            return None, None
        response.read()
        where = f"GET {shown_url(response.request.url)}"
        text = self.redact(f"{where}: HTTP {status} {response.reason_phrase}: {excerpt(response)}")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return HttpExtractError(text.rstrip(": "), status=status), retry_after

    def _transport_problem(self, url: str, exc: httpx.HTTPError) -> HttpExtractError:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        target = shown_url(self.client.base_url.join(url))
        # status 599: no answer at all; transient like a 5xx
        return HttpExtractError(self.redact(f"GET {target}: {kind} ({type(exc).__name__})"), 599)

    def _final(self, problem: HttpExtractError, attempt: int, why: str = "") -> HttpExtractError:
        status = None if problem.status == 599 else problem.status
        tries = f" (after {attempt + 1} attempts)" if attempt else ""
        return HttpExtractError(f"{problem}{tries}{why}", status=status)
