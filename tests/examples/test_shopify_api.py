"""Reading the shopify-like demo over HTTP: Link pagination, filters, counts, auth."""

from __future__ import annotations

import httpx
import pytest

from examples.shopify_like import ShopHandle
from tests.examples.conftest import SHOP_ORDERS, walk

UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


def test_pagination_walks_every_order_exactly_once(client: httpx.Client) -> None:
    orders = walk(client, "/orders.json", {"status": "any", "limit": 250}, "orders")
    ids = [o["id"] for o in orders]
    assert len(ids) == SHOP_ORDERS == len(set(ids))
    assert ids == sorted(ids)


def test_pagination_link_header_has_next_and_previous(client: httpx.Client) -> None:
    first = client.get("/orders.json", params={"status": "any", "limit": 100})
    assert set(first.links) == {"next"}
    second = client.get(first.links["next"]["url"])
    assert set(second.links) == {"next", "previous"}
    assert 'rel="previous"' in second.headers["link"] and "page_info=" in second.headers["link"]
    back = client.get(second.links["previous"]["url"])
    assert [o["id"] for o in back.json()["orders"]] == [o["id"] for o in first.json()["orders"]]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [pytest.param(None, 50, id="default 50"), pytest.param("250", 250, id="max 250"),
     pytest.param("1000", 250, id="capped at 250")],
)  # fmt: skip
def test_limit(client: httpx.Client, limit: str | None, expected: int) -> None:
    params = {"status": "any"} | ({"limit": limit} if limit else {})
    assert len(client.get("/orders.json", params=params).json()["orders"]) == expected


def test_page_info_refuses_other_filters(client: httpx.Client) -> None:
    first = client.get("/products.json", params={"limit": 5})
    url = first.links["next"]["url"] + "&since_id=1"
    response = client.get(url)
    assert response.status_code == 400 and "page_info" in response.json()["errors"]


def test_orders_default_to_open_like_shopify(client: httpx.Client) -> None:
    counts = {s: client.get("/orders/count.json", params={"status": s}).json()["count"]
              for s in ("open", "closed", "cancelled", "any")}  # fmt: skip
    assert client.get("/orders/count.json").json()["count"] == counts["open"]
    assert counts["open"] + counts["closed"] + counts["cancelled"] == counts["any"] == SHOP_ORDERS
    assert min(counts.values()) > 0


@pytest.mark.parametrize(
    "resource", ["products", "customers", "locations", "custom_collections", "collects"]
)
def test_count_matches_listing(client: httpx.Client, resource: str) -> None:
    records = walk(client, f"/{resource}.json", {"limit": 250}, resource)
    assert client.get(f"/{resource}/count.json").json()["count"] == len(records) > 0


def test_since_id_and_ids_filters(client: httpx.Client) -> None:
    products = client.get("/products.json", params={"limit": 10}).json()["products"]
    after = client.get("/products.json", params={"since_id": products[4]["id"], "limit": 3})
    assert [p["id"] for p in after.json()["products"]] == [p["id"] for p in products[5:8]]
    wanted = f"{products[7]['id']},{products[2]['id']}"
    chosen = client.get("/products.json", params={"ids": wanted}).json()["products"]
    assert [p["id"] for p in chosen] == [products[2]["id"], products[7]["id"]]


def test_inventory_levels_by_item_and_location(client: httpx.Client) -> None:
    product = client.get("/products.json", params={"limit": 1}).json()["products"][0]
    items = [v["inventory_item_id"] for v in product["variants"]]
    locations = client.get("/locations.json").json()["locations"]
    assert len(locations) == 3
    levels = client.get("/inventory_levels.json",
                        params={"inventory_item_ids": ",".join(map(str, items))}).json()["inventory_levels"]  # fmt: skip
    assert {(lv["inventory_item_id"], lv["location_id"]) for lv in levels} == {
        (i, loc["id"]) for i in items for loc in locations}  # fmt: skip
    by_item = {
        i: sum(lv["available"] for lv in levels if lv["inventory_item_id"] == i) for i in items
    }
    assert by_item == {v["inventory_item_id"]: v["inventory_quantity"] for v in product["variants"]}
    one = client.get(
        "/inventory_levels.json", params={"location_ids": str(locations[1]["id"]), "limit": 250}
    )
    assert {lv["location_id"] for lv in one.json()["inventory_levels"]} == {locations[1]["id"]}
    assert client.get("/inventory_levels.json").status_code == 422


def test_collects_link_products_to_collections(client: httpx.Client) -> None:
    collections = client.get("/custom_collections.json").json()["custom_collections"]
    collects = walk(
        client, "/collects.json", {"limit": 250, "collection_id": collections[0]["id"]}, "collects"
    )
    assert collects and {c["collection_id"] for c in collects} == {collections[0]["id"]}
    products = walk(
        client, "/products.json", {"limit": 250, "collection_id": collections[0]["id"]}, "products"
    )
    assert sorted(p["id"] for p in products) == sorted(c["product_id"] for c in collects)


def test_customer_aggregates_match_orders(client: httpx.Client) -> None:
    orders = walk(client, "/orders.json", {"status": "any", "limit": 250}, "orders")
    customer = client.get("/customers.json", params={"limit": 1}).json()["customers"][0]
    mine = [o for o in orders if o["customer"]["id"] == customer["id"]]
    assert customer["orders_count"] == len(mine)
    assert customer["last_order_id"] == max(o["id"] for o in mine)
    spent = sum(_cents(o["total_price"]) - sum(_cents(t["amount"]) for r in o["refunds"] for t in r["transactions"])
                for o in mine if not o["cancelled_at"])  # fmt: skip
    assert _cents(customer["total_spent"]) == spent


def _cents(text: str) -> int:
    units, _, frac = text.partition(".")
    return int(units) * 100 + int(frac.ljust(2, "0"))


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no token", "wrong token"])
def test_auth_rejects_missing_or_wrong_token(shop: ShopHandle, token: str | None) -> None:
    headers = {"X-Shopify-Access-Token": token} if token else {}
    response = httpx.get(f"{shop.api_url}/products.json", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_single_record_and_not_found(client: httpx.Client) -> None:
    order = client.get("/orders.json", params={"limit": 1}).json()["orders"][0]
    assert client.get(f"/orders/{order['id']}.json").json()["order"] == order
    variant_id = order["line_items"][0]["variant_id"]
    assert client.get(f"/variants/{variant_id}.json").json()["variant"]["id"] == variant_id
    assert client.get("/orders/1.json").status_code == 404
    assert client.get("/orders.json", params={"fields": "id,name", "limit": 1}).json()["orders"][
        0
    ].keys() == {"id", "name"}
