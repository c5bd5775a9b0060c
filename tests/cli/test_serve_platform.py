"""`etl serve` subscribing to the platform's own change webhooks (`platform_webhooks.subscribe`):
the shopify-like demo then sends its changes itself, signed, and they reach Loop at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from engine.state import State
from examples.shopify_like import running_shopify_like
from tests.cli.serve_support import Served, sandbox_handle, start_serve
from tests.e2e.conftest import MAPPINGS
from tests.examples.hook_receiver import running_receiver

SHOPIFY_LIKE = MAPPINGS / "shopify-like.yaml"
ENV = {"LOOP_WEBHOOK_SECRET": "", "ETL_DEMO_ORDERS": "20", "LOOP_RATE_LIMIT": "0/min"}


def _within(seconds: float, check: Callable[[], Any]) -> tuple[Any, float]:
    """Polls `check` until it is truthy; (its value, the seconds it took); fails past the
    deadline."""
    start = time.monotonic()
    while True:
        found = check()
        took = time.monotonic() - start
        if found:
            return found, took
        assert took < seconds, f"not within {seconds} s"
        time.sleep(0.03)  # light on the sandbox, which is busy taking the change


def _shop(served: Served) -> str:
    """The embedded demo shop's base URL (serve prints its Admin API URL)."""
    return served.urls["demo"].split("/admin/")[0]


