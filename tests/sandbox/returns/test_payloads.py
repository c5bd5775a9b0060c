"""Returns data and webhook payloads as Loop sends them (loop-api.md §3.3, §3.4), over real HTTP:
string ids, `outcome: "default"` on lines, removed lines kept, cancelled totals zeroed, no
refunds, gift cards, processing that fails later, and a return closed by Loop's automation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import (
    Order,
    Receiver,
    api,
    create_return,
    flush,
    sandbox,
    subscribe,
    sync_order,
)

_tags = itertools.count(9000)
RETURN_TRIGGERS = ("return.created", "return.updated", "return.closed")


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def sb(shared: SandboxHandle) -> SandboxHandle:
    flush(shared)
    shared.admin.reset()
    return shared


@pytest.fixture
def rx(sb: SandboxHandle) -> Iterator[Receiver]:
    """A receiver subscribed to every return trigger."""
    with Receiver() as receiver:
        for trigger in RETURN_TRIGGERS:
            subscribe(sb, receiver.url, "return", trigger)
        yield receiver


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)), quantities=(3, 2))


def _details(sb: SandboxHandle, return_id: int) -> dict[str, Any]:
    response = api(sb).get("/warehouse/return/details", params={"return_id": return_id})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_payloads_return_webhook_has_edited_at_and_no_updated_at(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    created = create_return(sb, order)
    flush(sb)
    (payload,) = rx.bodies("return.created")
    assert list(payload)[:2] == ["topic", "trigger"] and payload["topic"] == "return"
    assert "updated_at" not in payload and payload["edited_at"] is None
    assert payload["id"] == str(created["id"]) and payload["order_id"] == str(order.id)
    assert isinstance(payload["shop_id"], str)
    (line,) = payload["line_items"]
    assert line["outcome"] == "default" and line["line_item_id"].isdigit()
    assert line["returned_at"] and line["exchange_variant"] == ""
    assert payload["outcome"] == "refund" and payload["refund"] == "31.65"
    assert payload["presentment"]["line_items"] == payload["line_items"]


def test_payloads_returns_list_carries_string_ids_and_default_line_outcomes(
    sb: SandboxHandle, order: Order
) -> None:
    created = create_return(
        sb,
        order,
        {
            "line_item_id": order.lines[0],
            "outcome": "exchange",
            "exchange_variant_id": order.exchange_variant,
        },
    )
    (item,) = api(sb).get("/warehouse/return/list").json()
    assert item["id"] == str(created["id"]) and item["order_id"] == str(order.id)
    (line,) = item["line_items"]
    assert line["outcome"] == "default" and line["exchange_variant"] == str(order.exchange_variant)
    assert line["variant_id"] == str(order.variants[0])
    assert item["outcome"] == "exchange" and item["exchanges"][0]["exchange_id"].isdigit()


def test_payloads_integer_ids_on_request() -> None:
    with sandbox(integer_ids=True) as handle, Receiver() as rx:
        subscribe(handle, rx.url, "return", "return.created")
        order = sync_order(handle, tag=str(next(_tags)))
        created = create_return(handle, order)
        flush(handle)
        (item,) = api(handle).get("/warehouse/return/list").json()
    assert item["id"] == created["id"] and item["line_items"][0]["variant_id"] == order.variants[0]
    assert rx.bodies()[0]["id"] == created["id"]


def test_payloads_cancelled_totals_are_zeroed(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    created = create_return(
        sb,
        order,
        {
            "line_item_id": order.lines[0],
            "outcome": "exchange",
            "exchange_variant_id": order.exchange_variant,
        },
    )
    assert api(sb).post(f"/warehouse/return/{created['id']}/cancel").json() == "true"
    flush(sb)
    (updated,) = rx.bodies("return.updated")
    details = _details(sb, created["id"])
    for body in (updated, details):
        assert body["state"] == "cancelled"
        assert body["return_total"] == body["return_credit_total"] == "0.00"
        assert body["exchange_total"] == "0.00"


def test_payloads_removed_lines_stay_zeroed_and_presentment_has_the_rest(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    created = create_return(
        sb,
        order,
        {"line_item_id": order.lines[0], "outcome": "refund"},
        {"line_item_id": order.lines[1], "outcome": "store_credit"},
    )
    gone, kept = (str(line["line_item_id"]) for line in created["line_items"])
    response = api(sb).post(
        f"/warehouse/return/{created['id']}/remove", params={"line_item_id": gone}
    )
    assert response.json() == "true"
    flush(sb)
    updated = rx.bodies("return.updated")[0]
    assert updated["edited_at"] is not None
    removed, current = updated["line_items"]
    assert removed["line_item_id"] == gone and removed["returned_at"] is None
    assert removed["price"] == removed["refund"] == removed["tax"] == "0.00"
    assert current["line_item_id"] == kept and current["price"] == "31.65"
    assert [line["line_item_id"] for line in updated["presentment"]["line_items"]] == [kept]
    assert updated["return_total"] == "31.65" and updated["refund"] == "0.00"


def test_payloads_processing_fills_no_refunds(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    created = create_return(sb, order)
    assert api(sb).post(f"/warehouse/return/{created['id']}/process").json() == "true"
    flush(sb)
    (closed,) = rx.bodies("return.closed")
    assert closed["refunds"] == [] and closed["refund"] == "31.65"
    assert _details(sb, created["id"])["refunds"] == []


def test_payloads_store_credit_sends_giftcard_requested(sb: SandboxHandle, order: Order) -> None:
    with Receiver() as rx:
        subscribe(sb, rx.url, "giftcard", "giftcard.requested")
        created = create_return(
            sb,
            order,
            {"line_item_id": order.lines[0], "outcome": "store_credit"},
            {"line_item_id": order.lines[1], "outcome": "refund"},
        )
        api(sb).post(f"/warehouse/return/{created['id']}/process")
        flush(sb)
    (card,) = rx.bodies()
    assert set(card) == {
        "topic",
        "trigger",
        "id",
        "total_credit_issued",
        "gift_card_subtotal",
        "gift_card_tax",
        "gift_card_bonus_credit",
        "currency",
        "return_id",
        "email",
        "first_name",
        "last_name",
        "external_order_id",
        "external_order_name",
        "external_order_number",
    }
    assert card["topic"] == "giftcard" and card["trigger"] == "giftcard.requested"
    assert card["return_id"] == str(created["id"]) and card["id"]
    assert card["total_credit_issued"] == card["gift_card_subtotal"] == "31.65"
    assert card["gift_card_tax"] == card["gift_card_bonus_credit"] == "0.00"
    assert card["currency"] == "USD" and card["email"].startswith("ada.")
    assert card["external_order_id"] == order.external_id
    assert card["external_order_name"] == order.name


def test_payloads_a_refund_sends_no_giftcard(sb: SandboxHandle, order: Order) -> None:
    with Receiver() as rx:
        subscribe(sb, rx.url, "giftcard", "giftcard.requested")
        created = create_return(sb, order)
        api(sb).post(f"/warehouse/return/{created['id']}/process")
        flush(sb)
    assert rx.received == []


def test_payloads_processing_that_fails_later(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "return.processing", "return.processing.failed")
    created = create_return(sb, order)
    sb.admin.configure(process_fail_rate=1.0)
    response = api(sb).post(f"/warehouse/return/{created['id']}/process")
    assert response.status_code == 200 and response.json() == "true"  # queued ...
    flush(sb)
    (failed,) = rx.bodies("return.processing.failed")  # ... and failed later
    assert failed == {
        "topic": "return.processing",
        "trigger": "return.processing.failed",
        "return_id": created["id"],
        "return_state": "open",
        "message": "Return failed to process",
        "source": "api",
    }
    assert isinstance(failed["return_id"], int)
    assert rx.bodies("return.closed") == []
    assert sb.admin.get(f"/returns/{created['id']}").json()["state"] == "open"


def test_payloads_flagged_returns_say_review(sb: SandboxHandle, rx: Receiver, order: Order) -> None:
    created = create_return(sb, order)
    assert api(sb).post(f"/warehouse/return/{created['id']}/flag").json() == "true"
    flush(sb)
    assert rx.bodies("return.updated")[0]["state"] == "review"


def test_payloads_delivered_label_closes_the_return_with_no_api_call(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "label", "label.created")
    created = create_return(sb, order)
    before = len(sb.admin.requests())
    response = sb.admin.post(f"/returns/{created['id']}/deliver")
    assert response.status_code == 200
    flush(sb)
    assert len(sb.admin.requests()) == before  # Loop's automation: no API call
    (label,) = rx.bodies("label.created")
    assert label["label_status"] == "delivered"
    (closed,) = rx.bodies("return.closed")
    assert closed["id"] == str(created["id"]) and closed["state"] == "closed"
    assert sb.admin.get(f"/returns/{created['id']}").json()["state"] == "closed"


def test_payloads_delivered_label_processing_can_fail_too(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "return.processing", "return.processing.failed")
    created = create_return(sb, order)
    sb.admin.configure(process_fail_rate=1.0)
    sb.admin.post(f"/returns/{created['id']}/deliver")
    flush(sb)
    (failed,) = rx.bodies("return.processing.failed")
    assert failed["source"] is None and failed["return_state"] == "open"
    assert rx.bodies("return.closed") == []


@pytest.mark.parametrize("state", ["review", "closed", "cancelled", "expired"])
def test_payloads_only_an_open_return_is_closed_by_delivery(
    sb: SandboxHandle, order: Order, state: str
) -> None:
    created = create_return(sb, order, state=state)
    response = sb.admin.post(f"/returns/{created['id']}/deliver")
    assert response.status_code == 422
    assert sb.admin.get(f"/returns/{created['id']}").json()["state"] == state
