"""The one retry policy of every outbound HTTP client: how often, how long between tries (full
jitter), and what a server's Retry-After says.

Written here rather than with tenacity: its stop / wait / retry strategies would express the
attempt count and the full-jitter backoff (`wait_random_exponential`), but not the rest of the
rule, which `engine.net.sender` applies per answer: a 429 pauses every holder of the shared
request budget (not only the caller's thread), a Retry-After longer than `max_retry_after_s`
fails at once, and a POST that may have been sent is not retried at all. Spread over
tenacity's callbacks that is harder to read than the loop it replaces; this policy is the few
lines of arithmetic that remain.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
from dataclasses import dataclass, field

from engine.errors import ConfigError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: retry n waits uniform(0, min(cap, base * 2**n)),
    unless the server said how long (Retry-After), which wins up to `max_retry_after_s`."""

    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        numbers = (self.max_retries, self.backoff_s, self.max_backoff_s, self.max_retry_after_s)
        if any(n < 0 for n in numbers):
            raise ConfigError(
                "max_retries, backoff_s, max_backoff_s and max_retry_after_s must not be negative"
            )

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

    def too_long(self, retry_after: float | None) -> bool:
        """Whether the server asks for a longer wait than this policy accepts."""
        return retry_after is not None and retry_after > self.max_retry_after_s


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (fractions accepted: '1.5') or
    an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