def test_serve_subscribes_and_a_touched_product_reaches_loop_within_a_second(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.duckdb"
    served = start_serve(SHOPIFY_LIKE, state, "--no-schedule", **ENV)
    try:
        shop, sandbox = _shop(served), sandbox_handle(served.urls["sandbox"])
        hooks = httpx.get(f"{served.urls['demo']}/webhooks.json",
                          headers={"X-Shopify-Access-Token": "demo"}).json()["webhooks"]  # fmt: skip
        touched = httpx.post(f"{shop}/_demo/touch", json={"entity": "products", "count": 1})
        (product_id,) = touched.json()["touched"]
        product = httpx.get(f"{served.urls['demo']}/products/{product_id}.json",
                            headers={"X-Shopify-Access-Token": "demo"}).json()["product"]  # fmt: skip
        wanted = {str(v["id"]): round(float(v["price"]) * 100) for v in product["variants"]}

        def prices() -> dict[str, int] | None:
            found = {v["external_id"]: v["price"]["amount"]
                     for v in sandbox.admin.records("variant") if v["external_id"] in wanted}  # fmt: skip
            return found if found == wanted else None

        _, took = _within(1.0, prices)
        print(f"the touched product reached Loop in {took:.3f} s")
        deliveries = httpx.get(f"{shop}/_demo/webhook_deliveries").json()["deliveries"]
    finally:
        code, out, err = served.terminate()
    assert code == 0, err
    assert "subscribed to the platform: products/create -> products, products/update" in out
    platform = served.urls["platform"].replace("{entity}", "products")
    assert {(h["topic"], h["address"]) for h in hooks} >= {("products/update", platform)}
    assert [(d["topic"], d["status"], d["address"]) for d in deliveries] == [
        ("products/update", "delivered", platform)
    ]
    assert took < 1.0
    with State(state) as s:
        commands = [r["command"] for r in s.runs()]
    assert "run" not in commands  # no sync ran: the webhook alone brought the change


def test_serve_skips_subscriptions_that_exist_and_warns_on_failed_ones(tmp_path: Path) -> None:
    with running_shopify_like(orders=6, seed=2) as shop:
        env = {**ENV, "SHOP_URL": shop.api_url, "SHOP_LOCATION_IDS": ""}
        public = "https://etl.example.test"
        with shop.client() as c:
            c.post("/webhooks.json", json={"webhook": {
                "topic": "orders/create", "address": f"{public}/webhooks/platform/orders"}})  # fmt: skip
        served = start_serve(SHOPIFY_LIKE, tmp_path / "s.duckdb", "--no-schedule",
                             "--public-url", public + "/", **env)  # fmt: skip
        served.health()  # serving (its SIGTERM handler is in place)
        code, out, err = served.terminate()
        again = start_serve(SHOPIFY_LIKE, tmp_path / "s.duckdb", "--no-schedule",
                            "--public-url", public, **env)  # fmt: skip
        again.health()
        _, out_again, _ = again.terminate()
        with shop.client() as c:
            hooks = c.get("/webhooks.json").json()["webhooks"]
    assert code == 0, err
    assert f"platform: {public}/webhooks/platform/{{entity}}" in out
    assert "orders/create -> orders (already)" in out
    assert "products/update -> products," in out and "warning" not in err
    assert len(hooks) == 8 and all(h["address"].startswith(public + "/") for h in hooks)
    assert out_again.count("(already)") == 8  # the second start subscribes nothing again


def test_serve_warns_and_runs_on_when_the_platform_refuses(tmp_path: Path) -> None:
    with running_shopify_like(orders=6, seed=2, token="other") as shop:
        env = {**ENV, "SHOP_URL": shop.api_url, "SHOP_LOCATION_IDS": ""}
        served = start_serve(SHOPIFY_LIKE, tmp_path / "s.duckdb", "--no-schedule", **env)
        health = served.health()
        code, out, err = served.terminate()
    assert code == 0 and health["ok"] is True, err
    assert "warning: could not list the platform's webhooks" in err
    assert "warning: could not subscribe products/update" in err and "401" in err
    assert "demo" not in err.split("warning", 1)[1]  # the token is never printed
    assert "subscribed to the platform" not in out


def test_serve_refuses_a_delivery_signed_with_another_secret(tmp_path: Path) -> None:
    """The shop signs with a secret the mapping does not know: every delivery is refused 401,
    and not retried (a 4xx is final); a tampered copy of a good one is refused too."""
    with running_shopify_like(orders=6, seed=2, webhook_secret="not-the-mappings") as shop:
        env = {**ENV, "SHOP_URL": shop.api_url, "SHOP_LOCATION_IDS": ""}
        served = start_serve(SHOPIFY_LIKE, tmp_path / "s.duckdb", "--no-schedule", **env)
        try:
            # a location: sent on its webhook (customers wait for an order: send: referenced)
            shop.touch("locations", count=1)
            (delivery,), _ = _within(10, lambda: [d for d in shop.deliveries()
                                                  if d["status"] != "pending"])  # fmt: skip
            sandbox = sandbox_handle(served.urls["sandbox"])
            locations = sandbox.admin.records("location")
        finally:
            served.terminate()
    assert (delivery["status"], delivery["response_status"], delivery["attempts"]) == (
        "failed", 401, 1,
    )  # fmt: skip
    assert locations == []


def test_serve_takes_a_genuine_delivery_and_refuses_it_tampered(tmp_path: Path) -> None:
    served = start_serve(SHOPIFY_LIKE, tmp_path / "s.duckdb", "--no-schedule", **ENV)
    try:
        with running_receiver() as spy:  # a second subscriber: a copy of the signed delivery
            with httpx.Client(base_url=served.urls["demo"],
                              headers={"X-Shopify-Access-Token": "demo"}) as c:  # fmt: skip
                c.post("/webhooks.json", json={"webhook": {"topic": "locations/update",
                                                           "address": spy.url}})  # fmt: skip
            httpx.post(f"{_shop(served)}/_demo/touch", json={"entity": "locations", "count": 1})
            spy.wait_for(1)
        headers, raw = spy.received[0]
        url = served.urls["platform"].replace("{entity}", "locations")
        signed = {"X-Shopify-Hmac-Sha256": headers["x-shopify-hmac-sha256"]}
        tampered = httpx.post(url, content=raw.replace(b'"phone":"', b'"phone":"9'), headers=signed)
        genuine = httpx.post(url, content=raw, headers=signed)
    finally:
        served.terminate()
    assert tampered.status_code == 401
    assert genuine.status_code == 200, genuine.text
