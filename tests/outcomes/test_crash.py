"""Bucket IV across a crash: `etl serve` is SIGKILLed after the shop applied an outcome step and
before the outbox recorded its answer; after a restart the step is confirmed without doing it
twice: a refund through the step's check (the shop has no key on refunds), an exchange order
through its Idempotency-Key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.state import State
from examples.shopify_like import running_shopify_like
from tests.cli.serve_support import Served, sandbox_handle, start_serve
from tests.outcomes.test_execute import (
    MAPPING,
    _cheap_pair,
    _order,
    _refunds,
    _returnable,
    _wait,
    _writes,
)
from tests.sandbox.support import flush


def _serve(shop: Any, state: Path) -> Served:
    return start_serve(
        MAPPING, state, SHOP_URL=shop.api_url, SHOP_LOCATION_IDS="", LOOP_RATE_LIMIT="0/min",
        LOOP_WEBHOOK_SECRET="",
    )  # fmt: skip


def _process(served: Served, lines: list[dict[str, Any]], order: dict[str, Any]) -> str:
    sandbox = sandbox_handle(served.urls["sandbox"])
    created = sandbox.admin.post("/returns", json={"order_id": order["id"], "line_items": lines})
    assert created.status_code == 201, created.text
    rid = str(created.json()["id"])
    with sandbox.client() as api:
        assert api.post(f"/warehouse/return/{rid}/process").status_code == 200
    flush(sandbox)
    return rid


def test_a_refund_applied_before_the_crash_is_found_by_its_check(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=12, seed=3) as shop:
        served = _serve(shop, state)
        sandbox = sandbox_handle(served.urls["sandbox"])
        served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
        order, line = _returnable(sandbox)
        shop.delay_answers("/refunds.json", 30)  # applied now, answered too late
        lines = [{"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}]
        rid = _process(served, lines, order)
        _wait(lambda: _refunds(shop, f"Loop return {rid}"))
        served.kill()  # the shop refunded; the outbox still says `sent`
        with State(state) as s:
            [before] = [r for r in s.outbox.every() if r.outcome == "refund"]
        restarted = _serve(shop, state)
        try:
            sandbox = sandbox_handle(restarted.urls["sandbox"])
            _wait(lambda: _order(sandbox, order["id"]).get("refunds"))
        finally:
            code, _, err = restarted.terminate()
        refunds = _refunds(shop, f"Loop return {rid}")
    assert code == 0, err
    assert before.status == "sent"
    assert len(refunds) == 1
    with State(state) as s:
        [after] = [r for r in s.outbox.every() if r.outcome == "refund"]
        run = s.outbox.run(rid, "refund")
    assert (
        after.status == "confirmed" and after.reason == "found in the platform by the step's check"
    )
    assert after.kept == {"refund_id": refunds[0]["response"]["refund"]["id"]}
    assert run is not None and run.status == "done" and run.synced_at is not None


def test_an_exchange_order_made_before_the_crash_is_not_made_again(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=12, seed=3) as shop:
        served = _serve(shop, state)
        sandbox = sandbox_handle(served.urls["sandbox"])
        served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
        order, line, _ = _cheap_pair(sandbox)
        swap = next(v["id"] for v in sandbox.admin.records("variant"))
        shop.delay_answers("/orders.json", 30)
        lines = [{"line_item_id": line["id"], "quantity": 1, "outcome": "exchange",
                  "exchange_variant_id": swap}]  # fmt: skip
        rid = _process(served, lines, order)
        _wait(lambda: _writes(shop, "/orders.json"))
        served.kill()
        restarted = _serve(shop, state)
        try:
            _wait(lambda: len(_writes(shop, "/orders.json")) >= 2)
            sandbox = sandbox_handle(restarted.urls["sandbox"])
            first = _writes(shop, "/orders.json")[0]
            new_id = str(first["response"]["order"]["id"])
            _wait(lambda: any(o["external_id"] == new_id for o in sandbox.admin.records("order")))
        finally:
            code, _, err = restarted.terminate()
        posts = _writes(shop, "/orders.json")
        with shop.client() as api:
            tagged = [
                o for o in api.get("/orders.json", params={"status": "any", "limit": 250}).json()[
                    "orders"] if "loop-exchange" in (o.get("tags") or "")
            ]  # fmt: skip
    assert code == 0, err
    assert [p["idempotency_key"] for p in posts] == [f"loop-{rid}-exchange"] * 2
    assert [p["replayed"] for p in posts] == [False, True]
    assert posts[0]["response"] == posts[1]["response"]
    assert len(tagged) == 1  # one exchange order in the shop
