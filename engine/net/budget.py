"""Request budgets: the one proactive rate limiter of every outbound HTTP client (Loop and the
sources), the rate grammar, and the process-wide registry that gives every client of one URL +
API key the same budget.

A limit of N requests in any window of W seconds (a sliding window: Loop counts 300/min per API
key) is never tripped by our own pace, and most of it is still used:

* GCRA (generic cell rate algorithm, i.e. an evenly spaced token bucket): grants are spaced
  `interval = (W + margin) / (N + 1 - burst)` apart, with up to `burst` at once after an idle
  spell, so any N + 1 consecutive grants span at least W + margin. (A plain bucket at N/W with
  burst B would allow N + B - 1 per window.) Long-run rate: 298/60.5 s (98.5 %) for 300/min
  with the default burst of 3; 19.8/s (99 %) for 20/s with burst 1. With burst 1 and no margin
  it is plain even spacing at N/W, which is what a source's `rate_limit` asks for.
* a sliding log of the last N requests: a request goes only once the request N before it is
  W + margin behind it. With `slot()` that request counts until its answer came back, so a
  request that reached the server late (network, a busy server, a descheduled thread) still
  cannot put N + 1 into one of its windows; slow answers lower the rate a little instead.
* `penalise()` on a 429 pauses every holder of the budget.

Written here rather than with a rate-limit library: pyrate-limiter (4.x) has a GCRA and a
sliding-window log, but as separate bucket kinds, with no way to apply both to one request, to
count a request until its answer is back, or to pause every holder after a 429; `limits` has
neither. The sliding-window guarantee above needs the burst and the margin folded into the
interval, and the whole algorithm is a few dozen lines. The clock and sleep are injectable so
the unit tests take no time.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple
from urllib.parse import urlsplit

from engine.errors import ConfigError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_WINDOWS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
}


class Rate(NamedTuple):
    """`limit` requests in any window of `window` seconds; a limit of 0 means no limit."""

    limit: int
    window: float

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def per_second(self) -> float:
        """The long-run rate (inf when unlimited)."""
        return self.limit / self.window if self.limit else float("inf")


def parse_rate(text: str) -> Rate:
    """'300/min' -> Rate(300, 60.0). The one grammar of every rate in a mapping or a flag:
    N/s, N/min or N/hour; '0/min' means unlimited; a fraction counts over a longer window
    with the same long-run rate ('1.5/s' -> Rate(3, 2.0), '0.5/s' -> Rate(1, 2.0))."""
    match = _RATE.match(text)
    if not match:
        raise ConfigError(
            f"rate limit {text!r} is not of the form N/s, N/min or N/hour "
            "(0 for no limit; fractions such as 0.5/s allowed)"
        )
    count = Fraction(match.group(1))
    window = _WINDOWS[match.group(2)] * count.denominator
    return Rate(count.numerator, float(window))


def default_burst(limit: int) -> int:
    """1 for small limits, up to 5 for large ones: each unit of burst costs one request per
    window of sustained rate, so it is kept small (300/min -> 3)."""
    return max(1, min(5, limit // 100))


def default_margin(window: float) -> float:
    """Seconds of slack on top of the window, for clocks and for `acquire()` callers whose
    requests reach the server a little late: 2 % of the window, at most 0.5 s (20 ms for N/s)."""
    return min(0.02 * window, 0.5)


@dataclass(frozen=True)
class BudgetStats:
    """A consistent copy of a budget's counters."""

    acquired: int
    waited_s: float
    penalties: int
    penalised_s: float


