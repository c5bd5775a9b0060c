"""RequestBudget, the rate grammar and the shared registry: pacing on a fake clock (no real
time), the sliding window guarantee, penalties, counters, and one real-clock run from several
threads."""

from __future__ import annotations

import itertools
import threading
import time
from bisect import bisect_left
from math import inf

import pytest

from engine.errors import ConfigError
from engine.net.budget import (
    Rate,
    RequestBudget,
    budget_for,
    default_burst,
    key_fingerprint,
    parse_rate,
)


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def fake_budget(
    rate: str, burst: int | None = None, margin_s: float | None = None
) -> tuple[RequestBudget, FakeClock]:
    clock = FakeClock()
    return RequestBudget(rate, burst, margin_s=margin_s, clock=clock, sleep=clock.sleep), clock


def grants(budget: RequestBudget, clock: FakeClock, count: int) -> list[float]:
    out = []
    for _ in range(count):
        budget.acquire()
        out.append(clock.now)
    return out


def most_in_window(times: list[float], window: float) -> int:
    """The most grants in any half-open window [t, t + window), as Loop's sliding window counts."""
    ordered = sorted(times)
    return max(bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("300/min", (300, 60.0), id="per minute"),
        pytest.param("20/s", (20, 1.0), id="per second"),
        pytest.param(" 1000 / hour ", (1000, 3600.0), id="per hour with spaces"),
        pytest.param("0/min", (0, 60.0), id="zero is unlimited"),
        pytest.param("0.0/s", (0, 1.0), id="zero written as a fraction"),
        pytest.param(" 1.5 / sec ", (3, 2.0), id="a fraction counts over a longer window"),
        pytest.param("0.5/s", (1, 2.0), id="half a request a second"),
        pytest.param("2.25/min", (9, 240.0), id="quarters"),
    ],
)
def test_budget_parse_rate(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("120/min", 2.0), ("2/s", 2.0), ("3600/hour", 1.0), (" 1.5 / sec ", 1.5), ("0/min", inf)],
)
def test_budget_rate_per_second(text: str, per_second: float) -> None:
    rate = parse_rate(text)
    assert isinstance(rate, Rate) and rate.per_second == pytest.approx(per_second)
    assert rate.unlimited == (per_second == inf)


@pytest.mark.parametrize("text", ["300", "300/day", "-1/s", "1./s", ".5/s", "fast", ""])
def test_budget_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="N/s, N/min or N/hour"):
        parse_rate(text)


@pytest.mark.parametrize("rate", ["0/min", "0/s", "0/hour"])
def test_budget_zero_is_unlimited_for_every_budget(rate: str) -> None:
    budget, clock = fake_budget(rate, burst=1, margin_s=0.0)
    assert budget.unlimited and grants(budget, clock, 500)[-1] == 1000.0


def test_budget_burst_one_without_margin_is_even_spacing_at_a_fraction() -> None:
    """A source's `rate_limit: 1.5/s`: a request every 2/3 s, as it always was."""
    budget, clock = fake_budget("1.5/s", burst=1, margin_s=0.0)
    times = grants(budget, clock, 7)
    assert [round(b - a, 9) for a, b in itertools.pairwise(times)] == [round(2 / 3, 9)] * 6


def test_budget_spaces_requests_evenly() -> None:
    budget, clock = fake_budget("10/s", burst=1, margin_s=0.0)
    times = grants(budget, clock, 5)
    assert [round(t - times[0], 9) for t in times] == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_budget_burst_goes_at_once_then_paces() -> None:
    budget, clock = fake_budget("300/min", burst=3)
    times = grants(budget, clock, 5)
    assert times[:3] == [1000.0] * 3
    assert times[3] - times[2] == pytest.approx(budget.interval)
    assert times[4] - times[3] == pytest.approx(budget.interval)


