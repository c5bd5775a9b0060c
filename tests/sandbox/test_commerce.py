"""Commerce Data API: products, variants, customers, locations, inventories, collections, and
the shared rules (validation, pagination), through real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.sandbox.commerce.common import Store
from engine.sandbox.server import SandboxHandle
from tests.sandbox.conftest import ADDRESS, Maker


def test_commerce_product_create_get_update_delete(api: httpx.Client, make: Maker) -> None:
    created = api.post(
        "/products",
        json={
            "external_id": "p1",
            "name": "Shirt",
            "price": {"amount": 3250, "currency_code": "USD"},
            "channel": "web",
        },
    )
    assert created.status_code == 201
    product = created.json()["product"]
    assert product["channel"]["name"] == "web" and product["collections"] == []
    assert api.post("/products", json={"external_id": "p1", "name": "Again"}).json() == {
        "message": "The given data was invalid.",
        "errors": {"external_id": ["The external_id has already been taken."]},
    }
    updated = api.put(f"/products/{product['id']}", json={"name": "Shirt 2"})
    assert updated.status_code == 200
    assert updated.json()["product"]["name"] == "Shirt 2"
    assert updated.json()["product"]["price"]["amount"] == 3250
    assert api.get("/products/external/p1").json()["product"]["name"] == "Shirt 2"
    assert api.delete(f"/products/{product['id']}").json() == {"id": product["id"], "success": True}
    assert api.get(f"/products/{product['id']}").status_code == 404
    assert api.delete(f"/products/{product['id']}").status_code == 404


def test_commerce_product_upsert_keeps_the_id(api: httpx.Client, make: Maker) -> None:
    first = make.product("p1")
    second = api.put("/products", json={"external_id": "p1", "name": "Renamed"})
    assert second.status_code == 200
    assert second.json()["product"]["id"] == first["id"]
    assert second.json()["product"]["name"] == "Renamed"
    assert len(api.get("/products").json()["products"]) == 1


def test_commerce_product_list_filters(api: httpx.Client, make: Maker) -> None:
    make.product("a", barcode="111")
    make.product("b", barcode="222")
    make.product("c")

    def names(**q: str) -> list[str]:
        return [p["external_id"] for p in api.get("/products", params=q).json()["products"]]

    assert names(external_id="b") == ["b"]
    assert names(barcode="111") == ["a"]
    assert (
        api.get("/products?external_ids[]=a&external_ids[]=c").json()["products"][1]["external_id"]
        == "c"
    )
    assert names(sort_order="desc") == ["c", "b", "a"]


def test_commerce_validation_names_every_bad_field(api: httpx.Client, make: Maker) -> None:
    response = api.put(
        "/products", json={"name": 5, "price": {"amount": 32.5}, "weight_grams": "x"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "The given data was invalid."
    assert set(body["errors"]) == {"external_id", "name", "price.amount", "weight_grams"}
    assert body["errors"]["external_id"] == ["The external_id field is required."]
    location = api.put(
        "/locations",
        json={"external_id": "l1", "name": "W", "status": "open", "address": {"city": "X"}},
    )
    assert set(location.json()["errors"]) == {"status", "address.address1", "address.country_code"}


def test_commerce_variants_create_is_not_an_upsert(api: httpx.Client, make: Maker) -> None:
    product = make.product()
    path = f"/products/{product['id']}/product-variants"
    body = {
        "external_id": "v1",
        "name": "Red",
        "taxable": True,
        "options": [{"position": 1, "value": "Red"}],
    }
    created = api.post(path, json=body)
    assert created.status_code == 201
    variant = created.json()["product_variant"]
    assert variant["product"] == {
        "id": product["id"],
        "external_id": "p1",
        "sku": None,
        "name": "Product p1",
    }
    duplicate = api.post(path, json=body)
    assert duplicate.status_code == 422
    assert "external_id" in duplicate.json()["errors"]
    upserted = api.put(path, json={**body, "name": "Crimson"})
    assert upserted.status_code == 200
    assert upserted.json()["product_variant"]["id"] == variant["id"]
    by_external = api.put("/products/external/p1/product-variants", json={**body, "sku": "S"})
    assert by_external.json()["product_variant"]["id"] == variant["id"]
    assert api.put("/products/external/nope/product-variants", json=body).status_code == 404
    assert (
        api.get(f"/products/{product['id']}").json()["product"]["default_variant_id"]
        == variant["id"]
    )


def test_commerce_variant_get_patch_delete_and_list(api: httpx.Client, make: Maker) -> None:
    product = make.product()
    red = make.variant(product["id"], "v1", barcode="B1")
    make.variant(product["id"], "v2", name="Blue", options=[{"position": 1, "value": "Blue"}])
    base = f"/products/{product['id']}/product-variants"
    assert api.get(f"{base}/{red['id']}").json()["product_variant"]["external_id"] == "v1"
    patched = api.patch(f"{base}/{red['id']}", json={"sku": "RED-1"})
    assert patched.status_code == 200 and patched.json()["product_variant"]["sku"] == "RED-1"
    listed = api.get(base, params={"barcode": "B1"}).json()
    assert [v["id"] for v in listed["product_variants"]] == [red["id"]]
    assert len(api.get(base).json()["product_variants"]) == 2
    assert api.delete(f"{base}/{red['id']}").json() == {"id": red["id"], "success": True}
    assert api.get(f"{base}/{red['id']}").status_code == 404


def test_commerce_variant_options_must_match_the_product(api: httpx.Client, make: Maker) -> None:
    product = make.product()
    response = api.put(
        f"/products/{product['id']}/product-variants",
        json={
            "external_id": "v1",
            "name": "x",
            "taxable": True,
            "options": [{"position": 1, "value": "red"}, {"position": 2, "value": "M"}],
        },
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"options.0.value", "options.1.value"}


def test_commerce_customers_and_locations(api: httpx.Client, make: Maker) -> None:
    customer = make.customer()
    assert customer["id"] > 2**53 and customer["email"] == "ada@example.com"
    again = api.put("/customers", json={"external_id": "c1", "phone": "+1999"}).json()["customer"]
    assert again["id"] == customer["id"] and again["first_name"] == "Ada"
    assert api.post("/customers", json={"external_id": "c1"}).status_code == 422
    bad = api.put("/customers", json={"external_id": "c2", "email": "not-an-email"})
    assert list(bad.json()["errors"]) == ["email"]
    location = make.location()
    assert location["address"] == ADDRESS and location["status"] == "active"
    moved = api.put(f"/locations/{location['id']}", json={"status": "inactive"})
    assert moved.json()["location"]["status"] == "inactive"
    assert (
        api.get("/locations", params={"external_id": "l1"}).json()["locations"][0]["id"]
        == location["id"]
    )
    assert api.delete(f"/customers/{customer['id']}").json()["success"] is True
    assert api.delete("/locations/external/l1").json() == {"id": location["id"], "success": True}


def test_commerce_inventories(api: httpx.Client, make: Maker) -> None:
    product = make.product()
    variant = make.variant(product["id"])
    location = make.location()
    path = f"/inventories/{variant['id']}/{location['id']}"
    assert api.get(path).status_code == 404
    created = api.post(path, json={"available_count": 4})
    assert created.status_code == 201
    assert created.json()["product_variant"][0]["id"] == variant["id"]
    assert created.json()["location"][0]["id"] == location["id"]
    assert api.post(path, json={"available_count": 4}).status_code == 422
    assert api.put(path, json={"available_count": 9}).json()["available_count"] == 9
    assert api.put(path, json={"available_count": "9"}).status_code == 422
    assert api.get(path).json()["available_count"] == 9
    listed = api.get("/inventories", params={"location_id": location["id"]}).json()
    assert [i["available_count"] for i in listed["inventories"]] == [9]
    assert api.get("/inventories", params={"product_variant_id": 1}).json()["inventories"] == []
    shown = api.get(f"/products/{product['id']}/product-variants/{variant['id']}").json()
    assert shown["product_variant"]["inventories"][0]["available_count"] == 9
    assert (
        api.put(f"/inventories/{variant['id']}/123", json={"available_count": 1}).status_code == 404
    )
    assert api.delete(path).json() == {
        "product_variant_id": variant["id"],
        "location_id": location["id"],
        "success": True,
    }


def test_commerce_collections_and_attached_products(api: httpx.Client, make: Maker) -> None:
    shirt, hat = make.product("shirt"), make.product("hat")
    created = api.post(
        "/collections",
        json={"external_id": "summer", "name": "Summer", "products": [{"id": shirt["id"]}]},
    )
    assert created.status_code == 201
    collection = created.json()["collection"]
    assert [p["id"] for p in collection["products"]] == [shirt["id"]]
    assert api.get(f"/products/{shirt['id']}").json()["product"]["collections"] == [
        {"id": collection["id"], "external_id": "summer", "name": "Summer"}
    ]
    attached = api.post(f"/collections/{collection['id']}/products/{hat['id']}")
    assert [p["id"] for p in attached.json()["collection"]["products"]] == [shirt["id"], hat["id"]]
    detached = api.delete(f"/collections/{collection['id']}/products/{shirt['id']}")
    assert [p["id"] for p in detached.json()["collection"]["products"]] == [hat["id"]]
    assert api.get(f"/products/{shirt['id']}").json()["product"]["collections"] == []
    unknown = api.put(
        "/collections",
        json={"external_id": "x", "name": "X", "products": [{"id": 42}, {"id": hat["id"]}]},
    )
    assert unknown.status_code == 422
    assert list(unknown.json()["errors"]) == ["products.0.id"]


@pytest.mark.parametrize(
    "query, field",
    [
        pytest.param("limit=0", "limit", id="limit 0"),
        pytest.param("limit=251", "limit", id="limit 251"),
        pytest.param("limit=x", "limit", id="limit not a number"),
        pytest.param("sort_order=up", "sort_order", id="bad sort order"),
        pytest.param("cursor=garbage", "cursor", id="bad cursor"),
    ],
)
def test_commerce_pagination_rejects_bad_parameters(
    api: httpx.Client, query: str, field: str
) -> None:
    response = api.get(f"/products?{query}")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


def _seed_customers(server: SandboxHandle, count: int) -> list[int]:
    """Many records at once straight into the store: pagination is what is tested here."""
    with server.sandbox.transaction() as db:
        store = Store(server.sandbox, db)
        ids = store.new_ids(count)
        for i, loop_id in enumerate(ids):
            store.put("customer", {"id": loop_id, "external_id": f"c{i:03}"})
    return ids


def _walk(api: httpx.Client, url: str, key: str) -> tuple[list[int], list[Any]]:
    seen, pages = [], []
    next_url: str | None = url
    while next_url:
        page = api.get(next_url).json()
        pages.append(page)
        seen.extend(r["id"] for r in page[key])
        next_url = page["next_page_url"]
    return seen, pages


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_commerce_pagination_round_trip(
    server: SandboxHandle, api: httpx.Client, order: str
) -> None:
    ids = _seed_customers(server, 260)
    seen, pages = _walk(api, f"/customers?limit=250&sort_order={order}", "customers")
    assert seen == (ids if order == "asc" else ids[::-1])
    assert [len(p["customers"]) for p in pages] == [250, 10]
    assert pages[0]["previous_page_url"] is None and pages[1]["next_page_url"] is None
    assert pages[1]["next_page_url"] is None
    assert pages[0]["next_page_url"].startswith(f"{server.api_url()}/customers?")
    back = api.get(pages[1]["previous_page_url"]).json()
    assert [c["id"] for c in back["customers"]] == [c["id"] for c in pages[0]["customers"]]


def test_commerce_pagination_default_limit_keeps_filters(
    server: SandboxHandle, api: httpx.Client
) -> None:
    _seed_customers(server, 120)
    seen, pages = _walk(api, "/customers", "customers")
    assert [len(p["customers"]) for p in pages] == [50, 50, 20]
    assert len(set(seen)) == 120
    filtered = api.get("/customers", params={"external_id": "c007"}).json()
    assert [c["external_id"] for c in filtered["customers"]] == ["c007"]
