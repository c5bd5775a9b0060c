"""The oms-like outcome statements of examples/README.md, run against a generated database:
the oms-like mapping's next incremental extract sees the refund, the exchange and the stock."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.mapping.compile import compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.records import map_records
from engine.resources import mappings_dir
from examples.oms_like import generate_oms_db

README = Path(__file__).resolve().parents[2] / "examples" / "README.md"
NOW_MS = 1_767_225_600_000


def _statements() -> list[str]:
    """Every statement of the ```sql blocks in the README's oms-like outcomes section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## oms-like: writing outcomes", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 3, "refund, exchange order, restock"
    sql = "\n".join(line for b in blocks for line in b.splitlines() if not line.startswith("--"))
    return [s.strip() for s in sql.split(";") if s.strip()]


@pytest.fixture
def oms(tmp_path: Path) -> Path:
    return generate_oms_db(tmp_path / "oms.sqlite", orders=40, seed=7)


def _params(db: sqlite3.Connection) -> dict[str, Any]:
    """A shipped order's first line, unrefunded, and where its units are stocked."""
    order_id, customer_id, line_id, sku_id, store_id = db.execute(
        "SELECT o.id, o.customer_id, l.id, l.sku_id, sh.store_id FROM orders o "
        "JOIN order_lines l ON l.order_id = o.id JOIN shipments sh ON sh.order_id = o.id "
        "WHERE NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id) "
        "ORDER BY o.id, l.line_no LIMIT 1"
    ).fetchone()
    return {"return_id": "ret_9", "now_ms": NOW_MS, "order_id": order_id, "amount_cents": 1250,
            "order_line_id": line_id, "quantity": 1, "tax_cents": 100, "customer_id": customer_id,
            "currency": "USD", "exchange_sku_id": sku_id, "sku_id": sku_id, "store_id": store_id}  # fmt: skip


def _extract(oms: Path, entity: str, cursor: int) -> list[dict[str, Any]]:
    mapping = load_mapping(mappings_dir() / "oms-like.yaml", env={"OMS_DATABASE": str(oms)})
    connector = connector_class("sql")(mapping.source, mapping.base_dir)
    config = mapping.entities[entity].extract
    with connector:
        request = ExtractRequest(entity, config, str(cursor), mapping.base_dir)
        return [r for page in connector.extract(request) for r in page.records]


def test_oms_readme_statements_reach_the_next_extract(oms: Path) -> None:
    db = sqlite3.connect(oms)
    params = _params(db)
    cursor = db.execute("SELECT max(updated_at) FROM orders").fetchone()[0]
    stock_cursor = db.execute("SELECT max(updated_at) FROM stock_levels").fetchone()[0]
    on_hand = db.execute("SELECT on_hand FROM stock_levels WHERE sku_id = ? AND store_id = ?",
                         (params["sku_id"], params["store_id"])).fetchone()[0]  # fmt: skip
    with db:  # one transaction, as the README asks
        guards = [db.execute(s, params).fetchall() for s in _statements()]
    db.close()
    assert guards[0] == []  # "already done?" found nothing before the first write

    orders = _extract(oms, "orders", cursor)
    by_ref = {o["reference"]: o for o in orders}
    assert {o["id"] for o in orders} == {params["order_id"], by_ref["ret_9"]["id"]}
    refunded = next(o for o in orders if o["id"] == params["order_id"])
    compiled = compile_mapping(load_mapping(mappings_dir() / "oms-like.yaml"))
    results = list(map_records(compiled.entities["orders"], [refunded, by_ref["ret_9"]]))
    assert [r.errors for r in results] == [[], []]
    refunds = results[0].payload["refunds"]
    assert [(r["amount"]["amount"], r["line_item"]["quantity"]) for r in refunds] == [(1250, 1)]
    assert results[1].payload["name"] == "EX-ret_9"
    assert results[1].payload["line_items"][0]["quantity"] == 1

    stock = _extract(oms, "inventories", stock_cursor)
    assert [(s["sku_id"], s["store_id"], s["on_hand"]) for s in stock] == [
        (params["sku_id"], params["store_id"], on_hand + 1)
    ]


def test_oms_reference_finds_a_return_already_written(oms: Path) -> None:
    db = sqlite3.connect(oms)
    params = _params(db)
    statements = _statements()
    with db:
        for statement in statements:
            db.execute(statement, params)
    assert db.execute(statements[0], params).fetchall() != []  # the guard now says "done"
    with pytest.raises(sqlite3.IntegrityError, match="order_ref"):
        db.execute(next(s for s in statements if s.startswith("INSERT INTO orders")), params)
    db.close()
