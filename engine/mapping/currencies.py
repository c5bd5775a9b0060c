"""Money: ISO 4217 minor units (digits after the decimal point) and exact amounts (`cents`).

Source: the ISO 4217 list maintained by SIX (list one, 2024), plus a few codes withdrawn
recently that still appear in historical orders (HRK, SLL, CUC, ZWL). Codes without a
minor unit ("N.A.": precious metals, SDR, testing codes such as XAU, XDR, XTS, XXX) are
left out on purpose: an amount in those cannot become an integer of minor units.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Final

from engine.errors import RecordError
from engine.mapping.numbers import MAX_TEXT as MAX_TEXT
from engine.mapping.numbers import parse_number

DEFAULT_MINOR_UNITS = 2
"""Minor units of an amount whose currency is not given (the common case: cents)."""

_ZERO = "BIF BYR CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN "
    "ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD "
    "KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR "
    "MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB "
    "SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY "
    "TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for digits, codes in ((2, _TWO), (0, _ZERO), (3, _THREE), (4, _FOUR)):
        table.update(dict.fromkeys(codes.split(), digits))
    return table


MINOR_UNITS: dict[str, int] = _table()
"""ISO 4217 code (upper case) -> number of minor-unit digits: USD 2, JPY 0, KWD 3, CLF 4."""

# Lower- and mixed-case spellings seen at run time, so the case fold happens once per code.
_seen: dict[str, int] = dict(MINOR_UNITS)


def minor_units(currency: str | None) -> int:
    """Digits after the decimal point for `currency` (case-insensitive); None means 2.

    An unknown code is a RecordError naming the code.
    """
    if currency is None:
        return DEFAULT_MINOR_UNITS
    if isinstance(currency, str):
        digits = _seen.get(currency)
        if digits is not None:
            return digits
        digits = MINOR_UNITS.get(currency.strip().upper())
        if digits is not None:
            if len(_seen) < 4096:  # bounded: codes come from record data
                _seen[currency] = digits
            return digits
    raise RecordError(f"unknown currency code {currency!r} (expected an ISO 4217 code like 'USD')")


# -- exact amounts ----------------------------------------------------------------------------------

DECIMAL_CONTEXT: Final = Context(prec=100, rounding=ROUND_HALF_UP)
"""The one context for exact arithmetic: wide enough for any number a record can carry
(text is capped at MAX_TEXT characters), rounding half up; created once, not per call."""
_CTX: Final = DECIMAL_CONTEXT
_ONE: Final = Decimal(1)
_SCALE: Final[tuple[int, ...]] = (1, 10, 100, 1000, 10000)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def cents(value: Any, currency: str | None = None) -> int | None:
    """An amount as an exact integer of the currency's minor units (see `_cents`), refused
    (RecordError) when it does not fit Loop's signed 64-bit integers."""
    result = _cents(value, currency)
    if result is not None and not INT64_MIN <= result <= INT64_MAX:
        raise RecordError(f"amount {value!r} does not fit a 64-bit integer of minor units")
    return result


def decimal(value: Any, currency: str | None = None) -> str | None:
    """Integer minor units back to a decimal amount in the currency's digits: 3165 -> "31.65",
    (500, "JPY") -> "500", (1234, "KWD") -> "1.234". For platforms that take amounts as text."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RecordError(f"decimal needs whole minor units, not {type(value).__name__}")
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,19}", text):
        raise RecordError(f"decimal needs whole minor units, not {text[:MAX_TEXT]!r}")
    digits = minor_units(currency)
    return str(Decimal(int(text)).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def _cents(value: Any, currency: str | None = None) -> int | None:
    """An amount as an exact integer of the currency's minor units: "19.99" -> 1999.

    Accepts int, float, Decimal and text in the grammar of engine.mapping.numbers, shared
    with to_int and to_number: "1,299.00", "$12.50", "-$5", "(5.00)" -> -500, "1e3". A float is read
    through its shortest repr, so 19.99 -> 1999 and 1.005 -> 101, never float artefacts.
    The currency (ISO 4217, any case; None means 2 digits) sets the digits: JPY 0, KWD 3.
    Extra decimals are rounded half up, away from zero: JPY "1200.5" -> 1201.
    None -> None; anything else ("abc", "", "1.2.3", True, NaN) is a RecordError.
    """
    if value is None:
        return None
    digits = minor_units(currency)
    kind = type(value)
    if kind is str:
        # Fast path: "1234" or "12.34" with exactly the currency's digits.
        whole, dot, frac = value.partition(".")
        if len(value) < 20 and value.isascii() and whole.isdigit():
            if not dot:
                return int(whole) * _SCALE[digits]
            if len(frac) == digits and frac.isdigit():
                return int(whole) * _SCALE[digits] + int(frac)
        amount = _amount_from_text(value)
    elif kind is int:
        return int(value) * _SCALE[digits]
    elif kind is float or isinstance(value, Decimal):
        amount = Decimal(repr(value)) if kind is float else value
    elif isinstance(value, int) and not isinstance(value, bool):
        return int(value) * _SCALE[digits]
    else:
        raise RecordError(f"not an amount: {value!r}")
    return _to_minor_units(amount, digits, value)


def _amount_from_text(text: str) -> Decimal:
    amount = parse_number(text)
    if amount is None:
        raise RecordError(f"not an amount: {text!r} (expected a decimal like '1,299.00')")
    return amount


def _to_minor_units(amount: Decimal, digits: int, original: Any) -> int:
    if not amount.is_finite():
        raise RecordError(f"not an amount: {original!r}")
    try:
        return int(amount.scaleb(digits, _CTX).quantize(_ONE, context=_CTX))
    except InvalidOperation:
        raise RecordError(f"amount out of range: {original!r}") from None
