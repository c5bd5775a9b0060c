"""The returnable window at run time: which records a run sends, and how the backfill reads.

An entity's `window:` (engine.mapping.model.Window) keeps the records whose timestamp lies in
the last N days, plus any record Loop already has (an update is never dropped). The first
backfill (no saved cursor) reads through `window.extract` merged into `extract:` (the source
lists the window newest first, when it can) and, with `older: later`, then reads everything
again for the older records (the window's own come back unchanged: no request). Its cursor is
saved only when the backfill completes: a newest-first page carries the highest cursor of the
whole source, so saving it midway would lose every older record of an interrupted run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import jmespath

from connectors.paging import cursor_config, cursor_key, parse_datetime
from engine.mapping.model import Window

WINDOW_START = "{window_start}"
WINDOW_START_EPOCH = "{window_start_epoch}"
SLICE_START, SLICE_END = "{slice_start}", "{slice_end}"
_MILLIS = 10**11  # epoch numbers above this are milliseconds (10**11 s is the year 5138)


def utc_now() -> dt.datetime:
    """The run's clock (RunOptions.now overrides it: tests move the window with it)."""
    return dt.datetime.now(dt.UTC)


def moment(value: Any) -> dt.datetime | None:
    """A timestamp (ISO 8601, or epoch seconds / milliseconds) as an aware datetime; None when
    the value is none of them."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _MILLIS else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _iso(when: dt.datetime) -> str:
    return when.replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Phase:
    """One read of the source in a run: the extract block, and whether only the window's
    records (plus those Loop has) are kept."""

    extract: dict[str, Any]
    windowed: bool


class WindowPlan:
    """One entity's window in one run: its phases, its filter and the backfill's cursor."""

    def __init__(self, window: Window, now: dt.datetime, *, backfill: bool) -> None:
        self.window, self.backfill, self.now = window, backfill, now
        self.start = now - dt.timedelta(days=window.days)
        self._field = jmespath.compile(window.field)
        self._best: tuple[Any, str] | None = None

    def inside(self, record: Any) -> bool:
        """Whether the record's timestamp is in the window (a record without one is: it is
        sent rather than silently dropped)."""
        value = self._field.search(record) if isinstance(record, Mapping) else None
        when = moment(value)
        return when is None or when >= self.start

    def phases(self, extract: Mapping[str, Any]) -> list[Phase]:
        """Incremental: the plain extract, filtered. Backfill: the window newest first (one
        read per slice, newest slice first), then (older: later) every record, so the older
        ones follow."""
        plain = dict(extract)
        if not self.backfill:
            return [Phase(plain, windowed=True)]
        out = [Phase(self.backfill_extract(plain, piece), windowed=True) for piece in self.slices()]
        return [*out, Phase(plain, windowed=False)] if self.window.older == "later" else out

    def slices(self) -> list[tuple[dt.datetime, dt.datetime | None]]:
        """`slice_days`-long pieces of the window, newest first, as (start, end): the newest
        has no end (what is created while the backfill runs is in it), each other ends where
        the next newer one starts. One piece, the whole window, without `slice_days`."""
        days = self.window.slice_days
        if not days:
            return [(self.start, None)]
        out: list[tuple[dt.datetime, dt.datetime | None]] = []
        end: dt.datetime | None = None
        edge = self.now
        while edge > self.start or not out:
            low = max(self.start, edge - dt.timedelta(days=days))
            out.append((low, end))
            end = edge = low
        return out

    def backfill_extract(
        self,
        extract: Mapping[str, Any],
        piece: tuple[dt.datetime, dt.datetime | None] | None = None,
    ) -> dict[str, Any]:
        """`extract:` with `window.extract` merged in, its params' placeholders filled for a
        slice of the window (the whole window by default); a param that is only
        `{slice_end}` is left out for the newest slice (it has no end)."""
        merged = {**extract, **self.window.extract}
        low, high = piece if piece is not None else (self.start, None)
        params = merged.get("params")
        if isinstance(params, Mapping):
            merged["params"] = {
                k: self._fill(v, low, high)
                for k, v in params.items()
                if not (v == SLICE_END and high is None)
            }
        return merged

    def _fill(self, value: Any, low: dt.datetime, high: dt.datetime | None) -> Any:
        if not isinstance(value, str):
            return value
        epoch = int(self.start.timestamp())
        if value == WINDOW_START_EPOCH:
            return epoch
        value = value.replace(WINDOW_START_EPOCH, str(epoch)).replace(
            WINDOW_START, _iso(self.start)
        )
        value = value.replace(SLICE_START, _iso(low))
        return value.replace(SLICE_END, _iso(high)) if high is not None else value

    def see(self, cursor: str | None, extract: Mapping[str, Any]) -> None:
        """Keep the highest page cursor of the backfill (compared by the cursor's type)."""
        if cursor is None:
            return
        kind = str(cursor_config(extract.get("cursor")).get("type", "auto"))
        key = cursor_key(cursor, kind)
        if self._best is None or key > self._best[0]:
            self._best = (key, cursor)

    @property
    def cursor(self) -> str | None:
        """The cursor a completed backfill saves: the highest one its pages carried."""
        return None if self._best is None else self._best[1]

    def kept(
        self,
        records: list[Any],
        key: Callable[[Any], str | None],
        known: Callable[[list[str]], Collection[str]] | None,
    ) -> list[Any]:
        """The records a windowed phase sends, in their order: the window's, and those Loop
        has (`known` answers which keys of the records outside it the state has; None when it
        has none of the entity: then `key` is never called)."""
        inside = [self.inside(r) for r in records]
        if all(inside) or known is None:
            return [r for r, keep in zip(records, inside, strict=True) if keep]
        keys = [None if keep else key(r) for r, keep in zip(records, inside, strict=True)]
        has = set(known([k for k in keys if k is not None]))
        return [r for r, keep, k in zip(records, inside, keys, strict=True) if keep or k in has]
