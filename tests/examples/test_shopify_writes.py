"""Changing the shopify-like demo: demo admin calls and the writes outcome execution makes."""

from __future__ import annotations

from typing import Any

import httpx

from examples.common import iso
from examples.shopify_like import ShopHandle
from tests.examples.conftest import walk


def _cursor(shop: ShopHandle) -> str:
    """An updated_at_min later than every generated record (they all lie in the past)."""
    return iso(shop.store.now() - 1)


def test_touch_then_updated_at_min_returns_only_touched(fresh_shop: ShopHandle) -> None:
    cursor = _cursor(fresh_shop)
    products = fresh_shop.touch("products", count=3)
    with fresh_shop.client() as c:
        all_orders = c.get("/orders.json", params={"status": "any", "limit": 10}).json()["orders"]
        orders = fresh_shop.touch("orders", ids=[all_orders[4]["id"], all_orders[8]["id"]])
        changed_p = walk(c, "/products.json", {"updated_at_min": cursor}, "products")
        changed_o = walk(c, "/orders.json", {"updated_at_min": cursor, "status": "any"}, "orders")
        assert c.get("/customers.json", params={"updated_at_min": cursor}).json()["customers"] == []
        assert c.get(
            "/orders/count.json", params={"updated_at_min": cursor, "status": "any"}
        ).json() == {"count": 2}
    assert [p["id"] for p in changed_p] == products and [o["id"] for o in changed_o] == orders
    assert all("touched" in p["tags"] for p in changed_p)
    assert changed_o[0]["note"].startswith("Updated by the demo")


def test_touch_over_http_admin(fresh_shop: ShopHandle) -> None:
    response = httpx.post(
        f"{fresh_shop.base_url}/_demo/touch", json={"entity": "orders", "count": 2}
    )
    assert response.status_code == 200 and len(response.json()["touched"]) == 2
    bad = httpx.post(f"{fresh_shop.base_url}/_demo/touch", json={"entity": "planets", "count": 1})
    assert bad.status_code == 422


def test_corrupt_injects_bad_price_date_and_status(fresh_shop: ShopHandle) -> None:
    response = httpx.post(
        f"{fresh_shop.base_url}/_demo/corrupt", json={"entity": "orders", "count": 1}
    )
    (order_id,) = response.json()["corrupted"]
    with fresh_shop.client() as c:
        order = c.get(f"/orders/{order_id}.json").json()["order"]
        assert order["line_items"][0]["price"] == "12,3x"
        assert order["created_at"] == "2024-02-30T25:61:00-05:00"
        assert order["financial_status"] == "unknown_status"
        fresh_shop.restore("orders", ids=[order_id])
        fixed = c.get(f"/orders/{order_id}.json").json()["order"]
    assert fixed["line_items"][0]["price"] != "12,3x" and fixed["updated_at"] >= order["updated_at"]


def _closed_order(c: httpx.Client) -> dict[str, Any]:
    orders = c.get("/orders.json", params={"status": "closed", "limit": 50}).json()["orders"]
    return next(o for o in orders if not o["refunds"])


def test_refund_is_recorded_and_reflected(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        order = _closed_order(c)
        line = order["line_items"][0]
        item, location = line["variant_id"] + 100_000_000_000, 60_000_000_001
        before = c.get(
            "/inventory_levels.json", params={"inventory_item_ids": item, "location_ids": location}
        )
        body = {"refund": {"note": "Loop return", "refund_line_items": [
            {"line_item_id": line["id"], "quantity": 1, "restock_type": "return", "location_id": location}],
            "transactions": [{"kind": "refund", "gateway": "shopify_payments", "amount": "5.00"}]}}  # fmt: skip
        created = c.post(f"/orders/{order['id']}/refunds.json", json=body)
        assert created.status_code == 201
        after = c.get(f"/orders/{order['id']}.json").json()["order"]
        level = c.get(
            "/inventory_levels.json", params={"inventory_item_ids": item, "location_ids": location}
        )
        too_many = dict(body, refund=dict(body["refund"], refund_line_items=[
            {"line_item_id": line["id"], "quantity": line["quantity"] + 1}]))  # fmt: skip
        assert c.post(f"/orders/{order['id']}/refunds.json", json=too_many).status_code == 422
    assert after["refunds"][-1]["id"] == created.json()["refund"]["id"]
    assert (
        after["financial_status"] == "partially_refunded"
        and after["updated_at"] > order["updated_at"]
    )
    assert (
        level.json()["inventory_levels"][0]["available"]
        == before.json()["inventory_levels"][0]["available"] + 1
    )
    writes = fresh_shop.writes()
    assert [(w["status"], w["path"].endswith("/refunds.json")) for w in writes] == [
        (201, True),
        (422, True),
    ]
    assert httpx.get(f"{fresh_shop.base_url}/_demo/writes").json()["writes"][0]["body"] == body


def test_create_order_gets_next_id_and_is_listed(fresh_shop: ShopHandle) -> None:
    cursor = _cursor(fresh_shop)
    with fresh_shop.client() as c:
        product = c.get("/products.json", params={"limit": 1}).json()["products"][0]
        customer = c.get("/customers.json", params={"limit": 1}).json()["customers"][0]
        body = {"order": {"line_items": [{"variant_id": product["variants"][0]["id"], "quantity": 1,
                                          "price": "0.00"}], "customer": {"id": customer["id"]},
                          "tags": "exchange", "financial_status": "paid"}}  # fmt: skip
        created = c.post("/orders.json", json=body)
        assert created.status_code == 201
        order = created.json()["order"]
        listed = walk(c, "/orders.json", {"status": "any", "updated_at_min": cursor}, "orders")
        assert c.post("/orders.json", json={"order": {"line_items": []}}).status_code == 422
        assert c.get("/orders/count.json", params={"status": "any"}).json()["count"] == 61
    assert order["id"] == 5_000_000_000_060 and order["name"] == "#1061"
    assert order["total_price"] == "0.00" and order["customer"]["id"] == customer["id"]
    assert [o["id"] for o in listed] == [order["id"]]


def test_inventory_adjust_and_set(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        product = c.get("/products.json", params={"limit": 1}).json()["products"][0]
        variant = product["variants"][0]
        target = {"inventory_item_id": variant["inventory_item_id"], "location_id": 60_000_000_000}
        first = c.post("/inventory_levels/set.json", json=target | {"available": 10})
        second = c.post("/inventory_levels/adjust.json", json=target | {"available_adjustment": -3})
        assert (
            c.post(
                "/inventory_levels/adjust.json", json=target | {"available_adjustment": "x"}
            ).status_code
            == 422
        )
        again = c.get(f"/products/{product['id']}.json").json()["product"]["variants"][0]
    assert first.json()["inventory_level"]["available"] == 10
    assert second.json()["inventory_level"]["available"] == 7
    assert again["inventory_quantity"] == 7 + sum_other(fresh_shop, variant)
    assert again["old_inventory_quantity"] == 10 + sum_other(fresh_shop, variant)
    assert len(fresh_shop.writes()) == 3


def sum_other(shop: ShopHandle, variant: dict[str, Any]) -> int:
    slot = variant["inventory_item_id"] - 7_200_000_000_000
    return sum(shop.store.available(slot, loc) for loc in (1, 2))
