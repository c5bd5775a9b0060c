"""The proactive request budget for Loop's API, and the process-wide registry that gives every
client of one Loop URL + API key the same budget.

Loop counts N requests per API key in any window of W seconds (a sliding window, 300/min by
default). `RequestBudget` is a GCRA (generic cell rate algorithm, i.e. an evenly spaced token
bucket) tuned so that pacing alone never trips that window:

* grants are spaced `interval = (W + margin) / (N + 1 - burst)` apart, with up to `burst`
  granted at once after an idle spell. Any N + 1 consecutive grants then span at least
  `(N + 1 - burst) * interval = W + margin`, so no window of W holds more than N of them even
  when a request reaches Loop up to `margin` seconds later than another;
* the long-run rate is `(N + 1 - burst) / (W + margin)`: 298/61 s (97.7 %) for 300/min with the
  default burst of 3, 19.05/s (95 %) for 20/s with burst 1.

Written here rather than with a rate-limit library (pyrate-limiter, limits) because none is a
dependency, the sliding-window guarantee above needs the burst and the margin folded into the
interval (a plain bucket at N/W with burst B allows N + B - 1 per window), and the whole
algorithm is a dozen lines. The clock and sleep are injectable so the unit tests take no time.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.errors import ConfigError

DEFAULT_RATE = "300/min"
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_WINDOWS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(text: str) -> tuple[int, float]:
    """'300/min' -> (300, 60.0); '0/min' means unlimited. Same forms as the sandbox accepts."""
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"rate limit {text!r} is not of the form N/s, N/min or N/hour")
    return int(match.group(1)), float(_WINDOWS[match.group(2)])


def default_burst(limit: int) -> int:
    """1 for small limits, up to 5 for large ones: each unit of burst costs one request per
    window of sustained rate, so it is kept small (300/min -> 3)."""
    return max(1, min(5, limit // 100))


def default_margin(window: float) -> float:
    """Seconds of slack for requests that reach Loop later than they left: 5 % of the window,
    at most one second (50 ms for N/s, 1 s for N/min)."""
    return min(0.05 * window, 1.0)


@dataclass(frozen=True)
class BudgetStats:
    """A consistent copy of a budget's counters."""

    acquired: int
    waited_s: float
    penalties: int
    penalised_s: float


class RequestBudget:
    """A thread-safe, proactive limiter: `acquire()` blocks until a request may go."""

    def __init__(
        self,
        rate: str = DEFAULT_RATE,
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
        self._lock = threading.Lock()
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._paused_until = float("-inf")
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
        """Block until a request may go; the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                at = max(now, self._paused_until)
                if self.interval:
                    at = max(at, self._tat - self._tolerance)
                    self._tat = max(self._tat, now) + self.interval
            if at - now > 1e-9:  # not for float noise in tat - tolerance
                self._sleep(at - now)
                waited += at - now
            with self._lock:
                # A 429 seen while this thread slept pushes it back too: take a new slot.
                if self._clock() < self._paused_until:
                    continue
                self._acquired += 1
                self._waited += waited
                return waited

    def penalise(self, seconds: float) -> None:
        """Loop answered 429: nobody sends for `seconds`, then requests resume evenly spaced
        (no burst right after the pause)."""
        seconds = max(0.0, seconds)
        with self._lock:
            until = self._clock() + seconds
            self._paused_until = max(self._paused_until, until)
            if self.interval:
                self._tat = max(self._tat, until + self._tolerance)
            self._penalties += 1
            self._penalised += seconds

    def stats(self) -> BudgetStats:
        with self._lock:
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
    """scheme://host:port of a URL, lower-cased: Loop limits per key, whatever the version."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def budget_for(base_url: str, api_key: str, rate: str = DEFAULT_RATE) -> RequestBudget:
    """The one budget of this Loop (origin of base_url) and API key in this process.

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
                f"Loop at {key[0]} already has a request budget of {found.rate} for this API "
                f"key; {rate} was asked for"
            )
        return found
