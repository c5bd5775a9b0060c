"""The circuit breaker: down for a whole window, every request stops at once; any answer resets."""

from __future__ import annotations

import pytest

from engine.net.breaker import Breaker, TargetDown


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_the_window_and_names_the_last_reason() -> None:
    clock = Clock()
    breaker = Breaker(60, clock)
    breaker.failed("ConnectError")
    clock.now = 59
    breaker.check("PUT /products")
    breaker.failed("ReadTimeout")
    clock.now = 60
    with pytest.raises(TargetDown, match=r"PUT /products: no answer for 60 s .*last: ReadTimeout"):
        breaker.check("PUT /products")


def test_any_answer_closes_the_window() -> None:
    clock = Clock()
    breaker = Breaker(60, clock)
    breaker.failed("ConnectError")
    clock.now = 50
    breaker.answered()
    breaker.failed("HTTP 503")
    clock.now = 100
    breaker.check("x")  # down for 50 s only
    clock.now = 111
    with pytest.raises(TargetDown):
        breaker.check("x")


def test_without_a_window_the_breaker_never_opens() -> None:
    clock = Clock()
    breaker = Breaker(None, clock)
    breaker.failed("ConnectError")
    clock.now = 10**9
    breaker.check("x")
