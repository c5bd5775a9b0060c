"""erp-like: the CSV exports an ERP writes, generated from the same shop as shopify-like.

Files (semicolon-separated, header row, CRLF line ends, UTF-8 by default or latin-1 on request;
amounts like "1,299.00" with a thousands separator; times "2024-03-01 10:00:00" in the shop's
local time (UTC-05:00) without an offset; statuses as ERP codes):

- items.csv: ITEM_NO;PARENT_NO;ITEM_TYPE;DESCRIPTION;VARIANT_DESC;OPTION1;OPTION2;OPTION3;
  ITEM_GROUP;VENDOR;UNIT_PRICE;CURRENCY;BARCODE;WEIGHT_KG;STATUS;MODIFIED. One "P" (parent)
  row per product (PARENT_NO empty, UNIT_PRICE the lowest variant price), then one "V" row per
  variant (ITEM_NO = SKU, PARENT_NO = the product's ITEM_NO). STATUS A (active) / I (inactive).
- customers.csv: CUST_NO;FIRST_NAME;LAST_NAME;EMAIL;PHONE;STREET;STREET2;ZIP;CITY;STATE;
  COUNTRY;CREATED;MODIFIED;BLOCKED (0/1).
- warehouses.csv: WHS_CODE;NAME;STREET;STREET2;ZIP;CITY;STATE;COUNTRY;PHONE;MODIFIED.
- stock.csv: ITEM_NO;WHS_CODE;QTY_ON_HAND;MODIFIED (one row per variant and warehouse).
- sales_orders.csv: SO_NO;CUST_NO;ORDER_DATE;STATUS (O open, C completed, X cancelled);
  CURRENCY;NET_AMOUNT;DISCOUNT;TAX_AMOUNT;SHIPPING;GROSS_AMOUNT;SHIP_WHS;SHIP_DATE;CARRIER;
  TRACKING_NO;CLOSED_DATE;CANCELLED_DATE;MODIFIED. NET_AMOUNT is after discount, before tax.
- sales_order_lines.csv: SO_NO;LINE_NO (10, 20, ...);ITEM_NO;DESCRIPTION;QTY;UNIT_PRICE;
  DISCOUNT;TAX_AMOUNT;LINE_AMOUNT (qty x price - discount);QTY_SHIPPED;QTY_RETURNED;MODIFIED.
- credit_notes.csv: CN_NO;SO_NO;LINE_NO;ITEM_NO;QTY;AMOUNT;TAX_AMOUNT;CN_DATE;REASON;MODIFIED,
  one row per refunded order line; a refunded shipping charge is a row with ITEM_NO "FREIGHT"
  and LINE_NO 0.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from examples.common import money_thousands as amt
from examples.common import naive_local as when
from examples.erp_like.journal import (
    IMPORTS,
    Overlay,
    applied_dir,
    overlay,
    read_journal,
    read_settings,
    write_settings,
)
from examples.shopify_like import catalog, ids
from examples.shopify_like.data import ShopData, Summary, generate

FILES: dict[str, tuple[str, ...]] = {
    "items.csv": ("ITEM_NO", "PARENT_NO", "ITEM_TYPE", "DESCRIPTION", "VARIANT_DESC", "OPTION1",
                  "OPTION2", "OPTION3", "ITEM_GROUP", "VENDOR", "UNIT_PRICE", "CURRENCY",
                  "BARCODE", "WEIGHT_KG", "STATUS", "MODIFIED"),
    "customers.csv": ("CUST_NO", "FIRST_NAME", "LAST_NAME", "EMAIL", "PHONE", "STREET", "STREET2",
                      "ZIP", "CITY", "STATE", "COUNTRY", "CREATED", "MODIFIED", "BLOCKED"),
    "warehouses.csv": ("WHS_CODE", "NAME", "STREET", "STREET2", "ZIP", "CITY", "STATE", "COUNTRY",
                       "PHONE", "MODIFIED"),
    "stock.csv": ("ITEM_NO", "WHS_CODE", "QTY_ON_HAND", "MODIFIED"),
    "sales_orders.csv": ("SO_NO", "CUST_NO", "ORDER_DATE", "STATUS", "CURRENCY", "NET_AMOUNT",
                         "DISCOUNT", "TAX_AMOUNT", "SHIPPING", "GROSS_AMOUNT", "SHIP_WHS",
                         "SHIP_DATE", "CARRIER", "TRACKING_NO", "CLOSED_DATE", "CANCELLED_DATE",
                         "MODIFIED", "REFERENCE"),
    "sales_order_lines.csv": ("SO_NO", "LINE_NO", "ITEM_NO", "DESCRIPTION", "QTY", "UNIT_PRICE",
                              "DISCOUNT", "TAX_AMOUNT", "LINE_AMOUNT", "QTY_SHIPPED",
                              "QTY_RETURNED", "MODIFIED"),
    "credit_notes.csv": ("CN_NO", "SO_NO", "LINE_NO", "ITEM_NO", "QTY", "AMOUNT", "TAX_AMOUNT",
                         "CN_DATE", "REASON", "MODIFIED", "REFERENCE"),
    # The warehouse's receipts of returned parcels (bucket III): empty in the export; the
    # warehouse (or a test) appends a row per parcel received, pointing at its sales order.
    "return_receipts.csv": ("RECEIPT_NO", "SO_NO", "STATUS", "NOTE", "RECEIVED"),
}  # fmt: skip
WAREHOUSES = ("WH01", "ST02", "ST03")
STATUS_CODES = {"open": "O", "closed": "C", "cancelled": "X"}
Row = tuple[object, ...]


def item_no(product_pos: int) -> str:
    return f"{100000 + product_pos}"


def cust_no(customer_pos: int) -> str:
    return f"C{customer_pos + 1:06d}"


def so_no(order_pos: int) -> str:
    return f"SO{order_pos + 1:07d}"


def _items(data: ShopData) -> Iterator[Row]:
    for pos in range(data.n_products):
        brief = data.brief(pos)
        group = catalog.PRODUCT_TYPES[brief.shape.type_index][0]
        stamp = when(brief.shape.updated)
        yield (item_no(pos), "", "P", brief.title, "", "", "", "", group, brief.vendor,
               amt(min(brief.prices)), data.currency, "", "", "A", stamp)  # fmt: skip
        for k, combo in enumerate(brief.combos):
            padded = (*combo, "", "")
            barcode = catalog._ean13(pos * ids.MAX_VARIANTS + k)
            yield (brief.sku(k), item_no(pos), "V", brief.title, " / ".join(combo), padded[0],
                   padded[1], padded[2], group, brief.vendor, amt(brief.prices[k]), data.currency,
                   barcode, f"{brief.grams / 1000:.3f}", "A", stamp)  # fmt: skip


def _customers(data: ShopData) -> Iterator[Row]:
    for pos in range(data.n_customers):
        p = data.person(pos)
        city, province, _, _, _, ccode, _ = p.place
        yield (cust_no(pos), p.first_name, p.last_name, p.email, p.phone, p.street, "", p.zip,
               city, province, ccode, when(p.created), when(data.customer_updated(pos)), 0)  # fmt: skip


def _warehouses(data: ShopData) -> Iterator[Row]:
    for pos, code in enumerate(WAREHOUSES[: data.n_locations]):
        name, a1, a2, city, zip_, _, pcode, _, ccode, phone = catalog.LOCATIONS[pos]
        yield (code, name, a1, a2 or "", zip_, city, pcode, ccode, phone or "",
               when(catalog.location_updated(pos)))  # fmt: skip


def _stock(data: ShopData) -> Iterator[Row]:
    for pos in range(data.n_products):
        brief = data.brief(pos)
        for k in range(len(brief.combos)):
            slot = pos * ids.MAX_VARIANTS + k
            stamp = when(catalog.stock_updated(data.seed, slot))
            for loc, code in enumerate(WAREHOUSES[: data.n_locations]):
                yield brief.sku(k), code, catalog.base_available(data.seed, slot, loc), stamp


def _order_row(data: ShopData, s: Summary) -> Row:
    plan = s.plan
    net = sum(g - a for g, a, _ in s.amounts)
    tax = sum(t for _, _, t in s.amounts)
    fulfillment = ids.FULFILLMENT + s.pos * 2
    shipped = plan.fulfilled_at is not None
    return (
        so_no(s.pos), cust_no(s.customer_pos), when(plan.created), STATUS_CODES[plan.status],
        data.currency, amt(net), amt(sum(a for _, a, _ in s.amounts)), amt(tax), amt(s.shipping),
        amt(s.total), WAREHOUSES[plan.location] if shipped else "",
        when(plan.fulfilled_at) if plan.fulfilled_at else "",
        ("UPS", "USPS")[fulfillment % 2] if shipped else "",
        f"1Z{fulfillment % 10**12:012d}" if shipped else "",
        when(plan.closed_at) if plan.closed_at else "",
        when(plan.cancelled_at) if plan.cancelled_at else "", when(plan.updated), "",
    )  # fmt: skip


def _line_rows(s: Summary) -> Iterator[Row]:
    returned = {k: qty for k, qty, _, _ in s.refund_lines}
    shipped = s.plan.fulfilled_at is not None
    for k, (spec, (gross, alloc, tax)) in enumerate(zip(s.specs, s.amounts, strict=True)):
        description = (
            spec.title
            if spec.variant_title == "Default Title"
            else f"{spec.title} - {spec.variant_title}"
        )
        yield (so_no(s.pos), 10 * (k + 1), spec.sku, description, spec.quantity, amt(spec.price),
               amt(alloc), amt(tax), amt(gross - alloc), spec.quantity if shipped else 0,
               returned.get(k, 0), when(s.plan.updated))  # fmt: skip


def _credit_rows(s: Summary) -> Iterator[Row]:
    at = s.plan.refund_at
    if at is None:
        return
    number = f"CN{s.pos + 1:07d}"
    for k, qty, subtotal, tax in s.refund_lines:
        yield (number, so_no(s.pos), 10 * (k + 1), s.specs[k].sku, qty, amt(subtotal), amt(tax),
               when(at), "RETURN", when(s.plan.updated), "")  # fmt: skip
    if s.plan.refund_full and s.shipping:
        yield (number, so_no(s.pos), 0, "FREIGHT", 1, amt(s.shipping), amt(0), when(at), "RETURN",
               when(s.plan.updated), "")  # fmt: skip


def _write(path: Path, header: tuple[str, ...], rows: Iterable[Row], encoding: str) -> Path:
    """Writes beside the file, then renames: a reader sees the old export or the new one."""
    partial = path.with_name(path.name + ".tmp")
    with partial.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return partial


def _orders(data: ShopData, ov: Overlay) -> Iterator[tuple[Row, list[Row], list[Row]]]:
    """Each order with its lines and credit notes, the journal's changes in; then the new ones."""
    for pos in range(data.n_orders):
        s = data.summary(pos)
        lines = [ov.line(row) for row in _line_rows(s)]
        yield ov.order(_order_row(data, s)), lines, list(_credit_rows(s))
    for row, new_lines in ov.new_orders:
        yield ov.order(row), [ov.line(li) for li in new_lines], []
    yield (), [], ov.credits


