"""Bucket IV end to end: `etl serve` over the shopify-like demo and the embedded sandbox; a
return processed in the sandbox is refunded in the shop once, and the order's refund reaches
Loop's commerce data through the sync back."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from engine.cli import main
from engine.sandbox.server import SandboxHandle
from engine.state import State
from examples.shopify_like import running_shopify_like
from tests.cli.serve_support import Served, sandbox_handle, start_serve
from tests.e2e.conftest import MAPPINGS
from tests.sandbox.support import flush

MAPPING = MAPPINGS / "shopify-like.yaml"


def _returnable(sandbox: SandboxHandle) -> tuple[dict[str, Any], dict[str, Any]]:
    """A synced order with a fulfilled line and no refund yet, and a line of it cheap enough
    that the mapping's rule does not flag its return for inspection (over 200)."""
    for order in sandbox.admin.records("order"):
        if order.get("fulfillments") and not order.get("refunds"):
            for line in order["line_items"]:
                if line["unit_price"]["amount"] < 15_000:
                    return dict(order), dict(line)
    raise AssertionError("no fulfilled, unrefunded order in the sandbox")


def _wait(check: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def _refunds(shop: Any, note: str) -> list[dict[str, Any]]:
    return [
        w
        for w in shop.writes()
        if w["path"].endswith("/refunds.json")
        and w["method"] == "POST"
        and (w.get("body") or {}).get("refund", {}).get("note") == note
    ]


def _start(shop: Any, state: Path) -> Served:
    served = start_serve(
        MAPPING, state, SHOP_URL=shop.api_url, SHOP_LOCATION_IDS="",
        LOOP_RATE_LIMIT="0/min", LOOP_WEBHOOK_SECRET="",
    )  # fmt: skip
    sandbox = sandbox_handle(served.urls["sandbox"])
    served.wait_until(lambda h: len(sandbox.admin.records("order")) > 0, 120)
    return served


def test_a_processed_return_is_refunded_once_and_loop_learns_the_refund(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=12, seed=3) as shop:
        served = _start(shop, state)
        try:
            sandbox = sandbox_handle(served.urls["sandbox"])
            _wait(lambda: _synced(sandbox), 120)
            # every webhook delivered twice, as Loop may: still one refund
            config = sandbox.admin.post("/config", json={"webhook_duplicate_rate": 1.0})
            assert config.status_code == 200, config.text
            order, line = _returnable(sandbox)
            created = sandbox.admin.post(
                "/returns",
                json={"order_id": order["id"], "line_items": [
                    {"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}]},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            rid = str(created.json()["id"])
            with sandbox.client() as api:
                answer = api.post(f"/warehouse/return/{rid}/process")
                assert answer.status_code == 200 and answer.json() in (True, "true"), answer.text
                details = api.get("/warehouse/return/details", params={"return_id": rid}).json()
            flush(sandbox)
            note = f"Loop return {rid}"
            [refund] = _wait(lambda: _refunds(shop, note))
            # Loop's order learns the refund through the sync back, with no sync run
            _wait(lambda: _order(sandbox, order["id"]).get("refunds"))
            synced = _order(sandbox, order["id"])
            served.wait_until(lambda h: h["inbox"]["duplicates"] >= 3)  # created, updated, closed
            metrics = httpx.get(served.urls["metrics"], timeout=10).text
        finally:
            code, _, err = served.terminate()
        assert code == 0, err
        # the same return.closed processed again, and a poll reporting the closed return:
        # the run is claimed already, so nothing more is refunded
        with State(state) as s:
            [closed] = [e["key"] for e in s.inbox_events() if e["trigger"] == "return.closed"]
        env = {"SHOP_URL": shop.api_url, "SHOP_LOCATION_IDS": "", "LOOP_RATE_LIMIT": "0/min"}
        cli = CliRunner()
        replay = cli.invoke(
            main, ["inbox", str(MAPPING), "replay", closed, "--state", str(state)], env=env
        )
        polled = cli.invoke(
            main, ["poll", str(MAPPING), "--since", "1d", "--state", str(state)], env=env
        )
        refunds_after = _refunds(shop, f"Loop return {rid}")
    assert replay.exit_code == 0, replay.output
    assert polled.exit_code == 0, polled.output
    assert "listed 1 return(s)" in polled.output, polled.output
    assert len(refunds_after) == 1
    expected = sum(
        Decimal(x["refund"]) for x in details["line_items"] if x.get("returned_at")
    )  # what Loop computed for the lines still in the return
    [transaction] = refund["body"]["refund"]["transactions"]
    assert Decimal(transaction["amount"]) == expected > 0
    [item] = refund["body"]["refund"]["refund_line_items"]
    assert str(item["line_item_id"]) == line["external_id"] and item["quantity"] == 1
    assert refund["status"] == 201
    assert synced["refunds"][0]["line_item"]["id"] == line["id"]
    # the mapping's refund amount is the refunded line's subtotal (bucket I's rule)
    assert synced["refunds"][0]["amount"]["amount"] == line["unit_price"]["amount"]
    assert 'etl_outcome_steps_total{outcome="refund",result="confirmed"} 1.0' in metrics
    with State(state) as s:
        steps = s.outbox.every()
    assert [(r.return_id, r.step, r.status) for r in steps if r.outcome == "refund"] == [
        (rid, "refund", "confirmed")
    ]


def _synced(sandbox: SandboxHandle) -> bool:
    orders = sandbox.admin.records("order")
    return bool(orders) and any(o.get("fulfillments") for o in orders)


def _order(sandbox: SandboxHandle, loop_id: Any) -> dict[str, Any]:
    return next(o for o in sandbox.admin.records("order") if o["id"] == loop_id)


def _writes(shop: Any, path_end: str) -> list[dict[str, Any]]:
    return [w for w in shop.writes() if w["method"] == "POST" and w["path"].endswith(path_end)]


def test_an_exchange_a_store_credit_and_a_restock_run_once_each(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=12, seed=3) as shop:
        served = start_serve(
            MAPPING, state, SHOP_URL=shop.api_url, LOOP_RATE_LIMIT="0/min",
            LOOP_WEBHOOK_SECRET="",
        )  # fmt: skip
        try:
            sandbox = sandbox_handle(served.urls["sandbox"])
            served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 180)
            order, line, other = _cheap_pair(sandbox)
            stock_before = _loop_stock(sandbox)
            variants = [v["id"] for v in sandbox.admin.records("variant")]
            swap = next(v for v in variants if v != (line.get("product_variant") or {}).get("id"))
            body = {"order_id": order["id"], "line_items": [
                {"line_item_id": line["id"], "quantity": 1, "outcome": "exchange",
                 "exchange_variant_id": swap},
                {"line_item_id": other["id"], "quantity": 1, "outcome": "store_credit"},
            ]}  # fmt: skip
            created = sandbox.admin.post("/returns", json=body)
            assert created.status_code == 201, created.text
            rid = str(created.json()["id"])
            with sandbox.client() as api:
                assert api.post(f"/warehouse/return/{rid}/process").status_code == 200
            flush(sandbox)
            [exchange] = _wait(lambda: _writes(shop, "/orders.json"))
            [card] = _wait(lambda: _writes(shop, "/gift_cards.json"))
            adjustments = _wait(lambda: _writes(shop, "/inventory_levels/adjust.json"))
            new_order = str(exchange["response"]["order"]["id"])
            # the exchange order reaches Loop, so that it can be returned later
            _wait(
                lambda: any(o["external_id"] == new_order for o in sandbox.admin.records("order"))
            )
            # the restocked units reach Loop's inventory through the sync back
            _wait(lambda: _loop_stock(sandbox) == stock_before + 2)
        finally:
            code, _, err = served.terminate()
    assert code == 0, err
    assert exchange["idempotency_key"] == f"loop-{rid}-exchange" and exchange["status"] == 201
    [item] = exchange["body"]["order"]["line_items"]
    assert item["price"] == "0.00" and item["quantity"] == 1
    assert card["idempotency_key"] == f"loop-{rid}-gift-card" and card["status"] == 201
    assert card["body"]["gift_card"]["note"].startswith(f"Loop return {rid}")
    assert sum(a["body"]["available_adjustment"] for a in adjustments) == 2
    with State(state) as s:
        steps = {(r.outcome, r.step, r.item, r.status) for r in s.outbox.every()}
    assert ("exchange", "order", None, "confirmed") in steps
    assert ("gift_card", "card", None, "confirmed") in steps
    assert all(status == "confirmed" for *_, status in steps), steps


def _loop_stock(sandbox: SandboxHandle) -> int:
    """Units available in Loop's inventory, every variant and location together."""
    return sum(int(r.get("available_count") or 0) for r in sandbox.admin.records("inventory"))


def _cheap_pair(sandbox: SandboxHandle) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An order and two units to return (two lines, or one line twice) worth under 150 before
    tax, so that the mapping's rule does not flag the return (over 200)."""
    for order in sandbox.admin.records("order"):
        if not order.get("fulfillments") or order.get("refunds"):
            continue
        lines = sorted(order["line_items"], key=lambda x: x["unit_price"]["amount"])
        first = lines[0]
        price = first["unit_price"]["amount"]
        if (first.get("quantity") or 1) > 1 and 2 * price < 15_000:
            return dict(order), dict(first), dict(first)
        if len(lines) > 1 and price + lines[1]["unit_price"]["amount"] < 15_000:
            return dict(order), dict(first), dict(lines[1])
    raise AssertionError("no order with two cheap units")


def test_a_return_closed_by_loop_etl_runs_no_outcome(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=12, seed=3) as shop:
        served = _start(shop, state)
        try:
            sandbox = sandbox_handle(served.urls["sandbox"])
            _wait(lambda: _synced(sandbox), 120)
            order, line = _returnable(sandbox)
            created = sandbox.admin.post("/returns", json={"order_id": order["id"], "line_items": [
                {"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}]})  # fmt: skip
            rid = str(created.json()["id"])
            env = {"LOOP_API_URL": served.urls["sandbox"], "SHOP_URL": shop.api_url}
            closed = CliRunner().invoke(
                main,
                ["returns", str(MAPPING), "close", rid, "--state", str(state)],
                env=env,
                catch_exceptions=False,
            )
            flush(sandbox)
            served.wait_until(lambda h: h["inbox"]["processed"] >= 2)  # created, closed
        finally:
            code, _, err = served.terminate()
    assert code == 0, err
    assert closed.exit_code == 0, closed.output
    with State(state) as s:
        triggers = [e["trigger"] for e in s.inbox_events()]
        steps = s.outbox.every()
    assert "return.closed" in triggers
    assert steps == []
    assert _refunds(shop, f"Loop return {rid}") == []
