"""The value functions of the mapping language, as plain Python shared by Jinja and JMESPath.

Every function takes the value first (`value | cents('JPY')` in Jinja is
`cents(value, 'JPY')`), passes None through as None where a null field should simply be left
out of the payload, and raises RecordError naming the offending value on bad input, so that
one bad record is quarantined and the run goes on.

Choices, documented once here and in each docstring:

- money (`cents`): exact decimal arithmetic, never binary floats; a float is read through its
  shortest repr (19.99 -> "19.99"); more decimals than the currency has are rounded half up
  (half away from zero: "0.125" -> 13, "-0.125" -> -13).
- time (`rfc3339`): output is always UTC `YYYY-MM-DDTHH:MM:SS+00:00`; fractions of a second
  are truncated (dropped, never rounded up into the next second); epoch numbers of magnitude
  >= 10**11 are milliseconds, smaller ones seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from engine.errors import ConfigError, RecordError
from engine.mapping.currencies import DECIMAL_CONTEXT as _CTX
from engine.mapping.currencies import MAX_TEXT as _MAX_TEXT
from engine.mapping.currencies import cents as cents
from engine.mapping.currencies import decimal as decimal
from engine.mapping.numbers import parse_number
from engine.mapping.timestamps import EPOCH_MS_THRESHOLD as EPOCH_MS_THRESHOLD
from engine.mapping.timestamps import rfc3339 as rfc3339
from engine.mapping.timestamps import zone as zone


class _Missing:
    """The type of MISSING: 'no default given', as opposed to a default of None."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_ONE: Final = Decimal(1)

# -- lookup ---------------------------------------------------------------------------------

# Per table, its keys by string form. Tables are mapping config (vars), never mutated; the
# entry keeps the table alive, so its id cannot be reused while cached.
_INDEXES: dict[tuple[int, bool], tuple[Mapping[Any, Any], dict[str, Any]]] = {}


def enum(value: Any, table: Any, default: Any = MISSING, ignore_case: bool = False) -> Any:
    """The value looked up in a table: `status | enum(vars.order_status, default='unknown')`.

    Keys also match by string form, so YAML keys that are numbers or booleans match text
    ("1" finds key 1, "true" finds key true) and the value 1 finds key "1". With
    `ignore_case=True` keys and value are compared casefolded. An unmapped value (None
    included, unless the table has a null key) gives `default` when one is given, else a
    RecordError naming the value and the allowed keys, sorted.
    """
    if not isinstance(table, Mapping):
        raise RecordError(f"enum table must be a mapping, got {table!r}")
    if not ignore_case and type(value) is str:
        found = table.get(value, MISSING)
        if found is not MISSING:
            return found
    found = _index(table, ignore_case).get(_key_text(value, ignore_case), MISSING)
    if found is not MISSING:
        return found
    if default is not MISSING:
        return default
    allowed = ", ".join(sorted(repr(key) for key in table))
    raise RecordError(f"unmapped value {value!r} (allowed: {allowed})")


def _index(table: Mapping[Any, Any], fold: bool) -> dict[str, Any]:
    cached = _INDEXES.get((id(table), fold))
    if cached is not None and cached[0] is table:
        return cached[1]
    index: dict[str, Any] = {}
    for key, mapped in table.items():
        index.setdefault(_key_text(key, fold), mapped)
    if len(_INDEXES) >= 256:
        _INDEXES.clear()
    _INDEXES[(id(table), fold)] = (table, index)
    return index


def _key_text(value: Any, fold: bool) -> str:
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        text = str(int(value))
    else:
        text = str(value)
    return text.casefold() if fold else text


# -- text and lists -------------------------------------------------------------------------


