"""Prefetching pages on a background thread: order, errors, early stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from engine.pipeline.prefetch import prefetched


def test_prefetch_keeps_order_and_runs_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i

    it = prefetched(source())
    assert next(it) == 0
    deadline = time.monotonic() + 2
    while len(produced) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert produced[:2] == [0, 1]  # the next item was fetched before it was asked for
    assert len(produced) <= 3  # ... but not more than one ahead (plus the one being put)
    assert list(it) == [1, 2, 3, 4]


def test_prefetch_raises_the_source_error_in_the_consumer() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ValueError("page 2 failed")

    it = prefetched(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="page 2 failed"):
        next(it)


def test_prefetch_stops_and_closes_the_source_when_the_consumer_stops() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed.set()

    it = prefetched(source())
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed.wait(2)
    assert not any(t.name == "etl-prefetch" and t.is_alive() for t in threading.enumerate())
