"""Shared by every connector: cursor comparison, JSON-friendly values, and cutting records into pages.

The cursor contract (what `Page.cursor` means) lives here so that the three connectors agree:

- A cursor is a string (it is stored in the state database), compared by its `type`:
  `auto` (the default: numbers as numbers, everything else as strings), `string` (lexical: ISO 8601 timestamps in one format and zone compare correctly),
  `number` (integers and decimals, compared exactly) or `datetime` (ISO 8601, naive taken as UTC).
- `Page.cursor` is the highest cursor value among the records yielded so far. On an *ordered*
  source (records arrive sorted by the cursor field, e.g. a SQL query with ORDER BY) every page
  carries it, so a crash loses nothing that was not yet durable. On an *unordered* source a later
  page may still hold older records, so only the last page carries the cursor: the watermark
  advances only when the whole extract is durable. A run cut short by `limit` on an unordered
  source never advances the cursor, for the same reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import Page
from engine.errors import ExtractError

# The `cursor.type` values (schemas/connectors/common.schema.json#/$defs/cursor_type).
CURSOR_TYPES = ("auto", "string", "number", "datetime")


def parse_datetime(value: str) -> dt.datetime:
    """ISO 8601 (a trailing Z accepted); a naive timestamp is taken as UTC."""
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def cursor_key(value: Any, kind: str) -> Any:
    """The comparable form of a cursor value of the given type; raises ValueError when it has none."""
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value if kind != "string" else value.isoformat()
    kind = _resolved(kind, value)
    if kind == "number":
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    if kind == "datetime":
        return parse_datetime(value.isoformat() if isinstance(value, dt.date) else str(value))
    return cursor_string(value)


def _resolved(kind: str, value: Any) -> str:
    """`auto` compares numbers as numbers, dates as dates and anything else as strings."""
    if kind != "auto":
        return kind
    if isinstance(value, dt.date):
        return "datetime"
    numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    return "number" if numeric else "string"


def cursor_string(value: Any) -> str:
    """How a cursor value is stored: ISO 8601 for dates, plain digits for numbers."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class CursorTracker:
    """Keeps the highest cursor value seen, compared by the cursor's type."""

    def __init__(self, field: str | None, kind: str = "auto") -> None:
        self.field = field
        self.kind = kind
        self._best: Any = None
        self._best_value: Any = None

    def see(self, record: Mapping[str, Any]) -> None:
        if self.field is None:
            return
        value = record.get(self.field)
        if value is None or value == "":
            return
        try:
            key = cursor_key(value, self.kind)
            if self._best is None or key > self._best:
                self._best, self._best_value = key, value
        except (ValueError, TypeError) as exc:
            raise ExtractError(
                f"cursor field {self.field!r}: {value!r} cannot be compared "
                f"with {self._best_value!r} as {self.kind}"
            ) from exc

    def newer(self, record: Mapping[str, Any], since: str | None) -> bool:
        """Whether the record's cursor value is strictly above `since` (always true without one)."""
        if self.field is None or since is None:
            return True
        value = record.get(self.field)
        if value is None or value == "":
            return False
        try:
            kind = _resolved(self.kind, value)
            return bool(cursor_key(value, kind) > cursor_key(since, kind))
        except (ValueError, TypeError) as exc:
            raise ExtractError(
                f"cursor field {self.field!r}: cannot compare {value!r} "
                f"with the saved cursor {since!r} as {self.kind}"
            ) from exc

    @property
    def value(self) -> str | None:
        return None if self._best_value is None else cursor_string(self._best_value)


def cursor_config(value: object) -> dict[str, Any]:
    """An extract's `cursor:` as a dict: the shorthand `cursor: FIELD` is `{field: FIELD}`."""
    if isinstance(value, str):
        return {"field": value}
    return dict(value) if isinstance(value, Mapping) else {}


def paginate(
    records: Iterable[dict[str, Any]],
    page_size: int,
    tracker: CursorTracker,
    *,
    ordered: bool,
    limit: int | None = None,
) -> Iterator[Page]:
    """Cuts a record stream into pages of at most `page_size`, stopping after `limit` records.

    One page is held back (a look-ahead) so that the last page of an unordered source can carry
    the cursor: two pages in memory at most.
    """
    pending: list[dict[str, Any]] | None = None
    truncated = False
    for chunk in _chunks(records, page_size, limit):
        if pending is not None:
            yield Page(pending, tracker.value if ordered else None)
        for record in chunk.records:
            tracker.see(record)
        pending, truncated = chunk.records, chunk.truncated
    if pending is not None:
        yield Page(pending, tracker.value if ordered or not truncated else None)


class _Chunk:
    __slots__ = ("records", "truncated")

    def __init__(self, records: list[dict[str, Any]], truncated: bool) -> None:
        self.records = records
        self.truncated = truncated


def _chunks(records: Iterable[dict[str, Any]], size: int, limit: int | None) -> Iterator[_Chunk]:
    """Never pulls a record past `limit`: an HTTP source would fetch one page too many."""
    if limit is not None and limit <= 0:
        return
    buffer: list[dict[str, Any]] = []
    for seen, record in enumerate(records, start=1):
        buffer.append(record)
        if limit is not None and seen >= limit:
            yield _Chunk(buffer, truncated=True)
            return
        if len(buffer) >= size:
            yield _Chunk(buffer, truncated=False)
            buffer = []
    if buffer:
        yield _Chunk(buffer, truncated=False)


def json_friendly(value: Any) -> Any:
    """A database value as JSON can carry it, exactly: Decimal as its decimal string (the
    `cents` filter takes it without going through a float), dates and times as ISO 8601,
    bytes as base64, UUIDs as strings, NaN and infinities as None; lists and dicts recursively."""
    if value is None or isinstance(value, bool | int | str):
        return value
    converter = _CONVERTERS.get(type(value))
    if converter is not None:
        return converter(value)
    if isinstance(value, Mapping):
        return {str(k): json_friendly(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_friendly(v) for v in value]
    return str(value)


def _float(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    float: _float,
    Decimal: str,
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    dt.time: dt.time.isoformat,
    dt.timedelta: lambda v: str(v.total_seconds()),
    uuid.UUID: str,
    bytes: lambda v: base64.b64encode(v).decode("ascii"),
    bytearray: lambda v: base64.b64encode(bytes(v)).decode("ascii"),
    memoryview: lambda v: base64.b64encode(bytes(v)).decode("ascii"),
}
