"""Commerce Data orders: create / upsert / update / delete, references, line ids, refunds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.validation import validator
from tests.sandbox.conftest import Maker


@pytest.fixture
def product(make: Maker) -> dict[str, Any]:
    return make.product()


def test_orders_create_is_create_only_and_upsert_keeps_line_ids(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    payload = make.order_payload(product["id"])
    created = api.post("/orders", json=payload)
    assert created.status_code == 201
    order = created.json()["order"]
    assert order["id"] > 2**53 and order["fulfillments"] == [] and order["status"] == "active"
    lines = {li["external_id"]: li["id"] for li in order["line_items"]}
    assert all(i > 2**53 for i in lines.values())
    duplicate = api.post("/orders", json=payload)
    assert duplicate.status_code == 422 and "external_id" in duplicate.json()["errors"]
    upserted = api.put("/orders", json={**payload, "name": "#renamed"})
    assert upserted.status_code == 200
    again = upserted.json()["order"]
    assert again["id"] == order["id"] and again["name"] == "#renamed"
    assert {li["external_id"]: li["id"] for li in again["line_items"]} == lines


def test_orders_get_update_delete_by_id_and_external_id(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    order = api.put("/orders", json=make.order_payload(product["id"])).json()["order"]
    assert api.get(f"/orders/{order['id']}").json()["order"] == order
    assert api.get("/orders/external/o1").json()["order"]["id"] == order["id"]
    updated = api.put(f"/orders/{order['id']}", json={"status": "archived"})
    assert updated.status_code == 200 and updated.json()["order"]["status"] == "archived"
    no_key = api.put(
        f"/orders/{order['id']}",
        json={
            "line_items": [
                {"product": {"id": product["id"]}, "unit_price": {"amount": 1}, "taxable": True}
            ]
        },
    )
    assert list(no_key.json()["errors"]) == ["line_items.0"]
    assert api.get("/orders", params={"external_id": "o1"}).json()["orders"][0]["id"] == order["id"]
    assert api.delete("/orders/external/o1").json() == {"id": order["id"], "success": True}
    assert api.get(f"/orders/{order['id']}").status_code == 404
    assert api.delete(f"/orders/{order['id']}").status_code == 404


def test_orders_references_must_resolve(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    payload = make.order_payload(product["id"], customer={"id": 12345})
    payload["line_items"][1]["product"] = {"external_id": "nope"}
    payload["line_items"][0]["product_variant"] = {"id": 99}
    payload["fulfillments"] = [{"external_id": "f1", "status": "success", "location": {"id": 77}}]
    response = api.put("/orders", json=payload)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {
        "customer.id",
        "line_items.1.product.external_id",
        "line_items.0.product_variant.id",
        "fulfillments.0.location.id",
    }


def test_orders_reference_with_both_id_and_external_id_is_422(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    payload = make.order_payload(product["id"])
    payload["line_items"][0]["product"] = {"id": product["id"], "external_id": "p1"}
    response = api.put("/orders", json=payload)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["line_items.0.product"]


def test_orders_validation_names_every_bad_field(
    api: httpx.Client, product: dict[str, Any]
) -> None:
    response = api.put(
        "/orders",
        json={
            "external_id": "o1",
            "taxes_included": "no",
            "line_items": [{"unit_price": {"amount": 1.5}}],
        },
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {
        "name",
        "total_price",
        "created_at",
        "taxes_included",
        "line_items.0.product",
        "line_items.0.taxable",
        "line_items.0.unit_price.amount",
    }


def test_orders_created_at_is_optional_before_2026_10(
    server: Any, api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    payload = make.order_payload(product["id"])
    del payload["created_at"]
    assert list(api.put("/orders", json=payload).json()["errors"]) == ["created_at"]
    with server.client("2026-07") as old:
        assert old.put("/orders", json=payload).status_code == 200


def test_orders_customer_by_external_id(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    unknown = api.put(
        "/orders", json=make.order_payload(product["id"], customer={"external_id": "c9"})
    )
    assert list(unknown.json()["errors"]) == ["customer.external_id"]
    profile = {"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "phone": "1"}
    inline = api.put(
        "/orders", json=make.order_payload(product["id"], customer={"external_id": "c9", **profile})
    ).json()["order"]
    customer = api.get("/customers/external/c9").json()["customer"]
    assert inline["customer"] == {"id": customer["id"], "external_id": "c9", **profile}
    linked = api.put(
        "/orders", json=make.order_payload(product["id"], "o2", customer={"external_id": "c9"})
    ).json()["order"]
    assert linked["customer"]["id"] == customer["id"]


GUEST = {"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "phone": "1"}


@pytest.mark.parametrize(
    ("customer", "refused"),
    [
        ({"external_id": "g1", **GUEST}, set()),
        ({"external_id": "g2", **{**GUEST, "phone": None}}, {"customer.phone"}),
        ({"external_id": "g3", "email": "ada@example.com"}, {"customer"}),
        ({"external_id": "g4", **{k: v for k, v in GUEST.items() if k != "phone"}}, {"customer"}),
        ({"external_id": "g5", **{**GUEST, "first_name": ""}}, {"customer.first_name"}),
    ],
    ids=["all four", "null phone", "email only", "no phone", "empty first name"],
)
def test_orders_inline_customer_rule_is_the_engines(
    api: httpx.Client,
    make: Maker,
    product: dict[str, Any],
    customer: dict[str, Any],
    refused: set[str],
) -> None:
    """loop-api.md §2.2: "An inline upsert needs all four profile fields [3P]". The engine
    validates with the same order schema, so it refuses exactly the guest orders the sandbox
    refuses (the sandbox's 422 names each missing field; the engine names the object)."""
    payload = make.order_payload(product["id"], customer=customer)
    engine = {issue.path for issue in validator("order").errors(payload)}
    answer = api.put("/orders", json=payload)
    if not refused:
        assert engine == set() and answer.status_code == 200
        assert api.get("/customers/external/g1").json()["customer"]["phone"] == "1"
        return
    assert {path.removeprefix("$.") for path in engine} == refused
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert all(field.startswith("customer.") for field in errors), errors
    missing = {k for k in GUEST if k not in customer or not customer[k]}
    assert {field.removeprefix("customer.") for field in errors} == missing
    assert api.get(f"/customers/external/{customer['external_id']}").status_code == 404


def test_orders_fulfillments_reference_known_lines(
    api: httpx.Client, make: Maker, product: dict[str, Any]
) -> None:
    location = make.location()
    fulfillment = {
        "external_id": "f1",
        "status": "success",
        "location": {"id": location["id"]},
        "fulfilled_at": "2024-03-02T10:00:00+00:00",
        "fulfillment_line_items": [{"order_line_item_external_id": "o1-l1", "quantity": 1}],
    }
    order = api.put(
        "/orders", json=make.order_payload(product["id"], fulfillments=[fulfillment])
    ).json()["order"]
    assert order["fulfillments"][0]["location"]["id"] == location["id"]
    bad = {**fulfillment, "fulfillment_line_items": [{"order_line_item_external_id": "zz"}]}
    response = api.put("/orders", json=make.order_payload(product["id"], fulfillments=[bad]))
    assert list(response.json()["errors"]) == [
        "fulfillments.0.fulfillment_line_items.0.order_line_item_external_id"
    ]


def _refund(line_id: int, external_id: str | None, amount: int = 500) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "type": "line_item",
        "amount": {"amount": amount, "currency_code": "USD"},
        "line_item": {"id": line_id, "quantity": 1, "restock": True},
    }


