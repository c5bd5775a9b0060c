"""Checking an import file against what the demo ERP holds, before anything of it is applied."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.erp_like.formats import (
    FREIGHT,
    HEADER_FIELDS,
    REASONS,
    Document,
    Format,
    RowError,
    amount,
    local_time,
    quantity,
)

Rows = list[tuple[int, dict[str, str]]]  # (line in the file, values by column)
_CURRENCY = re.compile(r"[A-Z]{3}")


def _read(path: Path, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@dataclass
class ErpState:
    """What the ERP holds that import rows refer to, kept current as files are applied."""

    orders: dict[str, str] = field(default_factory=dict)  # SO_NO -> CURRENCY
    # (SO_NO, LINE_NO) -> [ITEM_NO, QTY, QTY_RETURNED]
    lines: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    customers: set[str] = field(default_factory=set)
    items: dict[str, str] = field(default_factory=dict)  # variant ITEM_NO -> line description
    warehouses: set[str] = field(default_factory=set)
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    documents: set[tuple[str, str]] = field(default_factory=set)  # (kind, number) applied

    @classmethod
    def load(cls, folder: Path, encoding: str, journal: Iterable[Document]) -> ErpState:
        """The state the exports in `folder` show, and the documents the journal applied."""
        state = cls()
        for o in _read(folder / "sales_orders.csv", encoding):
            state.orders[o["SO_NO"]] = o["CURRENCY"]
            state.documents.add(("sales_order", o["SO_NO"]))
        for li in _read(folder / "sales_order_lines.csv", encoding):
            key = (li["SO_NO"], int(li["LINE_NO"]))
            state.lines[key] = [li["ITEM_NO"], int(li["QTY"]), int(li["QTY_RETURNED"])]
        for c in _read(folder / "credit_notes.csv", encoding):
            state.documents.add(("credit_memo", c["CN_NO"]))
        state.customers = {c["CUST_NO"] for c in _read(folder / "customers.csv", encoding)}
        state.warehouses = {w["WHS_CODE"] for w in _read(folder / "warehouses.csv", encoding)}
        for i in _read(folder / "items.csv", encoding):
            if i["ITEM_TYPE"] == "V":
                plain = i["VARIANT_DESC"] == "Default Title"
                described = (
                    i["DESCRIPTION"] if plain else f"{i['DESCRIPTION']} - {i['VARIANT_DESC']}"
                )
                state.items[i["ITEM_NO"]] = described
        for s in _read(folder / "stock.csv", encoding):
            state.stock[(s["ITEM_NO"], s["WHS_CODE"])] = int(s["QTY_ON_HAND"])
        state.documents |= {(d.kind, d.number) for d in journal}
        return state

    def commit(self, doc: Document) -> None:
        """Takes an applied document into account for the files after it."""
        self.documents.add((doc.kind, doc.number))
        if doc.kind == "credit_memo":
            for li in doc.lines:
                if li["LINE_NO"]:
                    self.lines[(doc.header["SO_NO"], li["LINE_NO"])][2] += li["QTY"]
        elif doc.kind == "sales_order":
            self.orders[doc.number] = doc.header["CURRENCY"]
            for li in doc.lines:
                self.lines[(doc.number, li["LINE_NO"])] = [li["ITEM_NO"], li["QTY"], 0]
        else:
            for li in doc.lines:
                key = (li["ITEM_NO"], li["WHS_CODE"])
                self.stock[key] = self.stock.get(key, 0) + li["QTY_DELTA"]


@dataclass
class FileCheck:
    """A file's new documents, the ones it repeats (skipped), and its errors (line, reason)."""

    documents: list[Document] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class _Pending:
    """What the rows checked so far in one file take (returned units, stock moved)."""

    def __init__(self) -> None:
        self.returned: dict[tuple[str, int], int] = defaultdict(int)
        self.stock: dict[tuple[str, str], int] = defaultdict(int)


def _credit_line(row: dict[str, str], state: ErpState, pending: _Pending) -> dict[str, Any]:
    so = row["SO_NO"].strip()
    if so not in state.orders:
        raise RowError(f"sales order {so!r} not found")
    if row["CURRENCY"].strip() != state.orders[so]:
        raise RowError(f"CURRENCY {row['CURRENCY']!r} is not the order's {state.orders[so]}")
    item, qty = row["ITEM_NO"].strip(), quantity(row["QTY"], "QTY")
    money = amount(row["AMOUNT"], "AMOUNT")
    tax = amount(row.get("TAX_AMOUNT") or "0.00", "TAX_AMOUNT")
    reason = row["REASON"].strip()
    if reason not in REASONS:
        raise RowError(f"REASON {reason!r} is not one of {', '.join(REASONS)}")
    if row["LINE_NO"].strip() in (FREIGHT, "0") or item == FREIGHT:
        if item != FREIGHT or row["LINE_NO"].strip() not in (FREIGHT, "0"):
            raise RowError("a freight credit has LINE_NO FREIGHT (or 0) and ITEM_NO FREIGHT")
        return {"LINE_NO": 0, "ITEM_NO": FREIGHT, "QTY": qty, "AMOUNT": money,
                "TAX_AMOUNT": tax, "REASON": reason}  # fmt: skip
    try:
        key = (so, int(row["LINE_NO"]))
    except ValueError:
        raise RowError(f"LINE_NO {row['LINE_NO']!r} is not a line number") from None
    if key not in state.lines:
        raise RowError(f"sales order {so} has no line {key[1]}")
    line_item, ordered, returned = state.lines[key]
    if item != line_item:
        raise RowError(f"ITEM_NO {item!r} is not line {key[1]}'s item {line_item}")
    left = ordered - returned - pending.returned[key]
    if qty > left:
        raise RowError(f"QTY {qty} is more than the {left} left to credit on line {key[1]}")
    pending.returned[key] += qty
    return {"LINE_NO": key[1], "ITEM_NO": item, "QTY": qty, "AMOUNT": money,
            "TAX_AMOUNT": tax, "REASON": reason}  # fmt: skip


