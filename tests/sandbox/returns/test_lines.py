"""What is still returnable on a synced order: fulfilled units less those held by returns or
refunded on the platform and pushed onto the order (returns/lines.py, store.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from engine.sandbox.returns.lines import refunded_quantities, used_quantities
from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, api, create_return, flush, sandbox, sync_order

_tags = itertools.count(3000)


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    """Line 0 has 2 units, line 1 has 1, all fulfilled."""
    return sync_order(sb, tag=str(next(_tags)))


def push_refund(sb: SandboxHandle, order: Order, external_id: str, quantity: int) -> None:
    """Pushes a platform refund of `quantity` units of line 0 onto the order, as the engine does."""
    refund = {
        "external_id": external_id,
        "type": "line_item",
        "amount": {"amount": 3165 * quantity, "currency_code": "USD"},
        "line_item": {"id": order.lines[0], "quantity": quantity, "restock": True},
    }
    response = api(sb).put(f"/orders/{order.id}", json={"refunds": [refund]})
    assert response.status_code == 200, response.text
    assert len(response.json()["order"]["refunds"]) >= 1


def try_return(sb: SandboxHandle, order: Order, quantity: int) -> Any:
    line = {"line_item_id": order.lines[0], "quantity": quantity, "outcome": "refund"}
    return sb.admin.post("/returns", json={"order_id": order.id, "line_items": [line]})


def test_lines_returnable_excludes_units_refunded_on_the_platform(
    sb: SandboxHandle, order: Order
) -> None:
    push_refund(sb, order, "r-1", 1)
    refused = try_return(sb, order, 2)
    assert refused.status_code == 422, refused.text
    assert (
        "quantity 2 is not returnable: 1 unit(s) left"
        in refused.json()["errors"]["line_items.0"][0]
    )
    assert try_return(sb, order, 1).status_code == 201


def test_lines_processed_return_and_its_refund_are_not_counted_twice(
    sb: SandboxHandle, order: Order
) -> None:
    first = create_return(sb, order, {"line_item_id": order.lines[0], "outcome": "refund"})
    assert api(sb).post(f"/warehouse/return/{first['id']}/process").status_code == 200
    flush(sb)
    assert sb.admin.get(f"/returns/{first['id']}").json()["state"] == "closed"
    push_refund(sb, order, "r-of-first", 1)  # the engine refunded the processed return
    assert try_return(sb, order, 2).status_code == 422
    assert try_return(sb, order, 1).status_code == 201  # the second unit is still returnable


def test_lines_open_return_adds_to_a_platform_refund(sb: SandboxHandle, order: Order) -> None:
    create_return(sb, order, {"line_item_id": order.lines[0], "outcome": "refund"})
    push_refund(sb, order, "r-elsewhere", 1)  # refunded on the platform, not by that return
    refused = try_return(sb, order, 1)
    assert refused.status_code == 422
    assert "0 unit(s) left" in refused.json()["errors"]["line_items.0"][0]


def test_lines_refunded_quantities_reads_line_item_refunds_only() -> None:
    order = {
        "refunds": [
            {"type": "line_item", "line_item": {"id": 7, "quantity": 2}},
            {"type": "line_item", "line_item": {"id": 7}},
            {"type": "shipping", "amount": {"amount": 500}},
            {"type": "other", "line_item": {"id": 8, "quantity": 1}},
            {"line_item": {"id": 9, "quantity": 1}},
        ]
    }
    assert refunded_quantities(order) == {7: 3, 9: 1}
    assert refunded_quantities({"refunds": None}) == {}


def test_lines_used_quantities_overlap_closed_and_refunded_but_add_pending() -> None:
    assert used_quantities({1: 1}, {1: 2, 2: 1}, {1: 1, 2: 3, 3: 1}) == {1: 3, 2: 3, 3: 1}
