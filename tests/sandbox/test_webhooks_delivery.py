"""Webhook delivery over real HTTP to a receiver on another loopback port: signatures checked by
an independent HMAC, PHP-style bodies, retries with backoff, every attempt recorded, and the
payloads valid against schemas/events. (Loop's retry rules and the delivery faults:
test_webhooks_retries.py.)"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator

import pytest

from engine.sandbox.server import SandboxHandle
from engine.validation import validator
from tests.sandbox.support import (
    SECRET,
    TIME_SCALE,
    Order,
    Receiver,
    api,
    create_return,
    flush,
    sandbox,
    signature_ok,
    subscribe,
    sync_order,
)

_tags = itertools.count(5000)
ALL = [
    ("return", "return.created"),
    ("return", "return.updated"),
    ("return", "return.closed"),
    ("label", "label.created"),
    ("label", "label.updated"),
    ("restock", "restock.requested"),
]


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def sb(shared: SandboxHandle) -> SandboxHandle:
    """The module's sandbox, drained and emptied (subscriptions, deliveries, returns, orders)."""
    flush(shared)
    shared.admin.reset()
    return shared


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)))


def test_webhooks_delivery_is_signed_over_the_raw_bytes(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url + "/loop", "return", "return.created")
    created = create_return(sb, order)
    flush(sb)
    (got,) = rx.received
    assert got.path == "/loop" and got.headers["content-type"] == "application/json"
    assert signature_ok(SECRET, got.raw, got.headers["x-loop-signature"])
    assert not signature_ok("another-secret", got.raw, got.headers["x-loop-signature"])
    # PHP json_encode style: escaped slashes, no newline, no spaces between tokens.
    assert b"https:\\/\\/" in got.raw and b"\n" not in got.raw and b'":"' in got.raw
    assert got.raw == json.dumps(got.json(), separators=(",", ":")).replace("/", "\\/").encode()
    payload = got.json()
    assert payload["id"] == str(created["id"]) and payload["trigger"] == "return.created"


def test_webhooks_inactive_or_unmatched_subscriptions_get_nothing(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "return", "return.created", status="inactive")
    subscribe(sb, rx.url, "return", "return.closed")
    create_return(sb, order)
    flush(sb)
    assert rx.received == []
    assert sb.admin.get("/deliveries").json()["deliveries"] == []


