"""Bucket III end to end: `etl serve` receives the embedded sandbox's signed `return.created`,
and the mapping's rule flags the high-value return with its note, once, in the sandbox."""

from __future__ import annotations

from pathlib import Path

from engine.sandbox.server import SandboxHandle
from engine.state import State
from tests.cli.serve_support import sandbox_handle, start_serve, write_mapping
from tests.sandbox.support import create_return, flush, sync_order

RULES = """\
rules:
  - name: inspect high-value returns
    trigger: [return.created]
    when: "to_number(total) > `10`"
    actions:
      - flag: "Inspect before refunding: {{ total }} {{ currency }} on {{ order_name }}"
  - name: never
    trigger: [return.created]
    when: "to_number(total) > `100000`"
    actions: [{close: true}]
"""


def test_a_rule_flags_a_high_value_return_once_with_its_note(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    mapping.write_text(mapping.read_text() + RULES)
    served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")
    try:
        sandbox = sandbox_handle(served.urls["sandbox"])
        # every delivery sent twice, as Loop may: the rule must still act once
        answer = sandbox.admin.post("/config", json={"webhook_duplicate_rate": 1.0})
        assert answer.status_code == 200, answer.text
        order = sync_order(sandbox, tag="777")
        created = create_return(sandbox, order)
        flush(sandbox)
        served.wait_until(lambda h: h["inbox"]["processed"] >= 1 and h["inbox"]["duplicates"] >= 1)
        rid = str(created["id"])
        with sandbox.client() as api:
            notes = api.get(f"/warehouse/return/{rid}/notes").json()
            details = api.get("/warehouse/return/details", params={"return_id": rid}).json()
        import httpx

        metrics = httpx.get(served.urls["metrics"], timeout=10).text
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    assert details["state"] == "review"
    [note] = notes["notes"]
    assert note["content"].startswith("Inspect before refunding: ")
    with State(state) as s:
        firings = s.rule_firings(rid)
    assert [(f["rule"], f["status"], f["actions"]) for f in firings] == [
        ("inspect high-value returns", "done", ["flag"])
    ]
    assert 'etl_return_actions_total{action="flag",result="done"} 1.0' in metrics
    # a replay processes the event again: the rule does not act twice
    from click.testing import CliRunner

    from engine.cli import main

    with State(state) as s:
        [created_event] = [e for e in s.inbox_events() if e["trigger"] == "return.created"]
    replay = CliRunner().invoke(
        main, ["inbox", str(mapping), "replay", created_event["key"], "--state", str(state)]
    )
    assert replay.exit_code == 0, replay.output
    with State(state) as s:
        assert len(s.rule_firings(rid)) == 1


def test_a_poll_overlapping_the_webhooks_stores_and_does_nothing_twice(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from engine.cli import main

    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")
    try:
        sandbox = sandbox_handle(served.urls["sandbox"])
        created = create_return(sandbox, sync_order(sandbox, tag="778"))
        flush(sandbox)
        served.wait_until(lambda h: h["inbox"]["processed"] >= 1)
    finally:
        code, _, err = served.terminate()
    assert code == 0, err

    # the embedded sandbox keeps its data beside the state: the poll lists the same return
    result = CliRunner().invoke(
        main,
        ["poll", str(mapping), "--state", str(state), "--since", "1d"],
        env={"LOOP_WEBHOOK_SECRET": ""},
    )
    assert result.exit_code == 0, result.output
    assert "listed 1 return(s), 0 new in the inbox" in result.output
    with State(state) as s:
        events = s.inbox_events()
        effects = s.return_effects()
    assert len(events) == 1 and events[0]["duplicates"] >= 1
    assert [(e["return_id"], e["state"]) for e in effects] == [(str(created["id"]), "open")]


def test_serve_runs_the_first_sync_and_polls_on_its_schedule(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    text = mapping.read_text().replace(
        "schedule: {sync: null, poll: null}", "schedule: {sync: 1h, poll: 1s}"
    )
    mapping.write_text(text)
    served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")
    try:
        assert any(
            line.startswith("schedule: sync every 3600 s, poll every 1 s") for line in served.lines
        )
        sandbox = sandbox_handle(served.urls["sandbox"])
        served.wait_until(lambda h: len(sandbox.admin.records("customer")) == 1)
        served.wait_until(lambda h: h["jobs"].get("schedule") is True)

        def polls() -> int:
            listed = sandbox.admin.requests(path="/api/2026-10/warehouse/return/list")
            return len(listed)

        served.wait_until(lambda h: polls() >= 6)  # each poll asks for 3 sets of states
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    with State(state) as s:
        runs = s.runs()
        cursor = s.cursor("loop:returns")
    assert runs and runs[-1]["command"] == "run" and runs[-1]["status"] == "ok"
    assert (sandbox is not None and cursor is None) or isinstance(cursor, str)


PLATFORM = """\
platform_webhooks:
  secret: shop-webhook-secret
  header: X-Shopify-Hmac-Sha256
"""


def test_a_platform_webhook_reaches_loop_at_once_without_a_sync(tmp_path: Path) -> None:
    import base64
    import hashlib
    import hmac
    import json

    import httpx

    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    mapping.write_text(mapping.read_text() + PLATFORM)
    served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")
    try:
        sandbox = sandbox_handle(served.urls["sandbox"])
        url = served.urls["receiver"].replace("/webhooks/loop", "/webhooks/platform/customers")
        raw = json.dumps({"id": 42, "email": "changed@example.test"}).encode()
        good = base64.b64encode(hmac.new(b"shop-webhook-secret", raw, hashlib.sha256).digest())
        wrong = httpx.post(url, content=raw, headers={"X-Shopify-Hmac-Sha256": "nope"})
        # the answer comes once the record is in Loop: no sync run is involved
        answer = httpx.post(url, content=raw, headers={"X-Shopify-Hmac-Sha256": good.decode()})
        stored = {c["external_id"]: c["email"] for c in sandbox.admin.records("customer")}
        metrics = httpx.get(served.urls["metrics"], timeout=10).text
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    assert wrong.status_code == 401
    assert answer.status_code == 200, answer.text
    assert answer.json()["synced"]["customers"]["created"] == 1
    assert stored == {"42": "changed@example.test"}
    assert 'etl_sync_records_total{entity="customers",result="created"} 1.0' in metrics
    assert 'etl_platform_webhooks_total{entity="customers",status="401"} 1.0' in metrics
    assert 'etl_loop_requests_total{status="ok"}' in metrics


def test_a_changed_product_from_the_shops_webhook_reaches_loop_without_a_sync(
    tmp_path: Path,
) -> None:
    import base64
    import hashlib
    import hmac
    import json

    import httpx

    from examples.shopify_like import running_shopify_like
    from tests.e2e.conftest import MAPPINGS

    state = tmp_path / "state.duckdb"
    with running_shopify_like(orders=6, seed=2) as shop:
        served = start_serve(
            MAPPINGS / "shopify-like.yaml", state, SHOP_URL=shop.api_url,
            SHOP_LOCATION_IDS="", LOOP_RATE_LIMIT="0/min", LOOP_WEBHOOK_SECRET="",
        )  # fmt: skip
        try:
            sandbox = sandbox_handle(served.urls["sandbox"])
            served.wait_until(lambda h: len(sandbox.admin.records("product")) > 0, 120)
            served.wait_until(lambda h: _idle(sandbox), 120)  # the first sync is over
            headers = {"X-Shopify-Access-Token": "demo"}
            products = httpx.get(f"{shop.api_url}/products.json", headers=headers).json()
            product = products["products"][0] | {"title": "Renamed by the merchant"}
            raw = json.dumps(product).encode()
            digest = hmac.new(b"demo-webhook-secret", raw, hashlib.sha256).digest()
            url = served.urls["receiver"].replace("/webhooks/loop", "/webhooks/platform/products")
            answer = httpx.post(
                url,
                content=raw,
                headers={"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()},
            )
            names = {p["external_id"]: p["name"] for p in sandbox.admin.records("product")}
        finally:
            code, _, err = served.terminate()
    assert code == 0, err
    assert answer.status_code == 200, answer.text
    assert answer.json()["synced"]["products"]["updated"] == 1
    assert names[str(product["id"])] == "Renamed by the merchant"


def _idle(sandbox: SandboxHandle) -> bool:
    """No write reached the sandbox in the last second."""
    import time

    before = len(sandbox.admin.requests())
    time.sleep(1.0)
    return len(sandbox.admin.requests()) == before