def _journal(out: Path, orders: int, seed: int) -> list[dict[str, Any]]:
    """The folder's journal, when it was applied to the same shop (refused otherwise)."""
    entries = read_journal(out)
    if entries:
        was = read_settings(out)
        if (was["orders"], was["seed"]) != (orders, seed):
            raise ValueError(
                f"{out} holds imports applied to the shop of {was['orders']} orders, seed "
                f"{was['seed']}: generate that again, or remove {applied_dir(out)} to start over"
            )
    return entries


def generate_erp_csv(out_dir: str | Path, orders: int = 200, seed: int = 1,
                     encoding: str = "utf-8", *, keep_receipts: bool = False) -> dict[str, Path]:  # fmt: skip
    """Writes the ERP's CSV exports for a shop of `orders` orders; returns file name -> path.

    Imports already applied in the folder (its journal) are replayed over the generated shop;
    `keep_receipts` keeps the rows the warehouse appended to return_receipts.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ov = overlay(_journal(out, orders, seed))
    data = generate(orders=orders, seed=seed)
    paths = {name: out / name for name in FILES}
    partials = [
        _write(paths["items.csv"], FILES["items.csv"], _items(data), encoding),
        _write(paths["customers.csv"], FILES["customers.csv"], _customers(data), encoding),
        _write(paths["warehouses.csv"], FILES["warehouses.csv"], _warehouses(data), encoding),
        _write(paths["stock.csv"], FILES["stock.csv"], map(ov.stock_row, _stock(data)), encoding),
    ]
    receipts = paths["return_receipts.csv"]
    if not (keep_receipts and receipts.exists()):
        partials.append(_write(receipts, FILES["return_receipts.csv"], [], encoding))
    partials += _write_orders(out, paths, _orders(data, ov), encoding)
    for partial in partials:
        os.replace(partial, partial.with_name(partial.name.removesuffix(".tmp")))
    (out / IMPORTS).mkdir(exist_ok=True)
    write_settings(out, orders, seed, encoding)
    return paths


def _write_orders(
    out: Path, paths: dict[str, Path], rows: Iterator[tuple[Row, list[Row], list[Row]]],
    encoding: str,
) -> list[Path]:  # fmt: skip
    names = ("sales_orders.csv", "sales_order_lines.csv", "credit_notes.csv")
    partials = [paths[n].with_name(n + ".tmp") for n in names]
    handles = [p.open("w", encoding=encoding, newline="") for p in partials]
    try:
        orders_w, lines_w, credits_w = (
            csv.writer(h, delimiter=";", lineterminator="\r\n") for h in handles
        )
        for writer, name in zip((orders_w, lines_w, credits_w), names, strict=True):
            writer.writerow(FILES[name])
        for order, lines, credits in rows:
            if order:
                orders_w.writerow(order)
            lines_w.writerows(lines)
            credits_w.writerows(credits)
    finally:
        for handle in handles:
            handle.close()
    return partials
