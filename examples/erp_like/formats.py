"""The demo ERP's import file formats (credit memos, sales orders, inventory adjustments).

Files go in `<erp dir>/imports/`, in the ERP's conventions: semicolon-separated, a header row,
the folder's encoding, amounts like "1,299.00", local times "2024-03-01 10:00:00". A file's
kind is its name (`credit_memos_*.csv`, ...); the columns are documented in examples/README.md.
Rows sharing a document number (CM_NO, SO_NO, ADJ_NO) are the lines of one document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from typing import Any

REASONS = ("RETURN", "DAMAGED", "GOODWILL", "PRICE")  # the codes credit_notes.csv knows
FREIGHT = "FREIGHT"


@dataclass(frozen=True)
class Format:
    """One kind of import file: its name pattern, its document number and its columns."""

    kind: str
    pattern: str
    number: str  # the column holding the document number
    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMATS = (
    Format("credit_memo", "credit_memos_*.csv", "CM_NO",
           ("CM_NO", "SO_NO", "LINE_NO", "ITEM_NO", "QTY", "AMOUNT", "CURRENCY", "REASON"),
           ("TAX_AMOUNT", "REFERENCE", "CREATED")),
    Format("sales_order", "sales_orders_*.csv", "SO_NO",
           ("SO_NO", "CUST_NO", "CURRENCY", "ITEM_NO", "QTY", "UNIT_PRICE"),
           ("SHIP_NAME", "SHIP_STREET", "SHIP_STREET2", "SHIP_ZIP", "SHIP_CITY", "SHIP_STATE",
            "SHIP_COUNTRY", "REFERENCE", "CREATED")),
    Format("inventory_adjustment", "inventory_adjustments_*.csv", "ADJ_NO",
           ("ADJ_NO", "ITEM_NO", "WHS_CODE", "QTY_DELTA"), ("REFERENCE", "CREATED")),
)  # fmt: skip
# Header fields: every row of a document repeats them, and they must agree.
HEADER_FIELDS = {
    "credit_memo": ("SO_NO", "CURRENCY", "REFERENCE", "CREATED"),
    "sales_order": ("CUST_NO", "CURRENCY", "SHIP_NAME", "SHIP_STREET", "SHIP_STREET2",
                    "SHIP_ZIP", "SHIP_CITY", "SHIP_STATE", "SHIP_COUNTRY", "REFERENCE", "CREATED"),
    "inventory_adjustment": ("REFERENCE", "CREATED"),
}  # fmt: skip

_AMOUNT = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?")
_TIME = "%Y-%m-%d %H:%M:%S"


class RowError(ValueError):
    """A value an import row cannot have; the message says which and why."""


def format_of(name: str) -> Format | None:
    """The format a file name asks for, or None when it matches none."""
    return next((f for f in FORMATS if fnmatch(name, f.pattern)), None)


def amount(text: str, column: str) -> int:
    """ "1,299.00" (or "1299.5") -> cents; anything else is a RowError naming the column."""
    value = text.strip()
    if not _AMOUNT.fullmatch(value):
        raise RowError(f"{column} {text!r} is not an amount like 1,299.00")
    whole, _, frac = value.replace(",", "").partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def quantity(text: str, column: str, *, signed: bool = False) -> int:
    """A whole number of units: positive, or (signed) any but zero."""
    try:
        value = int(text.strip())
    except ValueError:
        raise RowError(f"{column} {text!r} is not a whole number") from None
    if value == 0 or (value < 0 and not signed):
        raise RowError(f"{column} must be {'non-zero' if signed else 'positive'}, not {value}")
    return value


def local_time(text: str, column: str) -> str:
    """ "2024-03-01 10:00:00" as given (the ERP's local time); empty stays empty."""
    value = text.strip()
    if value:
        try:
            datetime.strptime(value, _TIME)
        except ValueError:
            raise RowError(f"{column} {text!r} is not a time like 2024-03-01 10:00:00") from None
    return value


@dataclass
class Document:
    """One document of an import file: its header fields and its lines, values checked."""

    kind: str
    number: str
    header: dict[str, str]
    lines: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "number": self.number, "header": self.header,
                "lines": self.lines}  # fmt: skip
