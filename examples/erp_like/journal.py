"""The demo ERP's memory of applied imports: its settings, the journal, and how exports show it.

`<erp dir>/.erp-like.json` keeps the (orders, seed, encoding) the folder was generated with;
`<erp dir>/imports/applied/journal.jsonl` keeps every applied document, one JSON object a line,
with the time it was applied. The generator replays the journal over the generated shop, so
regenerating a folder from its (orders, seed) keeps what was applied, byte for byte.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.common import money_thousands as amt
from examples.erp_like.formats import Document

SETTINGS = ".erp-like.json"
IMPORTS, APPLIED, JOURNAL = "imports", "applied", "journal.jsonl"
Row = tuple[object, ...]
# Column positions in the exports (erp_like.generate.FILES)
ORDER_MODIFIED, LINE_RETURNED, LINE_MODIFIED = 16, 10, 11


def applied_dir(folder: Path) -> Path:
    return folder / IMPORTS / APPLIED


def read_settings(folder: Path) -> dict[str, Any]:
    path = folder / SETTINGS
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a folder the erp-like demo generated")
    settings: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return settings


def write_settings(folder: Path, orders: int, seed: int, encoding: str) -> None:
    text = json.dumps({"orders": orders, "seed": seed, "encoding": encoding}) + "\n"
    (folder / SETTINGS).write_text(text, encoding="utf-8")


def read_journal(folder: Path) -> list[dict[str, Any]]:
    """Every applied document, in the order it was applied."""
    path = applied_dir(folder) / JOURNAL
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def append_journal(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Adds applied documents to the journal, flushed to disk before the exports change."""
    if not entries:
        return
    applied_dir(folder).mkdir(parents=True, exist_ok=True)
    with (applied_dir(folder) / JOURNAL).open("a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def entry(doc: Document, file_name: str, applied: str) -> dict[str, Any]:
    """A journal line: the document, the file it came in and when; CREATED defaults to then."""
    header = {**doc.header, "CREATED": doc.header.get("CREATED") or applied}
    return {**doc.as_json(), "header": header, "file": file_name, "applied": applied}


def as_documents(entries: list[dict[str, Any]]) -> list[Document]:
    return [Document(e["kind"], e["number"], e["header"], e["lines"]) for e in entries]


@dataclass
class Overlay:
    """What the journal changes in the generated exports."""

    orders: dict[str, str] = field(default_factory=dict)  # SO_NO -> MODIFIED
    returned: dict[tuple[str, int], int] = field(default_factory=dict)
    line_modified: dict[tuple[str, int], str] = field(default_factory=dict)
    credits: list[Row] = field(default_factory=list)
    new_orders: list[tuple[Row, list[Row]]] = field(default_factory=list)
    stock: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)

    def order(self, row: Row) -> Row:
        stamp = self.orders.get(str(row[0]))
        return row if stamp is None else (*row[:ORDER_MODIFIED], stamp, *row[ORDER_MODIFIED + 1 :])

    def line(self, row: Row) -> Row:
        key = (str(row[0]), int(str(row[1])))
        if key not in self.line_modified:
            return row
        returned = int(str(row[LINE_RETURNED])) + self.returned.get(key, 0)
        return (*row[:LINE_RETURNED], returned, self.line_modified[key])

    def stock_row(self, row: Row) -> Row:
        change = self.stock.get((str(row[0]), str(row[1])))
        if change is None:
            return row
        return (row[0], row[1], int(str(row[2])) + change[0], change[1])


def _credit(ov: Overlay, e: dict[str, Any]) -> None:
    so, applied, header = e["header"]["SO_NO"], e["applied"], e["header"]
    ov.orders[so] = applied
    for li in e["lines"]:
        key = (so, li["LINE_NO"])
        if li["LINE_NO"]:
            ov.returned[key] = ov.returned.get(key, 0) + li["QTY"]
            ov.line_modified[key] = applied
        ov.credits.append((e["number"], so, li["LINE_NO"], li["ITEM_NO"], li["QTY"],
                           amt(li["AMOUNT"]), amt(li["TAX_AMOUNT"]), header["CREATED"],
                           li["REASON"], applied, header["REFERENCE"]))  # fmt: skip


def _sales_order(ov: Overlay, e: dict[str, Any]) -> None:
    so, applied, header = e["number"], e["applied"], e["header"]
    net = sum(li["QTY"] * li["UNIT_PRICE"] for li in e["lines"])
    row: Row = (so, header["CUST_NO"], header["CREATED"], "O", header["CURRENCY"], amt(net), amt(0),
           amt(0), amt(0), amt(net), "", "", "", "", "", "", applied, header["REFERENCE"])  # fmt: skip
    lines: list[Row] = [(so, li["LINE_NO"], li["ITEM_NO"], li["DESCRIPTION"], li["QTY"], amt(li["UNIT_PRICE"]),
              amt(0), amt(0), amt(li["QTY"] * li["UNIT_PRICE"]), 0, 0, applied)
             for li in e["lines"]]  # fmt: skip
    ov.new_orders.append((row, lines))


def _adjustment(ov: Overlay, e: dict[str, Any]) -> None:
    for li in e["lines"]:
        key = (li["ITEM_NO"], li["WHS_CODE"])
        before = ov.stock.get(key, (0, ""))[0]
        ov.stock[key] = (before + li["QTY_DELTA"], e["applied"])


def overlay(entries: list[dict[str, Any]]) -> Overlay:
    """The journal's documents as changes to the exports, in the order they were applied."""
    ov = Overlay()
    replay = {"credit_memo": _credit, "sales_order": _sales_order,
              "inventory_adjustment": _adjustment}  # fmt: skip
    for e in entries:
        replay[e["kind"]](ov, e)
    return ov
