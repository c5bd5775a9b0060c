"""Timestamps of the mapping language: `rfc3339` and the time zones it reads naive times in.

Output is always UTC `YYYY-MM-DDTHH:MM:SS+00:00`; fractions of a second are truncated (dropped,
never rounded up into the next second); epoch numbers of magnitude >= 10**11 are milliseconds,
smaller ones seconds; eight digits (text or int) are a date YYYYMMDD, never epoch seconds
(20240101 s is 1970-08-23: no source means that).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import RecordError

_UTC: Final = UTC
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=_UTC)
EPOCH_MS_THRESHOLD: Final = 10**11
"""Epoch numbers at least this large (in magnitude) are milliseconds, smaller ones seconds.

10**11 seconds is the year 5138; 10**11 milliseconds is 1973-03-03: no real timestamp of
either kind falls on the wrong side.
"""
_EPOCH_TEXT: Final = re.compile(r"[-+]?\d+(?:\.\d+)?", re.ASCII)


@lru_cache(maxsize=128)
def _cached_zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return _UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = "expected an IANA name like 'America/New_York'"
        raise RecordError(f"unknown time zone {name!r} ({hint})") from None


def zone(name: Any) -> tzinfo:
    """The time zone for an IANA name ('UTC', 'America/New_York'), cached; else RecordError."""
    if not isinstance(name, str):
        raise RecordError(f"unknown time zone {name!r}")
    return _cached_zone(name)


def rfc3339(
    value: Any,
    tz: str | None = None,
    format: str | None = None,
    *,
    default_zone: tzinfo = _UTC,
) -> str | None:
    """Any common timestamp as UTC `YYYY-MM-DDTHH:MM:SS+00:00`, fraction of a second dropped.

    Accepts ISO 8601 text with or without offset, `Z` or fraction ("2024-03-01T10:00:00Z",
    "2024-03-01 10:00:00", "2024-03-01"), RFC 2822 ("Fri, 01 Mar 2024 10:00:00 +0000"),
    epoch seconds or milliseconds as int, float, Decimal or digit text (magnitude >= 10**11
    means milliseconds; exactly eight digits are a date YYYYMMDD), and datetime/date objects. Text without an offset and dates are
    read in `tz` (an IANA name), else in the mapping's default time zone; an ambiguous local
    time (DST fall-back) is its first occurrence, a non-existent one (spring-forward gap)
    is read with the offset before the gap. The fraction is truncated: "...:59.999Z" stays
    :59. None -> None; anything else is a RecordError.

    With `format` (strptime directives, e.g. '%m/%d/%Y %I:%M %p'), text is read in exactly
    that format instead ("12/25/2024 3:04 pm"; %p in any case); a format without a time reads
    midnight; the same zone and daylight-saving rules apply unless the format has %z.
    """
    if value is None:
        return None
    moment = _moment(value, format, default_zone if tz is None else zone(tz))
    try:
        utc = moment if moment.tzinfo is _UTC else moment.astimezone(_UTC)
    except (OverflowError, ValueError):
        raise RecordError(f"timestamp out of range: {value!r}") from None
    return utc.replace(microsecond=0, tzinfo=None).isoformat() + "+00:00"


def _moment(value: Any, format: str | None, local: tzinfo) -> datetime:
    """The moment `value` means, by its type (naive ones in `local`); else RecordError."""
    if format is not None and type(value) is str:
        return _from_format(value, format, local)
    if type(value) is str:
        return _from_text(value, local)
    if isinstance(value, datetime):
        aware = value.tzinfo is not None and value.utcoffset() is not None
        return value if aware else value.replace(tzinfo=local)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=local)
    if type(value) is int and 10**7 <= value < 10**8:
        return _from_yyyymmdd(str(value), local, value)
    if type(value) in (int, float) or isinstance(value, Decimal):
        return _from_epoch(value, value)
    raise RecordError(f"not a timestamp: {value!r}")


def _from_text(text: str, local: tzinfo) -> datetime:
    s = text.strip()
    if s.isascii() and s.isdigit():
        if len(s) == 8:
            return _from_yyyymmdd(s, local, text)
        return _from_epoch(int(s), text)
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        if _EPOCH_TEXT.fullmatch(s):
            return _from_epoch(Decimal(s), text)
        try:
            moment = parsedate_to_datetime(s)
        except (ValueError, TypeError, IndexError):
            raise RecordError(f"not a timestamp: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=local)


def _from_format(text: str, layout: Any, local: tzinfo) -> datetime:
    if not isinstance(layout, str) or not layout:
        raise RecordError(f"rfc3339: format must be strptime text like '%m/%d/%Y', not {layout!r}")
    try:
        moment = datetime.strptime(text.strip(), layout)
    except ValueError as exc:
        raise RecordError(f"not a timestamp in format {layout!r}: {text!r} ({exc})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=local)


def _from_yyyymmdd(digits: str, local: tzinfo, original: Any) -> datetime:
    try:
        day = datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        raise RecordError(
            f"not a timestamp: {original!r} (8 digits are read as YYYYMMDD)"
        ) from None
    return day.replace(tzinfo=local)


def _from_epoch(number: int | float | Decimal, original: Any) -> datetime:
    if isinstance(number, float):
        number = Decimal(repr(number))
    if isinstance(number, Decimal) and not number.is_finite():
        raise RecordError(f"not a timestamp: {original!r}")
    seconds = math.floor(number)
    if abs(seconds) >= EPOCH_MS_THRESHOLD:
        seconds //= 1000  # floor(floor(x) / 1000) == floor(x / 1000)
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise RecordError(f"timestamp out of range: {original!r}") from None