def _order_line(row: dict[str, str], state: ErpState, pending: _Pending) -> dict[str, Any]:
    if row["CUST_NO"].strip() not in state.customers:
        raise RowError(f"customer {row['CUST_NO']!r} not found")
    if not _CURRENCY.fullmatch(row["CURRENCY"].strip()):
        raise RowError(f"CURRENCY {row['CURRENCY']!r} is not a currency code like USD")
    item = row["ITEM_NO"].strip()
    if item not in state.items:
        raise RowError(f"item {item!r} not found (or not a variant item)")
    return {"ITEM_NO": item, "DESCRIPTION": state.items[item],
            "QTY": quantity(row["QTY"], "QTY"),
            "UNIT_PRICE": amount(row["UNIT_PRICE"], "UNIT_PRICE")}  # fmt: skip


def _adjustment_line(row: dict[str, str], state: ErpState, pending: _Pending) -> dict[str, Any]:
    item, whs = row["ITEM_NO"].strip(), row["WHS_CODE"].strip()
    if whs not in state.warehouses:
        raise RowError(f"warehouse {whs!r} not found")
    if (item, whs) not in state.stock:
        raise RowError(f"item {item!r} is not stocked (not a variant item)")
    delta = quantity(row["QTY_DELTA"], "QTY_DELTA", signed=True)
    after = state.stock[(item, whs)] + pending.stock[(item, whs)] + delta
    if after < 0:
        raise RowError(f"QTY_DELTA {delta} would leave {after} of {item} on hand at {whs}")
    pending.stock[(item, whs)] += delta
    return {"ITEM_NO": item, "WHS_CODE": whs, "QTY_DELTA": delta}


_LINE: dict[str, Callable[[dict[str, str], ErpState, _Pending], dict[str, Any]]] = {
    "credit_memo": _credit_line,
    "sales_order": _order_line,
    "inventory_adjustment": _adjustment_line,
}


def _header(fmt: Format, rows: Rows, check: FileCheck) -> dict[str, str] | None:
    """The document's header fields; rows that disagree with its first row are errors."""
    fields = HEADER_FIELDS[fmt.kind]
    first = {name: (rows[0][1].get(name) or "").strip() for name in fields}
    agree = True
    for line, row in rows[1:]:
        differ = [n for n in fields if (row.get(n) or "").strip() != first[n]]
        if differ:
            check.errors.append((line, f"{', '.join(differ)} differ from the document's first row"))
            agree = False
    try:
        first["CREATED"] = local_time(first["CREATED"], "CREATED")
    except RowError as error:
        check.errors.append((rows[0][0], str(error)))
        agree = False
    return first if agree else None


def _document(
    fmt: Format, number: str, rows: Rows, state: ErpState, pending: _Pending, check: FileCheck
) -> None:
    """Adds the document's lines to `check.documents`, or its errors to `check.errors`."""
    if (fmt.kind, number) in state.documents:
        check.duplicates.append((rows[0][0], number))
        return
    errors, lines = len(check.errors), []
    header = _header(fmt, rows, check)
    for line, row in rows:
        try:
            lines.append(_LINE[fmt.kind](row, state, pending))
        except RowError as error:
            check.errors.append((line, str(error)))
    if fmt.kind == "credit_memo":
        numbers = [li["LINE_NO"] for li in lines]
        if len(set(numbers)) != len(numbers):
            check.errors.append((rows[0][0], f"credit memo {number} credits a line twice"))
    if fmt.kind == "sales_order":
        for k, li in enumerate(lines):
            li["LINE_NO"] = 10 * (k + 1)
    if header is not None and len(check.errors) == errors:
        check.documents.append(Document(fmt.kind, number, header, lines))


def _rows(path: Path, fmt: Format, encoding: str, check: FileCheck) -> Rows:
    """The file's rows by line, after its header is checked; [] with errors when unreadable."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=";")
            header = [name.strip() for name in next(reader, [])]
            rows = [
                (reader.line_num, values) for values in reader if any(v.strip() for v in values)
            ]
    except (UnicodeDecodeError, csv.Error) as error:
        check.errors.append((1, f"not a readable {encoding} CSV file ({error})"))
        return []
    missing = [c for c in fmt.required if c not in header]
    unknown = [c for c in header if c not in fmt.columns]
    if missing or unknown or len(set(header)) != len(header):
        said = (f"missing {', '.join(missing)}" if missing else "") + (
            f"{'; ' if missing else ''}unknown {', '.join(unknown)}" if unknown else ""
        )
        check.errors.append((1, f"header: {said or 'a column named twice'}"))
        return []
    out: Rows = []
    for line, values in rows:
        if len(values) != len(header):
            check.errors.append((line, f"{len(values)} fields, the header has {len(header)}"))
        else:
            out.append((line, dict(zip(header, values, strict=True))))
    return out


def check_file(path: Path, fmt: Format, encoding: str, state: ErpState) -> FileCheck:
    """Checks every document of an import file against `state` (which it does not change)."""
    check = FileCheck()
    rows = _rows(path, fmt, encoding, check)
    documents: dict[str, Rows] = {}
    for line, row in rows:
        number = row[fmt.number].strip()
        if not number:
            check.errors.append((line, f"{fmt.number} is empty"))
        else:
            documents.setdefault(number, []).append((line, row))
    pending = _Pending()
    for number, lines in documents.items():
        _document(fmt, number, lines, state, pending, check)
    return check
