"""RetryPolicy (full jitter, Retry-After capped) and parse_retry_after."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

import pytest

from engine.errors import ConfigError
from engine.net import RetryPolicy, parse_retry_after

NOW = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_retry_backoff_full_jitter_is_bounded() -> None:
    policy = RetryPolicy(max_retries=10, backoff_s=0.5, max_backoff_s=8.0, rng=random.Random(3))
    for attempt in range(12):
        delays = [policy.delay(attempt) for _ in range(50)]
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not fixed
        assert min(delays) < ceiling / 2  # full jitter, not equal jitter
    assert policy.delay(0, retry_after=4.0) == 4.0
    assert policy.pause_after_429(0, None) >= 0.5
    assert policy.pause_after_429(0, 2.5) == 2.5


def test_retry_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0)
    assert policy.ceiling(10_000) == 5.0


@pytest.mark.parametrize(
    ("retry_after", "too_long"),
    [(None, False), (0.0, False), (300.0, False), (300.5, True), (3600.0, True)],
)
def test_retry_after_longer_than_the_cap(retry_after: float | None, too_long: bool) -> None:
    assert RetryPolicy(max_retry_after_s=300.0).too_long(retry_after) is too_long


@pytest.mark.parametrize(
    "field", ["max_retries", "backoff_s", "max_backoff_s", "max_retry_after_s"]
)
def test_retry_rejects_negative_settings(field: str) -> None:
    with pytest.raises(ConfigError, match="must not be negative"):
        RetryPolicy(**{field: -1})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("2", 2.0, id="whole seconds"),
        pytest.param("1.5", 1.5, id="a fraction"),
        pytest.param(" 0.25 ", 0.25, id="spaces"),
        pytest.param("-3", 0.0, id="negative is now"),
        pytest.param(
            email.utils.format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True),
            90.0,
            id="an HTTP date",
        ),
        pytest.param("Sun, 01 Nov 2026 11:00:00 GMT", 0.0, id="a past date"),
        pytest.param("soon", None, id="words"),
        pytest.param("nan", None, id="not a number"),
        pytest.param("inf", None, id="infinite"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds
