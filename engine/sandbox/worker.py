"""One background thread per sandbox that runs queued jobs (return processing, webhook attempts).

Jobs may be due later (a retry after its backoff) and `wait_idle` blocks until nothing is queued
or running, which is what lets tests wait for deliveries instead of sleeping. Written by hand
because the standard library's `sched` cannot be woken when an earlier job is added while it
waits, and a thread pool has no notion of "due at" or of idleness.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
Job = Callable[[], None]


class Worker:
    """A delayed job queue drained by one daemon thread, started on the first job."""

    def __init__(self, name: str = "sandbox-worker") -> None:
        self._name = name
        self._jobs: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = 0
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, job: Job, delay_s: float = 0.0) -> None:
        """Queues `job` to run after `delay_s` seconds; never blocks on the job itself."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._jobs, (time.monotonic() + delay_s, next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs) + self._running

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Blocks until no job is queued or running (True), or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._jobs or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def clear(self) -> None:
        """Drops every queued job (a job already running finishes)."""
        with self._cond:
            self._jobs.clear()
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._stopped:
                if self._jobs:
                    due = self._jobs[0][0] - time.monotonic()
                    if due <= 0:
                        self._running += 1
                        return heapq.heappop(self._jobs)[2]
                    self._cond.wait(due)
                else:
                    self._cond.wait()
            return None

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                job()
            except Exception:  # a failing job must not kill the worker
                log.exception("sandbox background job failed")
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()
