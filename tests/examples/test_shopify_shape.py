"""The shopify-like demo's records have (at least) the keys of real Shopify REST payloads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.examples.conftest import walk


def missing_keys(real: Any, ours: Any, path: str = "$") -> list[str]:
    """Keys the real payload has that ours lacks, at every level (lists: first items)."""
    missing: list[str] = []
    if isinstance(real, dict) and isinstance(ours, dict):
        for key, value in real.items():
            if key not in ours:
                missing.append(f"{path}.{key}")
            elif value is not None and ours[key] is not None:
                missing.extend(missing_keys(value, ours[key], f"{path}.{key}"))
    elif isinstance(real, list) and isinstance(ours, list) and real and ours:
        missing.extend(missing_keys(real[0], ours[0], f"{path}[0]"))
    return missing


def first(client: httpx.Client, path: str, key: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    response.raise_for_status()
    record: dict[str, Any] = response.json()[key][0]
    return record


def refunded_order(client: httpx.Client) -> dict[str, Any]:
    orders = walk(client, "/orders.json", {"status": "any", "limit": 250}, "orders")
    return next(o for o in orders if o["refunds"])


@pytest.mark.parametrize(
    ("fixture", "extract", "path", "key", "params"),
    [
        pytest.param("order.json", lambda f: f["order"], "/orders.json", "orders", {"status": "closed"}, id="order (single)"),
        pytest.param("orders.json", lambda f: f["orders"][0], "/orders.json", "orders", {"status": "closed"}, id="order (list)"),
        pytest.param("products.json", lambda f: f[0], "/products.json", "products", {}, id="product"),
        pytest.param("customer.json", lambda f: f["customer"], "/customers.json", "customers", {}, id="customer"),
        pytest.param("locations.json", lambda f: f["locations"][0], "/locations.json", "locations", {}, id="location"),
        pytest.param("inventory_levels.json", lambda f: f["inventory_levels"][0], "/inventory_levels.json",
                     "inventory_levels", {"location_ids": "60000000000"}, id="inventory level"),
    ],
)  # fmt: skip
def test_record_keys_superset_of_real_shopify(
    shopify_fixture: Any, client: httpx.Client, fixture: str, extract: Any, path: str, key: str,
    params: dict[str, Any],
) -> None:  # fmt: skip
    real = extract(shopify_fixture(fixture))
    ours = first(client, path, key, **params)
    assert missing_keys(real, ours) == []


def test_refund_keys_superset_of_real_shopify(shopify_fixture: Any, client: httpx.Client) -> None:
    real = shopify_fixture("refund.json")["refund"]
    ours = refunded_order(client)["refunds"][0]
    assert missing_keys(real, ours) == []


def test_values_have_shopify_formats(client: httpx.Client) -> None:
    order = first(client, "/orders.json", "orders", status="any")
    product = first(client, "/products.json", "products")
    assert isinstance(order["total_price"], str) and order["total_price"].count(".") == 1
    assert order["created_at"].endswith("-05:00") and "T" in order["created_at"]
    assert order["billing_address"]["address2"] is None
    variant = product["variants"][0]
    assert variant["price"].replace(".", "").isdigit() and len(variant["price"].split(".")[1]) == 2
    assert variant["inventory_item_id"] and variant["option1"] is not None
