"""The value functions of the mapping language (engine.mapping.filters, currencies)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ConfigError, RecordError
from engine.mapping.currencies import MINOR_UNITS, minor_units
from engine.mapping.filters import (
    EPOCH_MS_THRESHOLD,
    FILTER_DOCS,
    FILTER_NAMES,
    MISSING,
    describe,
    make_filters,
)

F = make_filters()
NY = make_filters("America/New_York")


# -- cents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        pytest.param("19.99", None, 1999, id="plain decimal text"),
        pytest.param("12", None, 1200, id="whole number text"),
        pytest.param("12.5", None, 1250, id="one decimal"),
        pytest.param(".5", None, 50, id="no leading zero"),
        pytest.param("5.", None, 500, id="trailing point"),
        pytest.param("0.00", None, 0, id="zero"),
        pytest.param("-0.00", None, 0, id="negative zero is zero"),
        pytest.param("1,299.00", None, 129900, id="thousands separator"),
        pytest.param("1,234,567.89", None, 123456789, id="two thousands separators"),
        pytest.param("  12.50 ", None, 1250, id="surrounding spaces"),
        pytest.param("$12.50", None, 1250, id="leading dollar sign"),
        pytest.param("€ 1,299.00", None, 129900, id="euro sign and space"),
        pytest.param("-$5.00", None, -500, id="sign before symbol"),
        pytest.param("$-5.00", None, -500, id="sign after symbol"),
        pytest.param("+5", None, 500, id="explicit plus"),
        pytest.param("-5.00", None, -500, id="negative"),
        pytest.param("(5.00)", None, -500, id="accounting parentheses"),
        pytest.param("($1,000.10)", None, -100010, id="parentheses symbol separators"),
        pytest.param("0.125", None, 13, id="half rounds up"),
        pytest.param("0.124", None, 12, id="below half rounds down"),
        pytest.param("-0.125", None, -13, id="negative half rounds away from zero"),
        pytest.param("0.135", None, 14, id="half up not half even"),
        pytest.param(19.99, None, 1999, id="float read through repr"),
        pytest.param(1.005, None, 101, id="float 1.005 is exactly 1.005"),
        pytest.param(0.1 + 0.2, None, 30, id="float artefact does not leak"),
        pytest.param(12, None, 1200, id="int"),
        pytest.param(-3, None, -300, id="negative int"),
        pytest.param(Decimal("19.995"), None, 2000, id="Decimal rounded half up"),
        pytest.param(Decimal("1E+2"), None, 10000, id="Decimal with exponent"),
        pytest.param("1200", "JPY", 1200, id="JPY whole"),
        pytest.param("1200.5", "JPY", 1201, id="JPY half rounds up"),
        pytest.param("1200.4", "JPY", 1200, id="JPY below half"),
        pytest.param(1200, "jpy", 1200, id="currency code any case"),
        pytest.param("1000", "KRW", 1000, id="KRW zero digits"),
        pytest.param("1.234", "KWD", 1234, id="KWD three digits"),
        pytest.param("1.2345", "KWD", 1235, id="KWD rounding"),
        pytest.param("1", "BHD", 1000, id="BHD whole"),
        pytest.param("1.5", "CLF", 15000, id="CLF four digits"),
        pytest.param("19.99", "USD", 1999, id="USD two digits"),
        pytest.param("19.99", " eur ", 1999, id="code with spaces"),
        pytest.param("19.99", None, 1999, id="no currency means two digits"),
        pytest.param(
            "92233720368547758.07",
            None,
            9223372036854775807,
            id="largest 64-bit amount exact",
        ),
        pytest.param(None, None, None, id="null is left out"),
        pytest.param(None, "JPY", None, id="null with currency"),
    ],
)
def test_cents_converts(value: Any, currency: str | None, expected: int | None) -> None:
    result = F["cents"](value, currency)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty text"),
        pytest.param("   ", id="spaces only"),
        pytest.param("1.2.3", id="two points"),
        pytest.param("1,29.00", id="bad thousands group"),
        pytest.param("1.299,00", id="european decimal comma"),
        pytest.param("12.50 €", id="trailing symbol"),
        pytest.param("USD 12.50", id="currency code prefix"),
        pytest.param("$", id="symbol only"),
        pytest.param("--5", id="double sign"),
        pytest.param("(-5)", id="parentheses and sign"),
        pytest.param("1,2e3", id="exponent after a bad group"),
        pytest.param("NaN", id="nan text"),
        pytest.param("Infinity", id="infinity text"),
        pytest.param("١٢", id="non ascii digits"),
        pytest.param("1" * 100, id="too long"),
        pytest.param(True, id="bool true"),
        pytest.param(False, id="bool false"),
        pytest.param(float("nan"), id="float nan"),
        pytest.param(float("inf"), id="float inf"),
        pytest.param(Decimal("NaN"), id="Decimal nan"),
        pytest.param([1], id="list"),
        pytest.param({"amount": 1}, id="dict"),
    ],
)
def test_cents_rejects_garbage_naming_the_value(value: Any) -> None:
    with pytest.raises(RecordError) as caught:
        F["cents"](value)
    assert repr(value)[:50] in str(caught.value)


@pytest.mark.parametrize(
    "currency",
    [
        pytest.param("ZZZ", id="unknown code"),
        pytest.param("XAU", id="no minor unit"),
        pytest.param("US", id="too short"),
        pytest.param(840, id="numeric code"),
    ],
)
def test_cents_unknown_currency_is_a_record_error(currency: Any) -> None:
    with pytest.raises(RecordError, match=f"unknown currency code {currency!r}"):
        F["cents"]("1.00", currency)


def test_minor_units_table_has_the_iso_exceptions() -> None:
    assert len(MINOR_UNITS) > 150
    zero, three, four = (
        ("JPY", "KRW", "VND", "CLP", "ISK"),
        ("KWD", "BHD", "JOD", "OMR", "TND"),
        ("CLF",),
    )
    assert {MINOR_UNITS[c] for c in zero} == {0}
    assert {MINOR_UNITS[c] for c in three} == {3}
    assert {MINOR_UNITS[c] for c in four} == {4}
    assert minor_units(None) == 2
    assert minor_units("usd") == 2


# -- rfc3339 --------------------------------------------------------------------------------

EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00", id="Z"),
        pytest.param("2024-03-01T10:00:00+00:00", "2024-03-01T10:00:00+00:00", id="UTC offset"),
        pytest.param(
            "2024-03-01T10:00:00.123-05:00", "2024-03-01T15:00:00+00:00", id="offset and fraction"
        ),
        pytest.param(
            "2024-03-01T10:00:00+0530", "2024-03-01T04:30:00+00:00", id="offset without colon"
        ),
        pytest.param(
            "2024-03-01T23:59:59.999Z",
            "2024-03-01T23:59:59+00:00",
            id="fraction truncated not rounded",
        ),
        pytest.param(
            "2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00+00:00", id="nanoseconds"
        ),
        pytest.param("2024-03-01T10:00:00", "2024-03-01T10:00:00+00:00", id="naive in default UTC"),
        pytest.param("2024-03-01 10:00:00", "2024-03-01T10:00:00+00:00", id="space separator"),
        pytest.param("2024-03-01", "2024-03-01T00:00:00+00:00", id="date only is midnight"),
        pytest.param(
            "  2024-03-01T10:00:00Z ", "2024-03-01T10:00:00+00:00", id="surrounding spaces"
        ),
        pytest.param("Fri, 01 Mar 2024 10:00:00 +0100", "2024-03-01T09:00:00+00:00", id="RFC 2822"),
        pytest.param(1709287200, "2024-03-01T10:00:00+00:00", id="epoch seconds int"),
        pytest.param(
            1709287200.999, "2024-03-01T10:00:00+00:00", id="epoch seconds float truncated"
        ),
        pytest.param("1709287200", "2024-03-01T10:00:00+00:00", id="epoch seconds text"),
        pytest.param("1709287200.5", "2024-03-01T10:00:00+00:00", id="epoch seconds text fraction"),
        pytest.param(1709287200999, "2024-03-01T10:00:00+00:00", id="epoch milliseconds int"),
        pytest.param("1709287200999", "2024-03-01T10:00:00+00:00", id="epoch milliseconds text"),
        pytest.param(
            Decimal("1709287200123"), "2024-03-01T10:00:00+00:00", id="epoch milliseconds Decimal"
        ),
        pytest.param(
            EPOCH_MS_THRESHOLD - 1, "5138-11-16T09:46:39+00:00", id="below threshold is seconds"
        ),
        pytest.param(
            EPOCH_MS_THRESHOLD, "1973-03-03T09:46:40+00:00", id="threshold is milliseconds"
        ),
        pytest.param(0, "1970-01-01T00:00:00+00:00", id="epoch zero"),
        pytest.param(-1.5, "1969-12-31T23:59:58+00:00", id="negative epoch floors"),
        pytest.param(
            datetime(2024, 3, 1, 10, 0, 0, 999999, tzinfo=UTC),
            "2024-03-01T10:00:00+00:00",
            id="aware datetime",
        ),
        pytest.param(
            datetime(2024, 3, 1, 10, 0, tzinfo=EST),
            "2024-03-01T15:00:00+00:00",
            id="datetime with offset",
        ),
        pytest.param(datetime(2024, 3, 1, 10, 0), "2024-03-01T10:00:00+00:00", id="naive datetime"),
        pytest.param(date(2024, 3, 1), "2024-03-01T00:00:00+00:00", id="date object"),
        pytest.param(None, None, id="null is left out"),
    ],
)
def test_rfc3339_converts(value: Any, expected: str | None) -> None:
    assert F["rfc3339"](value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2024-03-01 10:00:00", "2024-03-01T15:00:00+00:00", id="winter is EST"),
        pytest.param("2024-07-01 10:00:00", "2024-07-01T14:00:00+00:00", id="summer is EDT"),
        pytest.param(
            "2024-03-10 01:59:59", "2024-03-10T06:59:59+00:00", id="just before spring forward"
        ),
        pytest.param(
            "2024-03-10 02:30:00",
            "2024-03-10T07:30:00+00:00",
            id="spring gap read with offset before",
        ),
        pytest.param(
            "2024-03-10 03:00:00", "2024-03-10T07:00:00+00:00", id="just after spring forward"
        ),
        pytest.param(
            "2024-11-03 01:30:00", "2024-11-03T05:30:00+00:00", id="fall back ambiguous is first"
        ),
        pytest.param("2024-11-03 02:00:00", "2024-11-03T07:00:00+00:00", id="after fall back"),
        pytest.param("2024-03-01", "2024-03-01T05:00:00+00:00", id="date is local midnight"),
        pytest.param(
            date(2024, 7, 1), "2024-07-01T04:00:00+00:00", id="date object local midnight"
        ),
        pytest.param(
            datetime(2024, 3, 1, 10), "2024-03-01T15:00:00+00:00", id="naive datetime local"
        ),
        pytest.param(
            "2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00", id="aware ignores the zone"
        ),
        pytest.param(1709287200, "2024-03-01T10:00:00+00:00", id="epoch ignores the zone"),
    ],
)
def test_rfc3339_reads_naive_times_in_the_default_zone(value: Any, expected: str) -> None:
    assert NY["rfc3339"](value) == expected


def test_rfc3339_tz_argument_overrides_the_default_zone() -> None:
    assert NY["rfc3339"]("2024-03-01 10:00:00", "Europe/Paris") == "2024-03-01T09:00:00+00:00"
    assert NY["rfc3339"]("2024-03-01 10:00:00", "UTC") == "2024-03-01T10:00:00+00:00"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="words"),
        pytest.param("", id="empty"),
        pytest.param("2024-13-01", id="month 13"),
        pytest.param("2024-02-30T10:00:00Z", id="february 30"),
        pytest.param("10:00", id="time only"),
        pytest.param("1e10", id="exponent"),
        pytest.param(True, id="bool"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(10**20, id="epoch out of range"),
        pytest.param([2024], id="list"),
    ],
)
def test_rfc3339_rejects_garbage_naming_the_value(value: Any) -> None:
    with pytest.raises(RecordError) as caught:
        F["rfc3339"](value)
    assert repr(value) in str(caught.value)


def test_rfc3339_unknown_zone_argument_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="unknown time zone 'Mars/Olympus'"):
        F["rfc3339"]("2024-03-01 10:00:00", "Mars/Olympus")


def test_make_filters_unknown_default_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        make_filters("Mars/Olympus")


# -- enum -----------------------------------------------------------------------------------

STATUS = {"open": "active", "closed": "archived", "cancelled": "cancelled"}
MIXED = {1: "one", 2.0: "two", "Open": "active"}
BOOLS = {True: "yes", False: "no"}


@pytest.mark.parametrize(
    ("value", "table", "options", "expected"),
    [
        pytest.param("open", STATUS, {}, "active", id="plain hit"),
        pytest.param("weird", STATUS, {"default": "unknown"}, "unknown", id="miss gets default"),
        pytest.param(None, STATUS, {"default": "unknown"}, "unknown", id="null gets default"),
        pytest.param("weird", STATUS, {"default": None}, None, id="default may be null"),
        pytest.param("OPEN", STATUS, {"ignore_case": True}, "active", id="case folded"),
        pytest.param("open", {"OPEN": "x"}, {"ignore_case": True}, "x", id="key case folded"),
        pytest.param(
            "Straße", {"STRASSE": "x"}, {"ignore_case": True}, "x", id="casefold not lower"
        ),
        pytest.param("1", MIXED, {}, "one", id="text finds number key"),
        pytest.param(1, {"1": "one"}, {}, "one", id="number finds text key"),
        pytest.param("true", BOOLS, {}, "yes", id="text finds bool key"),
        pytest.param(
            "FALSE", BOOLS, {"ignore_case": True}, "no", id="text finds bool key any case"
        ),
        pytest.param(True, {"true": "t"}, {}, "t", id="bool finds text key"),
        pytest.param("2", MIXED, {}, "two", id="text finds whole float key"),
        pytest.param(2, MIXED, {}, "two", id="int finds float key"),
        pytest.param(None, {None: "none"}, {}, "none", id="null key"),
    ],
)
def test_enum_looks_up(
    value: Any, table: dict[Any, Any], options: dict[str, Any], expected: Any
) -> None:
    assert F["enum"](value, table, **options) == expected


def test_enum_case_is_exact_by_default() -> None:
    with pytest.raises(RecordError, match="unmapped value 'OPEN'"):
        F["enum"]("OPEN", STATUS)


def test_enum_unmapped_value_lists_allowed_values_sorted() -> None:
    with pytest.raises(RecordError) as caught:
        F["enum"]("weird", STATUS)
    assert str(caught.value) == "unmapped value 'weird' (allowed: 'cancelled', 'closed', 'open')"


def test_enum_null_without_default_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="unmapped value None"):
        F["enum"](None, STATUS)


def test_enum_table_must_be_a_mapping() -> None:
    with pytest.raises(RecordError, match="enum table must be a mapping"):
        F["enum"]("open", ["open"])


def test_enum_missing_default_means_no_default() -> None:
    assert repr(MISSING) == "MISSING"
    with pytest.raises(RecordError, match=r"unmapped value 'x' \(allowed: \)"):
        F["enum"]("x", {}, MISSING)


# -- text, lists, numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("split", ("a, b,,c ",), ["a", "b", "c"], id="split strips and drops empties"),
        pytest.param("split", ("a|b", "|"), ["a", "b"], id="split on separator"),
        pytest.param("split", ("",), [], id="split empty text"),
        pytest.param("join", (["a", 1, None, True],), "a,1,true", id="join skips nulls"),
        pytest.param("join", (["a", "b"], " / "), "a / b", id="join separator"),
        pytest.param("join", ([],), "", id="join empty list"),
        pytest.param("lower", ("ÀB",), "àb", id="lower"),
        pytest.param("upper", ("ab",), "AB", id="upper"),
        pytest.param("strip", ("  a b \n",), "a b", id="strip"),
        pytest.param("default", (None, "x"), "x", id="default for null"),
        pytest.param("default", ("", "x"), "x", id="default for empty"),
        pytest.param("default", (0, "x"), 0, id="default keeps zero"),
        pytest.param("default", (False, "x"), False, id="default keeps false"),
        pytest.param("first", ([None, 2, 3],), 2, id="first non null"),
        pytest.param("first", ([],), None, id="first of empty"),
        pytest.param("first", ([None],), None, id="first of all null"),
        pytest.param("to_int", ("12",), 12, id="to_int text"),
        pytest.param("to_int", (" -12.00 ",), -12, id="to_int whole decimal text"),
        pytest.param("to_int", (12.0,), 12, id="to_int whole float"),
        pytest.param("to_int", (Decimal("7"),), 7, id="to_int Decimal"),
        pytest.param("to_number", ("12",), 12, id="to_number int text"),
        pytest.param("to_number", ("12.5",), 12.5, id="to_number decimal text"),
        pytest.param("to_number", ("1e3",), 1000.0, id="to_number exponent"),
        pytest.param("to_number", (Decimal("2.50"),), 2.5, id="to_number Decimal"),
        pytest.param("to_number", (Decimal("3"),), 3, id="to_number whole Decimal"),
        pytest.param("to_number", ("12.0",), 12.0, id="to_number point text is float"),
        pytest.param("to_number", (1.5,), 1.5, id="to_number float"),
        pytest.param("to_string", (12,), "12", id="to_string int"),
        pytest.param("to_string", (True,), "true", id="to_string bool"),
        pytest.param("to_string", ({"a": [1]},), '{"a":[1]}', id="to_string dict compact json"),
        pytest.param("round", (2.5,), 3, id="round half up"),
        pytest.param("round", (-2.5,), -3, id="round half away from zero"),
        pytest.param("round", (2.675, 2), 2.68, id="round float exactly"),
        pytest.param("round", ("1.005", 2), 1.01, id="round text"),
        pytest.param("round", (1250, -2), 1300, id="round negative digits"),
    ],
)
def test_filter_returns(name: str, args: tuple[Any, ...], expected: Any) -> None:
    result = F[name](*args)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "name", [n for n in FILTER_NAMES if n not in ("default", "enum", "join", "split", "round")]
)
def test_filter_passes_null_through(name: str) -> None:
    assert F[name](None) is None


@pytest.mark.parametrize(
    ("name", "args"),
    [
        pytest.param("split", ([1],), id="split a list"),
        pytest.param("split", ("a", ""), id="split on empty separator"),
        pytest.param("join", ("abc",), id="join text"),
        pytest.param("lower", (12,), id="lower number"),
        pytest.param("upper", (["a"],), id="upper list"),
        pytest.param("strip", (True,), id="strip bool"),
        pytest.param("first", ("abc",), id="first of text"),
        pytest.param("to_int", ("12.5",), id="to_int fraction"),
        pytest.param("to_int", (12.5,), id="to_int float fraction"),
        pytest.param("to_int", ("abc",), id="to_int words"),
        pytest.param("to_int", (True,), id="to_int bool"),
        pytest.param("to_int", ("",), id="to_int empty"),
        pytest.param("to_number", ("12abc",), id="to_number words"),
        pytest.param("to_number", (True,), id="to_number bool"),
        pytest.param("round", ("x",), id="round words"),
        pytest.param("round", (float("inf"),), id="round inf"),
    ],
)
def test_filter_rejects_naming_the_value(name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(RecordError) as caught:
        F[name](*args)
    assert repr(args[0]) in str(caught.value)


# -- the registry ---------------------------------------------------------------------------


def test_filter_names_are_sorted_and_documented() -> None:
    assert list(FILTER_NAMES) == sorted(FILTER_NAMES)
    assert set(FILTER_NAMES) == set(F) == set(FILTER_DOCS)
    required = {"cents", "rfc3339", "enum", "split", "join", "lower", "upper", "strip"}
    assert required | {"default", "to_int", "round", "first"} <= set(FILTER_NAMES)
    for name, (summary, example) in FILTER_DOCS.items():
        assert summary and "\n" not in summary
        assert name in example
        assert describe(name).startswith(f"{name}: ")


def test_filters_are_documented_functions() -> None:
    for name, func in F.items():
        assert func.__doc__, name
    assert F["rfc3339"].__name__ == "rfc3339"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('{"a": [1, 2]}', {"a": [1, 2]}, id="object"),
        pytest.param("[1, 2]", [1, 2], id="list"),
        pytest.param(None, None, id="null passes"),
        pytest.param([1], [1], id="already decoded"),
    ],
)
def test_from_json_decodes(value: object, expected: object) -> None:
    from engine.mapping.filters import from_json

    assert from_json(value) == expected


def test_from_json_names_bad_text() -> None:
    from engine.mapping.filters import from_json

    with pytest.raises(RecordError, match=r"not JSON: '\{oops'"):
        from_json("{oops")


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        pytest.param("20240101", None, "2024-01-01T00:00:00+00:00", id="text YYYYMMDD"),
        pytest.param(20240101, None, "2024-01-01T00:00:00+00:00", id="int YYYYMMDD"),
        pytest.param("20240101", "America/New_York", "2024-01-01T05:00:00+00:00", id="in a zone"),
        pytest.param("1700000000", None, "2023-11-14T22:13:20+00:00", id="ten digits: epoch"),
    ],
)
def test_rfc3339_reads_eight_digits_as_a_date_never_as_epoch_seconds(
    value: object, tz: str | None, expected: str
) -> None:
    assert F["rfc3339"](value, tz) == expected


def test_rfc3339_eight_digits_that_are_no_date_are_refused() -> None:
    with pytest.raises(RecordError, match="8 digits are read as YYYYMMDD"):
        F["rfc3339"]("20241399")


@pytest.mark.parametrize(
    "value", ["100000000000000000000", 10**20, "92233720368547758.08", -(10**19)]
)
def test_cents_refuses_amounts_beyond_64_bits(value: object) -> None:
    with pytest.raises(RecordError, match="does not fit a 64-bit integer"):
        F["cents"](value)
