"""A circuit breaker per target: once a target has not answered for a whole window, stop.

Retries are bounded per request, but a run sends thousands of requests: with the target down,
each one would spend its own retries (minutes each for a server that accepts connections and
never answers). The breaker counts time, not requests: from the first failure with no answer
(a refused or dropped connection, a timeout, a 5xx, a 408) until any answer comes back, the
target is "down"; past `window_s`, every request fails at once with TargetDown, naming the
last reason, so the run ends in about the window, whatever the number of records. A 429 or
any 4xx is an answer: the target is up. Written here (a few lines, one clock) rather than
with a library, as the retry loop it sits in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.errors import EngineError


class TargetDown(EngineError):
    """The target gave no answer for the whole outage window: fatal for the run (exit 1)."""


class Breaker:
    """Time since the target last stopped answering; `check()` raises once it is too long.

    `window_s` None: never opens (each request still has its own retries)."""

    def __init__(self, window_s: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._down_since: float | None = None
        self._why = ""
        self._lock = threading.Lock()

    def answered(self) -> None:
        with self._lock:
            self._down_since = None

    def failed(self, why: str) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = self._clock()
            self._why = why

    def check(self, where: str) -> None:
        """Raise TargetDown when the target has been down for the whole window."""
        with self._lock:
            since, why = self._down_since, self._why
        if self.window_s is None or since is None:
            return
        down = self._clock() - since
        if down >= self.window_s:
            raise TargetDown(
                f"{where}: no answer for {down:.0f} s (the outage window is "
                f"{self.window_s:.0f} s); last: {why}. Stopping: try again once it is back"
            )
