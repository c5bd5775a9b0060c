"""The generated shop: deterministic per seed, and clean (valid for Loop) by default."""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from examples.shopify_like import generate, running_shopify_like
from examples.shopify_like.orders import cents


def _dump(orders: int, seed: int) -> str:
    shop = generate(orders=orders, seed=seed)
    return json.dumps([shop.order(i) for i in range(orders)] + [shop.product(i) for i in range(20)]
                      + [shop.customer(i) for i in range(10)], sort_keys=True)  # fmt: skip


def test_same_seed_same_data_and_other_seed_differs() -> None:
    assert _dump(40, 3) == _dump(40, 3)
    assert _dump(40, 3) != _dump(40, 4)


def test_same_seed_same_pages_over_http() -> None:
    pages = []
    for _ in range(2):
        with running_shopify_like(orders=30, seed=5) as shop, shop.client() as c:
            pages.append(c.get("/orders.json", params={"status": "any", "limit": 30}).content)
    assert pages[0] == pages[1]


def test_sizes_follow_order_count() -> None:
    shop = generate(orders=1000, seed=1)
    assert (shop.n_products, shop.n_customers, shop.n_locations) == (100, 333, 3)
    small = generate(orders=10, seed=1)
    assert (small.n_products, small.n_customers) == (20, 10)


def test_products_are_clean() -> None:
    shop = generate(orders=400, seed=2)
    for pos in range(shop.n_products):
        product = shop.product(pos)
        assert 1 <= len(product["variants"]) <= 4
        options = product["options"]
        for variant in product["variants"]:
            values = [variant[f"option{i + 1}"] for i in range(len(options))]
            assert all(v in o["values"] for v, o in zip(values, options, strict=True))
            assert all(variant[f"option{i + 1}"] is None for i in range(len(options), 3))
            assert cents(variant["price"]) > 0
        assert len({v["title"] for v in product["variants"]}) == len(product["variants"])


def test_orders_are_clean_and_add_up() -> None:
    shop = generate(orders=400, seed=2)
    variants = {
        v["id"]: p["id"]
        for i in range(shop.n_products)
        for p in [shop.product(i)]
        for v in p["variants"]
    }
    for pos in range(400):
        order = shop.order(pos)
        datetime.fromisoformat(order["created_at"])
        assert order["updated_at"] >= order["created_at"]
        lines = order["line_items"]
        assert all(variants[li["variant_id"]] == li["product_id"] for li in lines)
        tax = sum(cents(t["price"]) for li in lines for t in li["tax_lines"])
        assert (
            tax == cents(order["total_tax"]) == sum(cents(t["price"]) for t in order["tax_lines"])
        )
        shipping = cents(order["shipping_lines"][0]["price"])
        assert cents(order["total_price"]) == cents(order["subtotal_price"]) + tax + shipping
        refunded = sum(cents(t["amount"]) for r in order["refunds"] for t in r["transactions"])
        assert 0 <= refunded <= cents(order["total_price"])
        assert not order["refunds"] or order["fulfillments"]


def test_status_mix() -> None:
    shop = generate(orders=1000, seed=2)
    orders = [shop.order(i) for i in range(1000)]
    cancelled = sum(1 for o in orders if o["cancelled_at"])
    closed = sum(1 for o in orders if o["closed_at"])
    fulfilled = sum(1 for o in orders if o["fulfillment_status"] == "fulfilled")
    refunded = sum(1 for o in orders if o["refunds"])
    assert 30 < cancelled < 150 and 500 < closed < 850 and fulfilled > 700 and 40 < refunded < 200
    assert {o["financial_status"] for o in orders} >= {
        "paid",
        "refunded",
        "partially_refunded",
        "voided",
    }


def test_stop_is_quick_and_port_is_freed() -> None:
    with running_shopify_like(orders=20) as shop:
        url = shop.api_url
    try:
        httpx.get(url + "/shop.json", timeout=0.5)
        raise AssertionError("the server still answers after the context ended")
    except httpx.TransportError:
        pass
