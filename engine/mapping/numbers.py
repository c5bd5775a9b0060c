"""Numeric text: the one grammar that `cents`, `to_int`, `to_number` and `round` read text with.

One grammar, so that a value an integrator sees accepted by one filter is accepted by all:
surrounding spaces, a sign, one leading currency symbol ("$12.50", "-$5", "$-5"; any Unicode
currency symbol, not codes like "USD 5"), accounting parentheses for negatives ("(5.00)"),
comma thousands separators in groups of three ("1,299.00"), "." as the decimal point, and an
exponent ("1e3", "1.2E+03", as spreadsheets export large numbers). A decimal comma
("1.299,00"), a trailing symbol, two signs, NaN and Infinity are refused: guessing there would
turn one amount into another silently.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final
from unicodedata import category

MAX_TEXT: Final = 64
"""Longest numeric text accepted; longer is refused, not a slow parse."""

_NUMBER: Final = re.compile(
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,4})?", re.ASCII
)


def parse_number(text: str) -> Decimal | None:
    """The exact value of numeric text ("1,299.00" -> Decimal("1299.00")), None if it is not.

    Callers raise their own RecordError ("not an amount", "not a whole number"), naming the value.
    """
    s = text.strip()
    if len(s) > MAX_TEXT:
        return None
    negative = s[:1] == "(" and s[-1:] == ")"
    if negative:
        s = s[1:-1].strip()
    sign, s = _take_sign(s)
    if s and category(s[0]) == "Sc":  # a currency symbol: $, €, £, ¥, ...
        s = s[1:].lstrip()
        if not sign:
            sign, s = _take_sign(s)
    if (negative and sign) or not _NUMBER.fullmatch(s):
        return None
    number = Decimal(s.replace(",", ""))
    return -number if negative or sign == "-" else number


def _take_sign(s: str) -> tuple[str, str]:
    if s[:1] in ("-", "+"):
        return s[0], s[1:].lstrip()
    return "", s