def test_webhooks_retry_with_backoff_and_record_every_attempt(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    rx.script = [500, 500]
    subscribe(sb, rx.url, "return", "return.created")
    create_return(sb, order)
    attempts = sb.admin.get("/deliveries", params={"wait": "1"}).json()["deliveries"]
    assert [a["status"] for a in attempts] == [500, 500, 200]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert len({a["delivery_id"] for a in attempts}) == 1
    assert len({r.raw for r in rx.received}) == 1
    # Exponential backoff with jitter: retry n waits between half and all of 0.5 s * 2**n,
    # scaled by the test's time scale.
    first, second = (a["retry_in_s"] / TIME_SCALE for a in attempts[:2])
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0
    assert attempts[2]["retry_in_s"] is None
    assert attempts[0]["request_body"].encode() == rx.received[0].raw
    assert all(
        signature_ok(SECRET, r.raw, a["signature"])
        for r, a in zip(rx.received, attempts, strict=True)
    )


def test_webhooks_give_up_after_the_configured_retries() -> None:
    with sandbox(webhook_retries=1) as handle, Receiver() as receiver:
        receiver.script = [503] * 5
        subscribe(handle, receiver.url, "return", "return.created")
        create_return(handle, sync_order(handle, tag=str(next(_tags))))
        flush(handle)
        attempts = handle.admin.get("/deliveries").json()["deliveries"]
    assert [a["status"] for a in attempts] == [503, 503]


def test_webhooks_connection_errors_are_recorded(sb: SandboxHandle, order: Order) -> None:
    with Receiver() as gone:
        url = gone.url
    subscribe(sb, url, "return", "return.created")
    create_return(sb, order)
    flush(sb)
    attempts = sb.admin.get("/deliveries").json()["deliveries"]
    # Loop's 5 retries: 6 attempts in all.
    assert len(attempts) == 6 and all(a["status"] is None and a["error"] for a in attempts)


def test_webhooks_process_sends_closed_updated_and_restock_after_the_200(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    for topic, trigger in ALL:
        subscribe(sb, rx.url, topic, trigger)
    created = create_return(sb, order, {"line_item_id": order.lines[0], "quantity": 2})
    flush(sb)
    rx.received.clear()
    response = api(sb).post(f"/warehouse/return/{created['id']}/process")
    assert response.status_code == 200 and response.json() == "true"
    flush(sb)
    triggers = [r.json()["trigger"] for r in rx.received]
    assert triggers == ["return.closed", "return.updated", "restock.requested"]
    closed = rx.bodies("return.closed")[0]
    assert closed["state"] == "closed" and closed["id"] == str(created["id"])
    (restock,) = rx.bodies("restock.requested")
    assert restock["id"] == str(created["id"]) and restock["order_id"] == str(order.id)
    assert restock["restock_items"] == [
        {
            "location_id": restock["restock_items"][0]["location_id"],
            "variant_id": str(order.variants[0]),
            "inventory_item_id": str(order.variants[0]),
            "available_adjustment": 2,
            "inventory_management": "loop",
        }
    ]


def test_webhooks_restock_can_be_turned_off_per_return(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "restock", "restock.requested")
    created = create_return(sb, order, {"line_item_id": order.lines[0]}, restock_webhooks=False)
    api(sb).post(f"/warehouse/return/{created['id']}/process")
    flush(sb)
    assert rx.received == []


def test_webhooks_every_payload_validates_against_its_schema(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    for topic, trigger in ALL:
        subscribe(sb, rx.url, topic, trigger)
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
    sb.admin.post(f"/returns/{created['id']}/label", json={})
    sb.admin.post(f"/returns/{created['id']}/label", json={"status": "delivered"})
    api(sb).post(f"/warehouse/return/{created['id']}/flag")
    api(sb).post(f"/warehouse/return/{created['id']}/close")
    other = create_return(sb, order, {"line_item_id": order.lines[0]})
    api(sb).post(f"/warehouse/return/{other['id']}/process")
    flush(sb)
    seen = {(r.json()["topic"], r.json()["trigger"]) for r in rx.received}
    assert seen == set(ALL)
    for got in rx.received:
        payload = got.json()
        assert validator(f"events/{payload['topic']}").errors(payload) == [], payload["trigger"]
        assert signature_ok(SECRET, got.raw, got.headers["x-loop-signature"])


def test_webhooks_label_events_are_flat_with_the_return_id(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    subscribe(sb, rx.url, "label", "label.created")
    subscribe(sb, rx.url, "label", "label.updated")
    created = create_return(sb, order)
    sb.admin.post(f"/returns/{created['id']}/label", json={"tracking_number": "1Z999"})
    sb.admin.post(f"/returns/{created['id']}/label", json={"status": "in_transit"})
    flush(sb)
    first, second = rx.bodies()
    # Loop's label payload: flat, `id` is the return's, no nested label object.
    assert set(first) == {
        "topic",
        "trigger",
        "shop_id",
        "id",
        "order_id",
        "provider_order_id",
        "carrier",
        "tracking_number",
        "label_status",
        "label_updated_at",
        "shipment_id",
    }
    assert first["topic"] == "label" and first["trigger"] == "label.created"
    assert first["id"] == str(created["id"]) and first["order_id"] == str(order.id)
    assert first["tracking_number"] == "1Z999" and first["label_status"] == "new"
    assert first["shipment_id"] and first["label_updated_at"]
    assert second["trigger"] == "label.updated" and second["label_status"] == "in_transit"
    assert second["shipment_id"] == first["shipment_id"]


def test_webhooks_deliveries_filter_and_reset(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    hook = subscribe(sb, rx.url, "return", "return.created")
    create_return(sb, order)
    flush(sb)
    params = {"subscription_id": str(hook["id"]), "trigger": "return.created"}
    assert len(sb.admin.get("/deliveries", params=params).json()["deliveries"]) == 1
    assert sb.admin.get("/deliveries", params={"topic": "label"}).json()["deliveries"] == []
    sb.admin.reset()
    assert sb.admin.get("/deliveries").json()["deliveries"] == []
    assert api(sb).get("/webhooks").json()["webhooks"] == []
    assert sb.admin.get("/returns").json()["returns"] == []


def test_webhooks_a_slow_receiver_never_delays_the_api(
    sb: SandboxHandle, rx: Receiver, order: Order
) -> None:
    rx.release = threading.Event()  # the receiver holds every delivery until released
    subscribe(sb, rx.url, "return", "return.created")
    subscribe(sb, rx.url, "return", "return.closed")
    created = create_return(sb, order)
    deadline = time.monotonic() + 10
    while not rx.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(rx.received) == 1  # return.created is at the receiver, still unanswered ...
    closed = api(sb).post(f"/warehouse/return/{created['id']}/close", timeout=5)
    assert closed.status_code == 200  # ... and the API answers all the same
    rx.release.set()
    flush(sb)
    assert [b["trigger"] for b in rx.bodies()] == ["return.created", "return.closed"]
