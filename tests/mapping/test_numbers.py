"""The one number grammar (engine.mapping.numbers) as cents, to_int, to_number and round read it."""

from __future__ import annotations

from decimal import Decimal

import jmespath
import pytest

from engine.errors import RecordError
from engine.mapping.filters import make_filters
from engine.mapping.functions import make_options
from engine.mapping.numbers import parse_number

F = make_filters()

ACCEPTED = [
    pytest.param("1,204", Decimal("1204"), id="thousands separator"),
    pytest.param("1,234,567.89", Decimal("1234567.89"), id="two separators"),
    pytest.param(" -12 ", Decimal("-12"), id="sign and spaces"),
    pytest.param("+7", Decimal("7"), id="explicit plus"),
    pytest.param("(1,000)", Decimal("-1000"), id="accounting parentheses"),
    pytest.param("$1,299.00", Decimal("1299.00"), id="currency symbol"),
    pytest.param("-€5", Decimal("-5"), id="sign before symbol"),
    pytest.param("£-5", Decimal("-5"), id="sign after symbol"),
    pytest.param("1e3", Decimal("1000"), id="exponent"),
    pytest.param("1.2E+03", Decimal("1200"), id="spreadsheet exponent"),
    pytest.param(".5", Decimal("0.5"), id="no leading zero"),
]

REFUSED = [
    pytest.param("1,29", id="bad thousands group"),
    pytest.param("1.299,00", id="decimal comma"),
    pytest.param("12 €", id="trailing symbol"),
    pytest.param("USD 5", id="currency code"),
    pytest.param("--5", id="two signs"),
    pytest.param("(-5)", id="parentheses and sign"),
    pytest.param("NaN", id="nan"),
    pytest.param("", id="empty"),
    pytest.param("1" * 65, id="too long"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_parse_number_reads_the_grammar(text: str, expected: Decimal) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", REFUSED)
def test_parse_number_refuses_outside_the_grammar(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_numbers_cents_to_number_and_round_accept_the_same_text(
    text: str, expected: Decimal
) -> None:
    assert F["cents"](text) == int(expected * 100)
    assert F["to_number"](text) == float(expected)
    assert F["round"](text, 1) == float(expected.quantize(Decimal("0.1")))


@pytest.mark.parametrize("text", REFUSED)
def test_numbers_every_filter_refuses_the_same_text(text: str) -> None:
    for name in ("cents", "to_int", "to_number", "round"):
        with pytest.raises(RecordError):
            F[name](text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1,204", 1204, id="thousands separator"),
        pytest.param("(1,000)", -1000, id="parentheses"),
        pytest.param("$12.00", 12, id="symbol and whole decimals"),
        pytest.param("1e3", 1000, id="exponent"),
    ],
)
def test_numbers_to_int_reads_the_grammar(text: str, expected: int) -> None:
    assert F["to_int"](text) == expected
    assert type(F["to_int"](text)) is int


def test_numbers_to_int_still_refuses_a_fraction_in_the_grammar() -> None:
    with pytest.raises(RecordError, match=r"not a whole number: '1,204\.5'"):
        F["to_int"]("1,204.5")


def test_numbers_to_int_refuses_a_huge_exponent_without_computing_it() -> None:
    with pytest.raises(RecordError, match="out of range"):
        F["to_int"]("1e9999")


def test_numbers_to_number_keeps_int_syntax_an_int() -> None:
    assert type(F["to_number"]("1,204")) is int
    assert type(F["to_number"]("1,204.0")) is float


def test_numbers_to_number_refuses_an_infinite_result() -> None:
    with pytest.raises(RecordError, match="out of range"):
        F["to_number"]("1e9999")


def test_numbers_jmespath_to_int_reads_the_grammar() -> None:
    assert jmespath.search("to_int(qty)", {"qty": "1,204"}, options=make_options()) == 1204
