"""erp-like CSV exports and the oms-like SQLite database: documented layout, deterministic."""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from pathlib import Path

import pytest

from examples.erp_like import FILES, generate_erp_csv
from examples.oms_like import STATUSES, TABLES, generate_oms_db


def _digest(folder: Path) -> str:
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(folder.glob("*.csv")))
    ).hexdigest()


def _rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_erp_files_and_columns(tmp_path: Path) -> None:
    paths = generate_erp_csv(tmp_path, orders=120, seed=3)
    assert sorted(paths) == sorted(FILES)
    for name, columns in FILES.items():
        header = paths[name].read_bytes().decode("utf-8").split("\r\n", 1)[0]
        assert tuple(header.split(";")) == columns
    orders = _rows(paths["sales_orders.csv"])
    assert len(orders) == 120 and {o["STATUS"] for o in orders} == {"O", "C", "X"}
    assert orders[0]["ORDER_DATE"][10] == " " and "T" not in orders[0]["MODIFIED"]


def test_erp_rows_reference_each_other(tmp_path: Path) -> None:
    paths = generate_erp_csv(tmp_path, orders=120, seed=3)
    items = _rows(paths["items.csv"])
    variants = {i["ITEM_NO"] for i in items if i["ITEM_TYPE"] == "V"}
    parents = {i["ITEM_NO"] for i in items if i["ITEM_TYPE"] == "P"}
    assert {i["PARENT_NO"] for i in items if i["ITEM_TYPE"] == "V"} == parents
    assert {line["ITEM_NO"] for line in _rows(paths["sales_order_lines.csv"])} <= variants
    customers = {c["CUST_NO"] for c in _rows(paths["customers.csv"])}
    assert {o["CUST_NO"] for o in _rows(paths["sales_orders.csv"])} <= customers
    assert len(_rows(paths["stock.csv"])) == 3 * len(variants)
    assert {c["ITEM_NO"] for c in _rows(paths["credit_notes.csv"])} <= variants | {"FREIGHT"}


def test_erp_thousands_separator_and_latin1(tmp_path: Path) -> None:
    generate_erp_csv(tmp_path, orders=3000, seed=1, encoding="latin-1")
    amounts = [o["GROSS_AMOUNT"] for o in _rows(tmp_path / "sales_orders.csv", "latin-1")]
    prices = [i["UNIT_PRICE"] for i in _rows(tmp_path / "items.csv", "latin-1")]
    assert any("," in a for a in amounts) and any("," in p for p in prices)
    assert all(a.count(".") == 1 for a in amounts + prices)
    names = {c["LAST_NAME"] for c in _rows(tmp_path / "customers.csv", "latin-1")}
    assert "Müller" in names


def test_erp_deterministic(tmp_path: Path) -> None:
    generate_erp_csv(tmp_path / "a", orders=80, seed=9)
    generate_erp_csv(tmp_path / "b", orders=80, seed=9)
    generate_erp_csv(tmp_path / "c", orders=80, seed=10)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def _dump(path: Path) -> list[object]:
    db = sqlite3.connect(path)
    try:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES]
    finally:
        db.close()


def test_oms_tables_and_content(tmp_path: Path) -> None:
    path = generate_oms_db(tmp_path / "oms.sqlite", orders=150, seed=4)
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == set(TABLES)
    columns = [r[1] for r in db.execute("PRAGMA table_info(orders)")]
    assert "updated_at" in columns and "total_cents" in columns
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (150,)
    assert {r[0] for r in db.execute("SELECT DISTINCT status FROM orders")} <= set(STATUSES)
    bad = db.execute("""SELECT count(*) FROM orders WHERE total_cents !=
                        subtotal_cents - discount_cents + tax_cents + shipping_cents""").fetchone()
    assert bad == (0,)
    orphans = db.execute("SELECT count(*) FROM order_lines l LEFT JOIN skus s ON s.id = l.sku_id "
                         "WHERE s.id IS NULL").fetchone()  # fmt: skip
    assert orphans == (0,)
    (stamp,) = db.execute("SELECT placed_at FROM orders LIMIT 1").fetchone()
    assert isinstance(stamp, int) and stamp > 1_700_000_000_000
    db.close()


def test_oms_deterministic(tmp_path: Path) -> None:
    a = generate_oms_db(tmp_path / "a.sqlite", orders=60, seed=9)
    b = generate_oms_db(tmp_path / "b.sqlite", orders=60, seed=9)
    c = generate_oms_db(tmp_path / "c.sqlite", orders=60, seed=10)
    assert _dump(a) == _dump(b) != _dump(c)


@pytest.mark.parametrize("orders", [0, 1])
def test_tiny_sizes(tmp_path: Path, orders: int) -> None:
    generate_erp_csv(tmp_path / "erp", orders=orders, seed=1)
    generate_oms_db(tmp_path / "oms.sqlite", orders=orders, seed=1)
    assert len(_rows(tmp_path / "erp" / "sales_orders.csv")) == orders
