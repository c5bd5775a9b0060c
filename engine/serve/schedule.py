"""Scheduled work inside `etl serve`: the first sync, then the incremental sync, the returns
poll and reconcile at the mapping's `schedule:` intervals, one after the other on one thread.

Everything runs in the process that owns the state file (DuckDB lets one process write it), on
the context `etl serve` opened: its state, connector and Loop client (so Loop's one budget per
key is shared with the webhook work). A task that fails is logged with its reason and tried
again at its next time; it never stops the process. Not a home-made workflow engine: one
thread, fixed intervals, the same code `etl run`, `etl poll` and `etl reconcile` run.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError, EngineError

log = logging.getLogger(__name__)

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def interval(text: str) -> float:
    """'15m' -> 900.0 seconds ('30s', '2h', '1d')."""
    match = _INTERVAL.match(str(text))
    if match is None or int(match.group(1)) <= 0:
        raise ConfigError(f"schedule interval {text!r}: expected N followed by s, m, h or d")
    return float(int(match.group(1)) * _UNIT[match.group(2)])


@dataclass
class Task:
    """One scheduled task: its name, how often, and what it runs."""

    name: str
    every_s: float | None  # None: once, at start
    run: Callable[[], Any]
    next_at: float = 0.0
    runs: int = 0
    last_error: str | None = None


@dataclass
class Scheduler:
    """Runs its tasks on one background thread (a BackgroundJob of `etl serve`)."""

    tasks: list[Task]
    name: str = "schedule"
    tick_s: float = 0.5
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        now = time.monotonic()
        for task in self.tasks:
            task.next_at = now
        self._thread = threading.Thread(target=self._loop, name="etl-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            due = [t for t in self.tasks if t.next_at is not None and t.next_at <= time.monotonic()]
            for task in due:
                if self._stop.is_set():
                    return
                self._run(task)
            self._stop.wait(self.tick_s)

    def _run(self, task: Task) -> None:
        try:
            task.run()
            task.last_error = None
        except EngineError as exc:
            task.last_error = str(exc)
            log.warning("scheduled %s failed: %s", task.name, exc)
        except Exception as exc:  # a bug must not end the process: logged with its trace
            task.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled %s failed", task.name)
        task.runs += 1
        task.next_at = time.monotonic() + task.every_s if task.every_s else float("inf")
