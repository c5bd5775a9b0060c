"""Bounded concurrency for batches of Loop calls: results stream back as they complete, and one
failing record never stops the batch (its exception is returned, not raised)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_concurrent(
    fn: Callable[[T], R], items: Iterable[T], concurrency: int
) -> Iterator[tuple[T, R | Exception]]:
    """(item, fn(item) or the Exception it raised) for every item, in COMPLETION order, with at
    most `concurrency` calls running at once.

    Items are read lazily (at most 2 x concurrency are in flight or queued), so a generator of
    a million records is never held in memory. Closing the iterator early cancels what has not
    started and waits for the calls already running. BaseExceptions (KeyboardInterrupt) are
    not swallowed."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    source = iter(items)
    window = 2 * concurrency
    pending: dict[Future[R], T] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="loop-call") as pool:
        try:
            for item in itertools.islice(source, window):
                pending[pool.submit(fn, item)] = item
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    outcome: R | Exception = _outcome(future)
                    yield item, outcome
                for item in itertools.islice(source, len(done)):
                    pending[pool.submit(fn, item)] = item
        finally:
            for future in pending:
                future.cancel()


def _outcome(future: Future[R]) -> R | Exception:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, Exception):
        return error
    raise error
