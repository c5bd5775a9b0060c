"""Product variants and inventories through real HTTP (engine/sandbox/commerce/variants.py)."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import Maker


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
