"""`subscribe_platform`: the mapping's subscription requests, sent to the real demo shop
through a source sender (auth header, base URL with a path)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from engine.mapping.model import PlatformSubscribe, SubscriptionList
from engine.net import Sender
from engine.net.retry import RetryPolicy
from engine.serve.platform import subscribe_platform
from examples.shopify_like import ShopHandle, running_shopify_like

BODY = {"webhook": {"topic": "{{ topic }}", "address": "{{ url }}", "format": "json"}}
TOPICS = {"products/update": "products", "orders/updated": "orders"}


@pytest.fixture
def shop() -> Iterator[ShopHandle]:
    with running_shopify_like(orders=6, seed=2) as handle:
        yield handle


def _sender(shop: ShopHandle, token: str = "demo") -> Sender:
    client = httpx.Client(base_url=shop.api_url, headers={"X-Shopify-Access-Token": token})
    return Sender(client, retry=RetryPolicy(max_retries=0))


def _listed(shop: ShopHandle) -> set[tuple[str, str]]:
    with shop.client() as c:
        return {(h["topic"], h["address"]) for h in c.get("/webhooks.json").json()["webhooks"]}


def test_subscribe_platform_renders_each_topics_body_and_skips_listed_ones(
    shop: ShopHandle,
) -> None:
    spec = PlatformSubscribe("/webhooks.json", TOPICS, BODY,
                             listing=SubscriptionList("/webhooks.json", "webhooks"))  # fmt: skip
    with closing(_sender(shop)) as sender:
        first = subscribe_platform(sender, spec, "https://etl.example.test/")
        second = subscribe_platform(sender, spec, "https://etl.example.test")
    assert [(r.topic, r.status) for r in first.results] == [
        ("products/update", "subscribed"), ("orders/updated", "subscribed"),
    ]  # fmt: skip
    assert [r.status for r in second.results] == ["exists", "exists"]
    assert _listed(shop) == {
        ("products/update", "https://etl.example.test/webhooks/platform/products"),
        ("orders/updated", "https://etl.example.test/webhooks/platform/orders"),
    }


def test_subscribe_platform_reports_refusals_and_a_listing_it_cannot_read(
    shop: ShopHandle,
) -> None:
    spec = PlatformSubscribe("/webhooks.json", {"products/explode": "products", **TOPICS}, BODY,
                             listing=SubscriptionList("/webhooks.json", "webhooks[0]"))  # fmt: skip
    with closing(_sender(shop)) as sender:
        done = subscribe_platform(sender, spec, "http://127.0.0.1:8080")
    with closing(_sender(shop, token="wrong")) as sender:
        refused = subscribe_platform(sender, spec, "http://127.0.0.1:8080")
    assert "is not a list" in done.listing_error
    failed = done.results[0]
    assert (failed.topic, failed.status) == ("products/explode", "failed")
    assert "422" in failed.detail and "Invalid topic" in failed.detail
    assert [r.status for r in done.results[1:]] == ["subscribed", "subscribed"]
    assert "401" in refused.listing_error
    assert {r.status for r in refused.results} == {"failed"}