@pytest.fixture
def synced(api: httpx.Client, make: Maker, product: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The proven pattern: PUT the order, read the line ids, PUT again with a refund."""
    payload = make.order_payload(product["id"])
    order = api.put("/orders", json=payload).json()["order"]
    line_id = order["line_items"][0]["id"]
    payload["refunds"] = [_refund(line_id, "r1")]
    order = api.put("/orders", json=payload).json()["order"]
    assert [r["external_id"] for r in order["refunds"]] == ["r1"]
    return payload, line_id


@pytest.mark.parametrize(
    "refunds, expected",
    [
        pytest.param("same", ["r1"], id="identical resend does nothing"),
        pytest.param("changed", ["r1"], id="changed resend is ignored with 200"),
        pytest.param("null", ["r1", None], id="null external_id appends"),
        pytest.param("omitted", ["r1"], id="omitting refunds deletes none"),
        pytest.param("empty", ["r1"], id="empty refunds deletes none"),
        pytest.param("new", ["r1", "r2"], id="new external_id appends"),
    ],
)
def test_orders_refunds_are_write_once(
    api: httpx.Client, synced: tuple[dict[str, Any], int], refunds: str, expected: list[Any]
) -> None:
    payload, line_id = synced
    sent = {
        "same": [_refund(line_id, "r1")],
        "changed": [_refund(line_id, "r1", amount=999)],
        "null": [_refund(line_id, None)],
        "empty": [],
        "new": [_refund(line_id, "r2")],
    }
    body = dict(payload)
    if refunds == "omitted":
        del body["refunds"]
    else:
        body["refunds"] = sent[refunds]
    response = api.put("/orders", json=body)
    assert response.status_code == 200
    order = response.json()["order"]
    assert [r["external_id"] for r in order["refunds"]] == expected
    assert order["refunds"][0]["amount"]["amount"] == 500


def test_orders_null_refunds_append_on_every_send(
    api: httpx.Client, synced: tuple[dict[str, Any], int]
) -> None:
    payload, line_id = synced
    for _ in range(2):
        order = api.put("/orders", json={**payload, "refunds": [_refund(line_id, None)]}).json()
    assert [r["external_id"] for r in order["order"]["refunds"]] == ["r1", None, None]


def test_orders_refund_must_reference_a_line_of_the_order(
    api: httpx.Client, synced: tuple[dict[str, Any], int]
) -> None:
    payload, _ = synced
    response = api.put("/orders", json={**payload, "refunds": [_refund(12345, "r9")]})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["refunds.0.line_item.id"]