class _Hit:
    """When a request counted at the server, at the latest: its completion time (inf while in flight)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class RequestBudget:
    """A thread-safe, proactive limiter: `acquire()` (or `with budget.slot():`) blocks until a
    request may go."""

    def __init__(
        self,
        rate: str,
        burst: int | None = None,
        *,
        margin_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.limit, self.window = parse_rate(rate)
        self.burst = default_burst(self.limit) if burst is None else burst
        if self.limit and not 1 <= self.burst <= self.limit:
            raise ConfigError(f"burst {self.burst} must be between 1 and the limit {self.limit}")
        self.margin_s = default_margin(self.window) if margin_s is None else margin_s
        if self.margin_s < 0:
            raise ConfigError("margin_s must not be negative")
        slots = self.limit + 1 - self.burst
        self.interval = (self.window + self.margin_s) / slots if self.limit else 0.0
        self._tolerance = (self.burst - 1) * self.interval
        self._clock, self._sleep = clock, sleep
        self._cond = threading.Condition()
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._paused_until = float("-inf")
        self._hits: deque[_Hit] = deque(maxlen=max(self.limit, 1))
        self._acquired = self._penalties = 0
        self._waited = self._penalised = 0.0

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def sustained_rate(self) -> float:
        """Requests per second granted in a long run (inf when unlimited)."""
        return 1.0 / self.interval if self.interval else float("inf")

    def acquire(self) -> float:
        """Block until a request may go; the seconds waited. The request counts as sent now."""
        _, waited = self._grant(in_flight=False)
        return waited

    @contextmanager
    def slot(self) -> Iterator[None]:
        """acquire(), and the request counts until the block ends: a slow request (reaching
        the server late) then never lets the request N later into its window."""
        hit, _ = self._grant(in_flight=True)
        try:
            yield
        finally:
            with self._cond:
                hit.at = self._clock()
                self._cond.notify_all()

    def _grant(self, in_flight: bool) -> tuple[_Hit, float]:
        waited = 0.0
        arrived: float | None = None
        while True:
            with self._cond:
                now = self._clock()
                arrived = now if arrived is None else arrived
                at = self._earliest(now)
                if at is None:  # the request N back is still in flight
                    self._cond.wait(0.05)
                    continue
                if at - now <= 1e-9:  # not for float noise in tat - tolerance
                    return self._commit(arrived, now, in_flight, waited), waited
            self._sleep(at - now)
            waited += at - now

    def _earliest(self, now: float) -> float | None:
        at = max(now, self._paused_until)
        if not self.interval:
            return at
        at = max(at, self._tat - self._tolerance)
        if len(self._hits) == self.limit:
            oldest = self._hits[0].at
            if oldest == float("inf"):
                return None
            at = max(at, oldest + self.window + self.margin_s)
        return at

    def _commit(self, arrived: float, now: float, in_flight: bool, waited: float) -> _Hit:
        hit = _Hit(float("inf") if in_flight else now)
        if self.interval:
            # GCRA counts from the arrival: time lost waiting on the log (a slow answer) is
            # made up afterwards, as far as the log allows, instead of lowering the rate.
            self._tat = max(self._tat, arrived) + self.interval
            self._hits.append(hit)
        self._acquired += 1
        self._waited += waited
        return hit

    def penalise(self, seconds: float) -> None:
        """The server answered 429: nobody sends for `seconds`, then requests resume evenly spaced
        (no burst right after the pause)."""
        seconds = max(0.0, seconds)
        with self._cond:
            until = self._clock() + seconds
            self._paused_until = max(self._paused_until, until)
            if self.interval:
                self._tat = max(self._tat, until + self._tolerance)
            self._penalties += 1
            self._penalised += seconds

    def stats(self) -> BudgetStats:
        with self._cond:
            return BudgetStats(self._acquired, self._waited, self._penalties, self._penalised)

    def __repr__(self) -> str:
        return f"RequestBudget(rate={self.rate!r}, burst={self.burst}, margin_s={self.margin_s})"


# --- the process-wide registry ------------------------------------------------------------

# Weak values: a budget lives as long as some client holds it, so a long-lived process does not
# keep one per key forever, yet every live client of one key shares one budget.
_REGISTRY: weakref.WeakValueDictionary[tuple[str, str], RequestBudget] = (
    weakref.WeakValueDictionary()
)
_REGISTRY_LOCK = threading.Lock()


def key_fingerprint(api_key: str) -> str:
    """A short SHA-256 of the key: identifies it in the registry without keeping the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def origin(base_url: str) -> str:
    """scheme://host:port of a URL, lower-cased: servers limit per key, whatever the path."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def budget_for(base_url: str, api_key: str, rate: str) -> RequestBudget:
    """The one budget of this server (origin of base_url) and API key in this process.

    Asking again with another rate is a configuration error: two limits for one key would
    defeat the point of sharing."""
    key = (origin(base_url), key_fingerprint(api_key))
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = RequestBudget(rate)
            _REGISTRY[key] = found
        elif parse_rate(found.rate) != parse_rate(rate):
            raise ConfigError(
                f"{key[0]} already has a request budget of {found.rate} for this API "
                f"key; {rate} was asked for"
            )
        return found