def to_string(value: Any) -> str | None:
    """Text form as JMESPath's to_string gives it: 12 -> "12", true -> "true"; None -> None."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)  # the common case (platform ids): no further checks
    return None if value is None else _text(value)


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def split(value: Any, sep: str = ",") -> list[str] | None:
    """Text split on `sep`, each part stripped, empty parts dropped: "a, b," -> ["a", "b"]."""
    if value is None:
        return None
    if type(value) is not str or not isinstance(sep, str) or not sep:
        raise RecordError(f"cannot split {value!r} on {sep!r}")
    return [part for part in (piece.strip() for piece in value.split(sep)) if part]


def join(value: Any, sep: str = ",") -> str | None:
    """List items as text joined by `sep`, null items skipped: [1, null, "b"] -> "1,b"."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not isinstance(sep, str):
        raise RecordError(f"cannot join {value!r} with {sep!r}")
    return sep.join([_text(item) for item in value if item is not None])


def _text_only(name: str, method: Callable[[str], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        if value is None:
            return None
        if type(value) is not str:
            raise RecordError(f"{name} needs text, got {value!r}")
        return method(value)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Text {name}ed (str.{name}); None -> None; not text is a RecordError."
    return apply


lower = _text_only("lower", str.lower)
upper = _text_only("upper", str.upper)
strip = _text_only("strip", str.strip)


def default(value: Any, fallback: Any) -> Any:
    """`fallback` when the value is None or "", else the value (0 and false are kept)."""
    return fallback if value is None or (type(value) is str and not value) else value


def first(value: Any) -> Any:
    """The first item that is not null, None for an empty (or all-null) list."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise RecordError(f"first needs a list, got {value!r}")
    return next((item for item in value if item is not None), None)


# -- numbers --------------------------------------------------------------------------------


def to_int(value: Any) -> int | None:
    """An exact whole number: "1,204" -> 1204, "12.0" -> 12, 12.0 -> 12; "12.5" is a RecordError.

    Text is read in the one number grammar (engine.mapping.numbers), as `cents` reads it.
    """
    if value is None or type(value) is int:
        return value
    number: Decimal | None = None
    if type(value) is str:
        if len(value) <= 18 and value.isascii() and value.isdigit():
            return int(value)  # the common case ("12"): no grammar needed
        number = parse_number(value)
    elif isinstance(value, Decimal):
        number = value
    elif type(value) is float and math.isfinite(value):
        number = Decimal(repr(value))
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise RecordError(f"not a whole number: {value!r}")
    if abs(number.adjusted()) > 30:  # no record carries a 31-digit count: refuse, do not compute
        raise RecordError(f"whole number out of range: {value!r}")
    return int(number)


def _decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is int:
        return Decimal(value)
    number: Decimal | None
    if kind is float:
        number = Decimal(repr(value))
    elif kind is Decimal:
        number = value
    elif kind is str:
        number = parse_number(value)
    else:
        number = None
    if number is None or not number.is_finite():
        raise RecordError(f"not a number: {value!r}")
    return number


def to_number(value: Any) -> int | float | None:
    """A JSON number from a number or numeric text: "1,204" -> 1204, "12.5" -> 12.5; None -> None.

    Text is read in the one number grammar (engine.mapping.numbers), as `cents` reads it.
    """
    if value is None or type(value) is int:
        return value
    number = _decimal(value)
    if type(value) is float:
        return value
    # Integer syntax gives an int, like JSON: "12" -> 12, "12.0" and "1e3" -> float.
    is_int_syntax = number.as_tuple().exponent == 0 and "e" not in str(value).lower()
    if is_int_syntax:
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise RecordError(f"number out of range: {value!r}")
    return result


def round_(value: Any, ndigits: int = 0) -> int | float | None:
    """Decimal rounding half up (away from zero): 2.5 -> 3, round(2.675, 2) -> 2.68.

    Returns an int when ndigits <= 0 (round(1234, -2) -> 1200), else a float (JSON has no
    decimals). Numbers and numeric text; None -> None.
    """
    if value is None:
        return None
    if type(ndigits) is not int:
        raise RecordError(f"round: ndigits must be a whole number, got {ndigits!r}")
    number = _decimal(value)
    try:
        rounded = number.quantize(_ONE.scaleb(-ndigits), context=_CTX)
    except InvalidOperation:
        raise RecordError(f"round: out of range: {value!r}") from None
    return int(rounded) if ndigits <= 0 else float(rounded)


def from_json(value: Any) -> Any:
    """JSON text -> its value ('{"a": 1}' -> {'a': 1}); None -> None; bad JSON is a RecordError.
    For sources that can only hand nested data over as text (a SQL column of JSON)."""
    if value is None or not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        shown = repr(value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT])
        raise RecordError(f"not JSON: {shown} ({exc})") from None


# -- the registry ---------------------------------------------------------------------------

FILTER_DOCS: Final[dict[str, tuple[str, str]]] = {
    "cents": (
        "decimal amount -> exact integer of minor units, currency-aware, half-up rounding",
        "{{ price | cents }}  {{ price | cents('JPY') }}  '19.99' -> 1999",
    ),
    "decimal": (
        "integer minor units -> decimal text in the currency's digits (the reverse of cents)",
        "{{ refund_minor | decimal(currency) }}  3165 -> '31.65'",
    ),
    "default": ("fallback when the value is null or empty text", "{{ sku | default('n/a') }}"),
    "enum": (
        "lookup in a table, with an optional default and ignore_case; unmapped values reported",
        "{{ status | enum(vars.order_status, default='unknown') }}",
    ),
    "first": ("first non-null item of a list, null for an empty list", "{{ emails | first }}"),
    "from_json": ("JSON text -> its value (lists and objects)", "{{ lines_json | from_json }}"),
    "join": ("list items as text joined by a separator (default ',')", "{{ tags | join(', ') }}"),
    "lower": ("text in lower case", "{{ email | lower }}"),
    "rfc3339": (
        "any common timestamp, or text in an explicit strptime format -> UTC"
        " YYYY-MM-DDTHH:MM:SS+00:00, fraction dropped",
        "{{ created_at | rfc3339 }}  {{ placed | rfc3339('Europe/Paris') }}"
        "  {{ placed | rfc3339(format='%m/%d/%Y %I:%M %p') }}",
    ),
    "round": ("decimal rounding half up; int for 0 digits", "{{ weight | round(2) }}"),
    "split": ("text split on a separator (default ','), parts stripped", "{{ tags | split }}"),
    "strip": ("text without surrounding whitespace", "{{ name | strip }}"),
    "to_int": (
        "exact whole number; '1,204' -> 1204, '12.0' -> 12, '12.5' is an error",
        "{{ qty | to_int }}",
    ),
    "to_number": ("number from numeric text; '1,204.5' -> 1204.5", "{{ weight | to_number }}"),
    "to_string": ("text form of a value; 12 -> '12', true -> 'true'", "{{ id | to_string }}"),
    "upper": ("text in upper case", "{{ country | upper }}"),
}

FILTER_NAMES: Final[tuple[str, ...]] = tuple(sorted(FILTER_DOCS))

_FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "cents": cents,
    "decimal": decimal,
    "default": default,
    "enum": enum,
    "first": first,
    "from_json": from_json,
    "join": join,
    "lower": lower,
    "rfc3339": rfc3339,
    "round": round_,
    "split": split,
    "strip": strip,
    "to_int": to_int,
    "to_number": to_number,
    "to_string": to_string,
    "upper": upper,
}


def describe(name: str) -> str:
    """One line for the reference: `cents: <summary>; e.g. <example>`."""
    summary, example = FILTER_DOCS[name]
    return f"{name}: {summary}; e.g. {example}"


def make_filters(default_timezone: str = "UTC") -> dict[str, Callable[..., Any]]:
    """The filters by name; naive timestamps are read in `default_timezone` (IANA name).

    An unknown time zone is a ConfigError: it comes from the mapping, not from a record.
    """
    try:
        local = zone(default_timezone)
    except RecordError as exc:
        raise ConfigError(f"default time zone: {exc.message}") from None

    def rfc3339_local(
        value: Any,
        tz: str | None = None,
        format: str | None = None,
    ) -> str | None:
        return rfc3339(value, tz, format, default_zone=local)

    rfc3339_local.__name__ = rfc3339_local.__qualname__ = "rfc3339"
    rfc3339_local.__doc__ = rfc3339.__doc__
    return {**_FILTERS, "rfc3339": rfc3339_local}
