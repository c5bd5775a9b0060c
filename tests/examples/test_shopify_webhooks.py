"""The shopify-like demo's change webhooks: Shopify's subscription API, and signed deliveries
of changed records to a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from examples.shopify_like import ShopHandle, running_shopify_like
from examples.shopify_like.webhooks import DEFAULT_SECRET, TOPICS
from tests.examples.hook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def hooked_shop() -> Iterator[ShopHandle]:
    with running_shopify_like(orders=20, seed=3, webhook_secret="s3cret") as handle:
        assert handle.webhooks is not None
        handle.webhooks.backoff_s = 0.01  # retries in milliseconds, not seconds
        yield handle


def _subscribe(shop: ShopHandle, topic: str, address: str) -> httpx.Response:
    with shop.client() as c:
        return c.post(
            "/webhooks.json",
            json={"webhook": {"topic": topic, "address": address, "format": "json"}},
        )


def _settled(shop: ShopHandle, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = shop.deliveries()
        if len(found) >= count and all(d["status"] != "pending" for d in found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.01)


def test_webhooks_create_list_show_and_delete(hooked_shop: ShopHandle) -> None:
    created = _subscribe(hooked_shop, "products/update", "https://example.test/hooks")
    other = _subscribe(hooked_shop, "orders/updated", "https://example.test/hooks")
    with hooked_shop.client() as c:
        listed = c.get("/webhooks.json").json()["webhooks"]
        by_topic = c.get("/webhooks.json", params={"topic": "orders/updated"}).json()["webhooks"]
        count = c.get("/webhooks/count.json").json()
        hook = created.json()["webhook"]
        shown = c.get(f"/webhooks/{hook['id']}.json").json()["webhook"]
        deleted = c.delete(f"/webhooks/{hook['id']}.json")
        again = c.delete(f"/webhooks/{hook['id']}.json")
        left = c.get("/webhooks.json").json()["webhooks"]
    assert created.status_code == 201 and other.status_code == 201
    assert set(hook) == {"id", "topic", "address", "format", "created_at", "updated_at"}
    assert (hook["topic"], hook["address"], hook["format"]) == (
        "products/update", "https://example.test/hooks", "json",
    )  # fmt: skip
    assert [h["id"] for h in listed] == [hook["id"], other.json()["webhook"]["id"]]
    assert [h["topic"] for h in by_topic] == ["orders/updated"] and count == {"count": 2}
    assert shown == hook
    assert deleted.status_code == 200 and again.status_code == 404
    assert [h["topic"] for h in left] == ["orders/updated"]


def test_webhooks_refuse_a_second_identical_subscription(hooked_shop: ShopHandle) -> None:
    first = _subscribe(hooked_shop, "products/update", "https://example.test/a")
    second = _subscribe(hooked_shop, "products/update", "https://example.test/a")
    elsewhere = _subscribe(hooked_shop, "products/update", "https://example.test/b")
    assert first.status_code == 201 and elsewhere.status_code == 201
    assert second.status_code == 422
    assert second.json() == {"errors": {"address": ["for this topic has already been taken"]}}


@pytest.mark.parametrize(
    ("webhook", "field_name"),
    [
        pytest.param({"topic": "products/explode", "address": "https://x.test/"}, "topic",
                     id="unknown topic"),
        pytest.param({"topic": "products/update", "address": "not a url"}, "address",
                     id="address not a URL"),
        pytest.param({"topic": "products/update"}, "address", id="no address"),
        pytest.param({"topic": "products/update", "address": "https://x.test/", "format": "xml"},
                     "format", id="xml format"),
    ],
)  # fmt: skip
def test_webhooks_refuse_a_bad_subscription_with_shopify_errors(
    hooked_shop: ShopHandle, webhook: dict[str, str], field_name: str
) -> None:
    with hooked_shop.client() as c:
        answer = c.post("/webhooks.json", json={"webhook": webhook})
        listed = c.get("/webhooks.json").json()["webhooks"]
    assert answer.status_code == 422
    assert list(answer.json()["errors"]) == [field_name]
    assert listed == []


def test_webhooks_need_the_token(hooked_shop: ShopHandle) -> None:
    answer = httpx.post(
        f"{hooked_shop.api_url}/webhooks.json",
        json={"webhook": {"topic": "products/update", "address": "https://x.test/"}},
    )
    assert answer.status_code == 401


def test_webhooks_know_the_shopify_topics_the_mapping_uses() -> None:
    wanted = {"products/create", "products/update", "orders/create", "orders/updated",
              "customers/update", "inventory_levels/update", "locations/update",
              "collections/update"}  # fmt: skip
    assert wanted <= set(TOPICS)


def test_touch_sends_the_signed_product_to_its_subscribers(
    hooked_shop: ShopHandle, receiver: Receiver
) -> None:
    assert _subscribe(hooked_shop, "products/update", receiver.url).status_code == 201
    assert _subscribe(hooked_shop, "orders/updated", receiver.url).status_code == 201
    (product_id,) = hooked_shop.touch("products", count=1)
    receiver.wait_for(1)
    headers, raw = receiver.received[0]
    product = json.loads(raw)
    with hooked_shop.client() as c:
        served = c.get(f"/products/{product_id}.json").json()["product"]
    expected = base64.b64encode(hmac.new(b"s3cret", raw, hashlib.sha256).digest()).decode()
    assert headers["x-shopify-hmac-sha256"] == expected
    assert headers["x-shopify-topic"] == "products/update"
    assert headers["x-shopify-shop-domain"].endswith(".myshopify.com")
    assert len(headers["x-shopify-webhook-id"]) == 36  # a uuid
    assert product == served and "touched" in product["tags"]
    (delivery,) = _settled(hooked_shop, 1)  # nothing for orders/updated: no order changed
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["id"] == headers["x-shopify-webhook-id"]


def test_a_delivery_leaves_the_request_that_changed_the_record(
    hooked_shop: ShopHandle, receiver: Receiver
) -> None:
    _subscribe(hooked_shop, "customers/update", receiver.url)
    receiver.gate.clear()  # the receiver holds every delivery until the gate opens
    touched = httpx.post(
        f"{hooked_shop.base_url}/_demo/touch", json={"entity": "customers", "count": 1}, timeout=5
    )
    pending = hooked_shop.deliveries()
    receiver.gate.set()
    assert touched.status_code == 200
    assert [d["status"] for d in pending] == ["pending"]
    assert _settled(hooked_shop, 1)[0]["status"] == "delivered"


@pytest.mark.parametrize(
    ("answers", "status", "attempts"),
    [
        pytest.param([503, 500], "delivered", 3, id="5xx retried until 200"),
        pytest.param([410], "failed", 1, id="4xx not retried"),
        pytest.param([500, 500, 500, 500], "failed", 4, id="5xx retried a few times only"),
    ],
)
def test_deliveries_retry_5xx_with_backoff_and_never_4xx(
    hooked_shop: ShopHandle, receiver: Receiver, answers: list[int], status: str, attempts: int
) -> None:
    receiver.answers = list(answers)
    _subscribe(hooked_shop, "locations/update", receiver.url)
    hooked_shop.touch("locations", count=1)
    (delivery,) = _settled(hooked_shop, 1)
    listed = httpx.get(f"{hooked_shop.base_url}/_demo/webhook_deliveries").json()["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == (status, attempts)
    assert len(receiver.received) == attempts
    assert listed == [delivery]


def test_a_receiver_that_is_down_fails_the_delivery_after_retries(
    hooked_shop: ShopHandle,
) -> None:
    _subscribe(hooked_shop, "locations/update", "http://127.0.0.1:9/hook")  # discard: refused
    hooked_shop.touch("locations", count=1)
    (delivery,) = _settled(hooked_shop, 1)
    assert delivery["status"] == "failed" and delivery["attempts"] == 4
    assert delivery["response_status"] is None and "Connect" in delivery["error"]


WriteCall = Callable[[httpx.Client, dict[str, Any]], httpx.Response]


def _order_body(shop: ShopHandle) -> dict[str, Any]:
    with shop.client() as c:
        variant = c.get("/products.json", params={"limit": 1}).json()["products"][0]["variants"][0]
    return {"order": {"line_items": [{"variant_id": variant["id"], "quantity": 1}],
                      "inventory_behaviour": "decrement_ignoring_policy"}}  # fmt: skip


def test_api_writes_send_their_records(hooked_shop: ShopHandle, receiver: Receiver) -> None:
    for topic in ("orders/create", "orders/updated", "inventory_levels/update", "products/update"):
        _subscribe(hooked_shop, topic, receiver.url)
    with hooked_shop.client() as c:
        order = c.post("/orders.json", json=_order_body(hooked_shop)).json()["order"]
        line = order["line_items"][0]
        refund = c.post(f"/orders/{order['id']}/refunds.json", json={"refund": {
            "refund_line_items": [{"line_item_id": line["id"], "quantity": 1,
                                   "restock_type": "return"}]}})  # fmt: skip
    assert refund.status_code == 201, refund.text
    delivered = _settled(hooked_shop, 6)
    topics = [d["topic"] for d in delivered]
    # the order decrements stock (product, level), then the refund updates the order and
    # puts the unit back (product, level)
    assert topics == ["products/update", "inventory_levels/update", "orders/create",
                      "orders/updated", "products/update", "inventory_levels/update"]  # fmt: skip
    receiver.wait_for(6)
    bodies = {h["x-shopify-webhook-id"]: json.loads(raw) for h, raw in receiver.received}
    created = bodies[delivered[2]["id"]]
    updated = bodies[delivered[3]["id"]]
    assert created["id"] == updated["id"] == order["id"] and updated["refunds"]
    product, level = bodies[delivered[4]["id"]], bodies[delivered[5]["id"]]
    (variant,) = [v for v in product["variants"] if v["id"] == line["variant_id"]]
    assert level["inventory_item_id"] == variant["inventory_item_id"]


def test_the_default_secret_is_the_one_the_shopify_like_mapping_verifies_with() -> None:
    import yaml

    from tests.e2e.conftest import MAPPINGS

    mapping = yaml.safe_load((MAPPINGS / "shopify-like.yaml").read_text())
    assert mapping["platform_webhooks"]["secret"].endswith(f":-{DEFAULT_SECRET}}}")