@pytest.mark.parametrize(
    ("rate", "burst", "least_use"),
    [
        pytest.param("300/min", None, 0.97, id="Loop default, burst 3"),
        pytest.param("300/min", 5, 0.96, id="burst 5"),
        pytest.param("20/s", None, 0.95, id="20 per second, default burst 1"),
        # Each unit of burst costs one request per window: why the default burst is small.
        pytest.param("20/s", 4, 0.8, id="20 per second, burst 4"),
        pytest.param("1000/hour", None, 0.99, id="per hour"),
    ],
)
def test_budget_never_exceeds_the_sliding_window_yet_uses_the_rate(
    rate: str, burst: int | None, least_use: float
) -> None:
    budget, clock = fake_budget(rate, burst)
    limit, window = parse_rate(rate)
    count = 3 * limit
    times = grants(budget, clock, count)
    # Even if every grant reached Loop up to `margin` late or early, no window holds > limit.
    assert most_in_window(times, window + budget.margin_s - 1e-9) <= limit
    sustained = (count - budget.burst) / (times[-1] - times[0])
    assert sustained >= least_use * limit / window


def test_budget_idle_spell_refills_only_the_burst() -> None:
    budget, clock = fake_budget("300/min", burst=3)
    grants(budget, clock, 10)
    clock.sleep(120.0)
    times = grants(budget, clock, 4)
    assert times[:3] == [times[0]] * 3 and times[3] > times[2]


def test_budget_penalise_pushes_everyone_back_without_a_burst() -> None:
    budget, clock = fake_budget("300/min", burst=3)
    grants(budget, clock, 3)
    penalised_at = clock.now
    budget.penalise(5.0)
    times = grants(budget, clock, 3)
    assert times[0] == pytest.approx(penalised_at + 5.0)
    assert times[1] - times[0] == pytest.approx(budget.interval)
    stats = budget.stats()
    assert (stats.acquired, stats.penalties, stats.penalised_s) == (6, 1, 5.0)
    assert stats.waited_s == pytest.approx(5.0 + 2 * budget.interval)


def test_budget_penalty_during_a_sleep_delays_the_sleeper() -> None:
    clock = FakeClock()
    budget: RequestBudget

    def sleep(seconds: float) -> None:
        # Another thread saw a 429 while this one slept.
        if clock.now < 1000.5:
            budget.penalise(3.0)
        clock.sleep(seconds)

    budget = RequestBudget("10/s", 1, margin_s=0.0, clock=clock, sleep=sleep)
    budget.acquire()
    budget.acquire()
    assert clock.now >= 1000.0 + 3.0


def test_budget_unlimited_never_waits_but_honours_penalties() -> None:
    budget, clock = fake_budget("0/min")
    assert grants(budget, clock, 1000)[-1] == 1000.0
    assert budget.unlimited and budget.sustained_rate == float("inf")
    budget.penalise(2.0)
    budget.acquire()
    assert clock.now == 1002.0


def test_budget_default_burst_is_small() -> None:
    assert [default_burst(n) for n in (1, 20, 300, 1000, 100_000)] == [1, 1, 3, 5, 5]
    with pytest.raises(ConfigError, match="burst"):
        RequestBudget("10/s", burst=11)


def test_budget_threads_share_the_pace_on_a_real_clock() -> None:
    budget = RequestBudget("200/s", burst=2)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            budget.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 100 and budget.stats().acquired == 100
    assert time.monotonic() - started >= 98 * budget.interval
    assert most_in_window(stamps, 1.0) <= 200


def test_budget_registry_shares_one_budget_per_url_and_key() -> None:
    first = budget_for("http://loop.test:8080", "key-A", "300/min")
    assert budget_for("HTTP://loop.test:8080/api/2026-10", "key-A", "300/min") is first
    assert budget_for("http://loop.test:8080", "key-B", "300/min") is not first
    assert budget_for("http://other.test:8080", "key-A", "300/min") is not first
    with pytest.raises(ConfigError, match="already has a request budget") as caught:
        budget_for("http://loop.test:8080", "key-A", "20/s")
    assert "key-A" not in str(caught.value)
    assert "key-A" not in repr(first)
    assert key_fingerprint("key-A") != "key-A" and len(key_fingerprint("key-A")) == 16
