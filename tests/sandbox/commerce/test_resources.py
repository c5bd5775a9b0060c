"""Commerce Data resources through real HTTP: products, customers, locations, collections, and
the shared validation (engine/sandbox/commerce/resources.py, common.py)."""

from __future__ import annotations

import httpx
import pytest

from engine.loop.kinds import KINDS
from engine.loop.kinds import Kind as LoopKind
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


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda k: k.name)
def test_commerce_serves_every_loop_kind_at_its_path(
    api: httpx.Client, make: Maker, kind: LoopKind
) -> None:
    """The sandbox emulates every row of engine.loop.kinds, at its path and with its list key."""
    if kind.parent is not None:
        parent = make.product()
        path = kind.child_path(str(parent["id"]))
    else:
        path = kind.path
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.json()[kind.list_key] == []
