"""Time windows for Loop's Detailed Returns List: `from`..`to` ranges under 120 days, in
Loop's `YYYY-MM-DD HH:MM:SS` UTC, and next-page links that keep the query they came with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.errors import ConfigError

MAX_WINDOW = timedelta(days=120)  # a longer from..to range is a 422 at Loop
ONE_SECOND = timedelta(seconds=1)
LOOP_TIME = "%Y-%m-%d %H:%M:%S"


def utc(moment: datetime) -> datetime:
    """Aware in UTC, to the second (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def windows(
    start: datetime, end: datetime, span: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Consecutive from..to windows covering start..end, each shorter than `span`: Loop's times
    have whole seconds, so a window ends one second before the next begins (no overlap)."""
    start, end = utc(start), utc(end)
    if start > end:
        raise ConfigError(f"since ({start:{LOOP_TIME}}) is after until ({end:{LOOP_TIME}})")
    found: list[tuple[datetime, datetime]] = []
    while True:
        stop = min(start + span - ONE_SECOND, end)
        found.append((start, stop))
        if stop >= end:
            return found
        start = stop + ONE_SECOND


def with_params(url: str, params: Mapping[str, str]) -> str:
    """`url` with each of `params` its query lacks: a next page link that drops the filter,
    range or page size would otherwise list something else."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {key for key, _ in query}
    query += [(key, value) for key, value in params.items() if key not in have]
    return urlunsplit(parts._replace(query=urlencode(query)))
