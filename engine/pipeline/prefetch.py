"""Fetch the next page while the current one is loaded: extraction overlaps Loop's pacing.

Only for connectors that allow their `extract()` generator to run on another thread
(`Connector.prefetch`); one page is fetched ahead, so memory stays at about two pages.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(source: Iterator[T], ahead: int = 1) -> Iterator[T]:
    """Items of `source`, produced on a background thread at most `ahead` items early.

    An exception in the source is raised here; stopping early (close, or the consumer
    breaking out) stops the thread and closes the source.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    worker = threading.Thread(
        target=_produce, args=(source, slots, stop), name="etl-prefetch", daemon=True
    )
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


def _produce(source: Iterator[T], slots: queue.Queue[object], stop: threading.Event) -> None:
    """The background thread: every item into `slots` until the source ends or `stop` is set,
    then _DONE (or the source's exception); the source is closed either way."""
    try:
        for item in source:
            while not stop.is_set():
                try:
                    slots.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                break
        slots.put(_DONE)
    except BaseException as exc:  # handed to the consumer, raised there
        slots.put(_Failed(exc))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
