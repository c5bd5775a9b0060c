"""Sandbox returns admin: creating returns on synced orders, labels, expiry (returns/__init__.py,
store.py, lines.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, api, create_return, sandbox, sync_order

_tags = itertools.count(2000)


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)))


@pytest.fixture(scope="module")
def shared_order(sb: SandboxHandle) -> Order:
    """For tests that only try returns that fail: nothing gets held."""
    return sync_order(sb, tag=str(next(_tags)))


def test_returns_create_has_loop_fields_and_big_ids(sb: SandboxHandle, order: Order) -> None:
    created = create_return(
        sb,
        order,
        {
            "line_item_id": order.lines[0],
            "quantity": 2,
            "outcome": "refund",
            "return_reason": "Too small",
        },
    )
    assert created["id"] > 2**53 and created["state"] == "open"
    assert created["order_id"] == order.id and created["order_name"] == order.name
    assert created["provider_order_id"] == order.external_id
    assert created["customer"].startswith("ada.") and created["currency"] == "USD"
    # Loop returns one unit per return line: quantity 2 is two lines.
    assert [line["provider_line_item_id"] for line in created["line_items"]] == [order.lines[0]] * 2
    assert created["return_product_total"] == "63.30" and created["total"] == "63.30"
    assert created["refund"] == "63.30" and created["outcome"] == "refund"
    line = created["line_items"][0]
    assert line["line_item_id"] > 2**53 and line["price"] == "31.65"
    assert line["variant_id"] == order.variants[0] and line["sku"].startswith("SHOE-")
    assert created["edited_at"] is None and created["created_at"] == created["updated_at"]


def test_returns_create_exchange_and_store_credit(sb: SandboxHandle, order: Order) -> None:
    created = create_return(
        sb,
        order,
        {
            "line_item_id": order.lines[0],
            "outcome": "exchange",
            "exchange_variant_id": order.exchange_variant,
        },
        {"line_item_id": order.lines[1], "outcome": "store_credit"},
    )
    assert created["outcome"] == "exchange"
    assert [ln["outcome"] for ln in created["line_items"]] == ["default", "default"]
    assert [ln["requested_outcome"] for ln in created["line_items"]] == ["exchange", "store_credit"]
    assert created["line_items"][0]["exchange_variant"] == order.exchange_variant
    (exchange,) = created["exchanges"]
    assert exchange["variant_id"] == order.exchange_variant and exchange["price"] == "40.00"
    assert created["exchange_total"] == "40.00" and created["upsell"] == "8.35"
    assert created["gift_card"] == "31.65" and created["refund"] == "0.00"
    assert Decimal(created["return_total"]) == Decimal("63.30")


def test_returns_create_by_order_external_id(sb: SandboxHandle, order: Order) -> None:
    response = sb.admin.post(
        "/returns",
        json={
            "order_external_id": order.external_id,
            "line_items": [{"line_item_id": order.lines[1], "outcome": "refund"}],
        },
    )
    assert response.status_code == 201
    assert response.json()["order_id"] == order.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"order_id": 12345}, "order_id", id="unknown order"),
        pytest.param(
            {"order_id": None, "order_external_id": "nope"},
            "order_external_id",
            id="unknown order external id",
        ),
        pytest.param({"line_items": [{"line_item_id": 1}]}, "line_items.0", id="unknown line"),
        pytest.param({"line_items": []}, "line_items", id="no lines"),
        pytest.param(
            {"line": {"outcome": "exchange", "exchange_variant_id": 99}},
            "line_items.0",
            id="unknown exchange variant",
        ),
        pytest.param(
            {"line": {"outcome": "exchange"}}, "line_items.0", id="exchange without variant"
        ),
        pytest.param({"line": {"outcome": "gift"}}, "line_items.0", id="unknown outcome"),
        pytest.param({"line": {"quantity": 3}}, "line_items.0", id="more than was bought"),
        pytest.param({"state": "shipped"}, "state", id="unknown state"),
    ],
)
def test_returns_create_rejects_impossible_returns(
    sb: SandboxHandle, shared_order: Order, change: dict[str, Any], field: str
) -> None:
    order = shared_order
    body: dict[str, Any] = {
        "order_id": order.id,
        "line_items": [
            {
                "line_item_id": order.lines[0],
                "quantity": 1,
                "outcome": "refund",
                **change.pop("line", {}),
            }
        ],
    }
    body.update(change)
    response = sb.admin.post("/returns", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]


def test_returns_create_needs_a_fulfillment(sb: SandboxHandle) -> None:
    order = sync_order(sb, tag=str(next(_tags)), fulfilled=False)
    response = sb.admin.post(
        "/returns", json={"order_id": order.id, "line_items": [{"line_item_id": order.lines[0]}]}
    )
    assert response.status_code == 422
    assert "fulfilled" in response.json()["errors"]["line_items.0"][0]


def test_returns_create_units_are_held_until_cancelled(sb: SandboxHandle, order: Order) -> None:
    line = {"line_item_id": order.lines[1], "outcome": "refund"}
    first = create_return(sb, order, line)
    again = sb.admin.post("/returns", json={"order_id": order.id, "line_items": [line]})
    assert again.status_code == 422
    assert api(sb).post(f"/warehouse/return/{first['id']}/cancel").status_code == 200
    create_return(sb, order, line)  # cancelled: the shopper can return the same items again


def test_returns_admin_list_get_and_expire(sb: SandboxHandle, order: Order) -> None:
    created = create_return(sb, order)
    ids = [r["id"] for r in sb.admin.get("/returns").json()["returns"]]
    assert created["id"] in ids
    expired = sb.admin.post(f"/returns/{created['id']}/expire")
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    assert sb.admin.get(f"/returns/{created['id']}").json()["state"] == "expired"
    again = sb.admin.post(f"/returns/{created['id']}/expire")
    assert again.status_code == 422
    assert again.json()["errors"]["code"] == "UNPROCESSABLE_RETURN"
    assert sb.admin.get("/returns/1").status_code == 404


def test_returns_label_created_then_updated(sb: SandboxHandle, order: Order) -> None:
    created = create_return(sb, order)
    first = sb.admin.post(f"/returns/{created['id']}/label", json={"carrier": "UPS"})
    assert first.status_code == 201 and first.json()["status"] == "new"
    second = sb.admin.post(f"/returns/{created['id']}/label", json={"status": "in_transit"})
    assert second.status_code == 200 and second.json()["carrier"] == "UPS"
    details = api(sb).get("/warehouse/return/details", params={"return_id": created["id"]}).json()
    assert details["label_status"] == "in_transit" and details["carrier"] == "UPS"
    bad = sb.admin.post(f"/returns/{created['id']}/label", json={"status": "lost"})
    assert bad.status_code == 422
