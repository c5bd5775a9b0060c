"""oms-like: an order management system's SQLite database, generated from the demo shop.

Tables (all times are epoch milliseconds, UTC, in INTEGER columns; money is integer cents;
every table but the link tables has `updated_at` for incremental extraction, indexed):

- stores(id, code, name, address_line1, address_line2, city, region, postal_code,
  country_code, phone, created_at, updated_at): the stock-holding locations.
- products(id, title, brand, category, description, handle, status, created_at, updated_at)
- skus(id, product_id, sku, barcode, title, options_json, price_cents, currency,
  weight_g, created_at, updated_at): options_json is a JSON object {"Size": "M", ...} in the
  product's option order.
- collections(id, name, updated_at); product_collections(product_id, collection_id)
- customers(id, email, first_name, last_name, phone, address_line1, address_line2, city,
  region, postal_code, country_code, created_at, updated_at)
- stock_levels(sku_id, store_id, on_hand, updated_at), primary key (sku_id, store_id)
- orders(id, order_ref, customer_id, status, currency, subtotal_cents, discount_cents,
  tax_cents, shipping_cents, total_cents, placed_at, closed_at, cancelled_at, updated_at,
  reference);
  status is one of new, shipped, completed, cancelled; subtotal_cents is the lines before
  discount, so total = subtotal - discount + tax + shipping.
- order_lines(id, order_id, line_no, sku_id, quantity, unit_price_cents, discount_cents,
  tax_cents, updated_at): discount and tax are for the whole line
- shipments(id, order_id, store_id, carrier, tracking_number, shipped_at, updated_at): one per
  shipped order, covering every line.
- refunds(id, order_id, amount_cents, reason, created_at, updated_at, reference) and
  refund_lines(id, refund_id, order_line_id, quantity, amount_cents, tax_cents)

Writers (the engine's SQL outcome steps, see examples/README.md): every `id` is an INTEGER
PRIMARY KEY, so an INSERT that leaves it out gets the next one; `reference` (orders, refunds;
indexed, NULL in generated rows) holds the Loop return id a row was written for; discount,
tax and shipping cents default to 0.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from examples.shopify_like import catalog, ids
from examples.shopify_like.data import ShopData, Summary, generate

SCHEMA = """
CREATE TABLE stores (id INTEGER PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL,
  address_line1 TEXT, address_line2 TEXT, city TEXT, region TEXT, postal_code TEXT,
  country_code TEXT, phone TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT NOT NULL, brand TEXT, category TEXT,
  description TEXT, handle TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE skus (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id),
  sku TEXT NOT NULL UNIQUE, barcode TEXT, title TEXT NOT NULL, options_json TEXT NOT NULL,
  price_cents INTEGER NOT NULL, currency TEXT NOT NULL, weight_g INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE collections (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE product_collections (product_id INTEGER NOT NULL, collection_id INTEGER NOT NULL,
  PRIMARY KEY (product_id, collection_id));
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT,
  last_name TEXT, phone TEXT, address_line1 TEXT, address_line2 TEXT, city TEXT, region TEXT,
  postal_code TEXT, country_code TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE stock_levels (sku_id INTEGER NOT NULL, store_id INTEGER NOT NULL,
  on_hand INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (sku_id, store_id));
CREATE TABLE orders (id INTEGER PRIMARY KEY, order_ref TEXT NOT NULL UNIQUE,
  customer_id INTEGER REFERENCES customers(id), status TEXT NOT NULL, currency TEXT NOT NULL,
  subtotal_cents INTEGER NOT NULL, discount_cents INTEGER NOT NULL DEFAULT 0,
  tax_cents INTEGER NOT NULL DEFAULT 0, shipping_cents INTEGER NOT NULL DEFAULT 0,
  total_cents INTEGER NOT NULL, placed_at INTEGER NOT NULL, closed_at INTEGER,
  cancelled_at INTEGER, updated_at INTEGER NOT NULL, reference TEXT);
CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
  line_no INTEGER NOT NULL, sku_id INTEGER NOT NULL REFERENCES skus(id),
  quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL,
  discount_cents INTEGER NOT NULL DEFAULT 0, tax_cents INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL);
CREATE TABLE shipments (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
  store_id INTEGER NOT NULL REFERENCES stores(id), carrier TEXT, tracking_number TEXT,
  shipped_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
  amount_cents INTEGER NOT NULL, reason TEXT, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, reference TEXT);
CREATE TABLE refund_lines (id INTEGER PRIMARY KEY, refund_id INTEGER NOT NULL REFERENCES refunds(id),
  order_line_id INTEGER NOT NULL REFERENCES order_lines(id), quantity INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL, tax_cents INTEGER NOT NULL DEFAULT 0);
CREATE TABLE return_inspections (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL
  REFERENCES orders(id), result TEXT NOT NULL, note TEXT, inspected_at INTEGER NOT NULL);
"""
TABLES = ("stores", "products", "skus", "collections", "product_collections", "customers",
          "stock_levels", "orders", "order_lines", "shipments", "refunds", "refund_lines",
          "return_inspections")  # fmt: skip
INDEXED = (
    "stores",
    "products",
    "skus",
    "customers",
    "stock_levels",
    "orders",
    "shipments",
    "refunds",
)
STATUSES = ("new", "shipped", "completed", "cancelled")
Row = tuple[object, ...]


def ms(ts: int | None) -> int | None:
    return None if ts is None else ts * 1000


def _catalog_rows(data: ShopData) -> Iterator[tuple[str, Row]]:
    for pos in range(data.n_products):
        brief = data.brief(pos)
        ptype, _, _, options, _, _ = catalog.PRODUCT_TYPES[brief.shape.type_index]
        updated = ms(brief.shape.updated)
        created = ms(brief.shape.updated - 30 * 86400)
        yield "products", (pos + 1, brief.title, brief.vendor, ptype,
                           f"The {brief.title.lower()}, made to last.", brief.handle, "active",
                           created, updated)  # fmt: skip
        names = [name for name, _ in options] or ["Title"]
        for k, combo in enumerate(brief.combos):
            slot = pos * ids.MAX_VARIANTS + k
            yield "skus", (slot + 1, pos + 1, brief.sku(k), catalog._ean13(slot), " / ".join(combo),
                           json.dumps(dict(zip(names, combo, strict=True)), ensure_ascii=False),
                           brief.prices[k], data.currency, brief.grams, created, updated)  # fmt: skip
            stamp = ms(catalog.stock_updated(data.seed, slot))
            for loc in range(data.n_locations):
                yield (
                    "stock_levels",
                    (slot + 1, loc + 1, catalog.base_available(data.seed, slot, loc), stamp),
                )
        for j in (0, 1):
            if catalog.collect_exists(data.seed, 2 * pos + j):
                yield "product_collections", (pos + 1, catalog.collect_collection(2 * pos + j) + 1)


def _people_rows(data: ShopData) -> Iterator[tuple[str, Row]]:
    for pos, loc in enumerate(catalog.LOCATIONS[: data.n_locations]):
        name, a1, a2, city, zip_, _, pcode, _, ccode, phone = loc
        stamp = ms(catalog.location_updated(pos))
        yield "stores", (pos + 1, ("WH01", "ST02", "ST03")[pos], name, a1, a2, city, pcode, zip_,
                         ccode, phone, stamp, stamp)  # fmt: skip
    for pos, title in enumerate(catalog.COLLECTIONS[: data.n_collections]):
        yield "collections", (pos + 1, title, ms(catalog.collection_updated(pos)))
    for pos in range(data.n_customers):
        p = data.person(pos)
        city, _, pcode, _, _, ccode, _ = p.place
        yield "customers", (pos + 1, p.email, p.first_name, p.last_name, p.phone, p.street, None,
                            city, pcode, p.zip, ccode, ms(p.created),
                            ms(data.customer_updated(pos)))  # fmt: skip


def _order_rows(s: Summary, currency: str) -> Iterator[tuple[str, Row]]:
    plan, oid = s.plan, s.pos + 1
    status = (
        "cancelled"
        if plan.cancelled_at
        else "completed"
        if plan.closed_at
        else ("shipped" if plan.fulfilled_at else "new")
    )
    updated = ms(plan.updated)
    yield "orders", (oid, f"OMS-{oid:07d}", s.customer_pos + 1, status, currency,
                     sum(g for g, _, _ in s.amounts), sum(a for _, a, _ in s.amounts),
                     sum(t for _, _, t in s.amounts), s.shipping, s.total, ms(plan.created),
                     ms(plan.closed_at), ms(plan.cancelled_at), updated, None)  # fmt: skip
    base = s.pos * ids.MAX_LINES + 1
    for k, (spec, (_, alloc, tax)) in enumerate(zip(s.specs, s.amounts, strict=True)):
        yield "order_lines", (base + k, oid, k + 1, spec.variant_id - ids.VARIANT + 1, spec.quantity,
                              spec.price, alloc, tax, updated)  # fmt: skip
    if plan.fulfilled_at:
        fulfillment = ids.FULFILLMENT + s.pos * 2
        yield "shipments", (oid, oid, plan.location + 1, ("UPS", "USPS")[fulfillment % 2],
                            f"1Z{fulfillment % 10**12:012d}", ms(plan.fulfilled_at), updated)  # fmt: skip
    if plan.refund_at:
        yield "refunds", (oid, oid, s.refunded, "return", ms(plan.refund_at), updated, None)
        for k, qty, subtotal, tax in s.refund_lines:
            yield "refund_lines", (base + k, oid, base + k, qty, subtotal, tax)


def _insert(db: sqlite3.Connection, rows: Iterator[tuple[str, Row]]) -> None:
    batches: dict[str, list[Row]] = {}
    for table, row in rows:
        batch = batches.setdefault(table, [])
        batch.append(row)
        if len(batch) >= 5000:
            _flush(db, table, batch)
    for table, batch in batches.items():
        _flush(db, table, batch)


def _flush(db: sqlite3.Connection, table: str, batch: list[Row]) -> None:
    if batch:
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(batch[0]))})", batch)
        batch.clear()


def _all_orders(data: ShopData) -> Iterator[tuple[str, Row]]:
    for pos in range(data.n_orders):
        yield from _order_rows(data.summary(pos), data.currency)


def generate_oms_db(path: str | Path, orders: int = 200, seed: int = 1) -> Path:
    """Writes the OMS database for a shop of `orders` orders (replacing the file) and returns it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    data = generate(orders=orders, seed=seed)
    db = sqlite3.connect(partial)
    try:
        db.executescript(SCHEMA)
        with db:
            _insert(db, _people_rows(data))
            _insert(db, _catalog_rows(data))
            _insert(db, _all_orders(data))
        for table in INDEXED:
            db.execute(f"CREATE INDEX {table}_updated_at ON {table}(updated_at)")
        db.execute("CREATE INDEX order_lines_order ON order_lines(order_id)")
        # outcome steps ask "already done for this Loop return?" before they write
        db.execute("CREATE INDEX orders_reference ON orders(reference)")
        db.execute("CREATE INDEX refunds_reference ON refunds(reference)")
        db.execute("CREATE INDEX refunds_order ON refunds(order_id)")
        db.commit()
    finally:
        db.close()
    os.replace(partial, target)
    return target
