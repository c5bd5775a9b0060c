"""kill -9 at several points of a sync, then run again: nothing missing in Loop, nothing twice,
and the ID map agrees with Loop."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from engine.state import State
from examples.shopify_like import ShopHandle
from tests.e2e.conftest import Etl, Loop, shop_inventory, shop_records

# Cumulative request counts at which successive runs are killed: during customers/products,
# during inventories, during orders (a full sync of the demo shop is ~300 requests).
KILL_AT = (40, 150, 260)
POLL_S = 0.02


def _run_until_killed(etl: Etl, loop: Loop, requests: int) -> None:
    process = etl.start_run()
    try:
        while loop.request_count() < requests:
            assert process.poll() is None, (
                f"the run ended (exit {process.returncode}) before Loop saw {requests} requests: "
                f"{process.stderr.read() if process.stderr else ''}"
            )
            time.sleep(POLL_S)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_run_killed_at_several_points_then_rerun_holds_each_record_once(
        etl: Etl, loop: Loop, shop: ShopHandle) -> None:  # fmt: skip
    for at in KILL_AT:
        _run_until_killed(etl, loop, at)

    result = etl.run_json()

    assert result.code == 0, result
    _check_loop_matches_shop(loop, shop)
    _check_id_map_matches_loop(etl.state, loop)
    # and the crashes left nothing to send again
    before = loop.last_seq()
    again = etl.run_json()
    assert again.code == 0, again
    assert loop.writes(after=before) == []


def _check_loop_matches_shop(loop: Loop, shop: ShopHandle) -> None:
    expected = {
        "location": {str(r["id"]) for r in shop_records(shop, "locations")},
        "customer": {str(r["id"]) for r in shop_records(shop, "customers")},
        "product": {str(r["id"]) for r in shop_records(shop, "products")},
        "variant": {str(v["id"]) for r in shop_records(shop, "products") for v in r["variants"]},
        "collection": {str(r["id"]) for r in shop_records(shop, "custom_collections")},
        "order": {str(r["id"]) for r in shop_records(shop, "orders")},
    }
    for kind, ids in expected.items():
        assert set(loop.by_external_id(kind)) == ids, kind
    assert len(loop.inventory_pairs()) == len(shop_inventory(shop))


def _check_id_map_matches_loop(state_path: Path, loop: Loop) -> None:
    kinds = {"locations": "location", "customers": "customer", "products": "product",
             "variants": "variant", "collections": "collection", "orders": "order"}  # fmt: skip
    with State(state_path) as state:
        for entity, kind in kinds.items():
            in_loop = {ext: r["id"] for ext, r in loop.by_external_id(kind).items()}
            assert state.id_map(entity) == in_loop, entity
        # inventories are keyed by their variant (through its inventory item) and location
        keys = [k.split("@") for k in state.id_map("inventories")]
        variants = state.lookup_alias("variants", "inventory_item", [k[0] for k in keys])
        locations = state.id_map("locations")
    pairs = {(variants[item], locations[loc]) for item, loc in keys}
    assert len(pairs) == len(keys)
    assert pairs == set(loop.inventory_pairs())


def test_sigterm_ends_the_run_as_interrupted_in_the_state(etl: Etl, loop: Loop) -> None:
    process = etl.start_run()
    try:
        while loop.request_count() < 20:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(POLL_S)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM

    status = etl("status", str(etl.mapping), "--json")
    assert status.code == 0, status
    last = json.loads(status.stdout)["runs"][0]
    assert last["status"] == "interrupted" and last["finished_at"] is not None


def test_commands_while_a_run_holds_the_state_say_so_cleanly(etl: Etl, loop: Loop) -> None:
    # paced at 120/min, the run holds the state for minutes: it is stopped at the end
    slow = Etl(etl.mapping, etl.state, {**etl.env, "LOOP_RATE_LIMIT": "120/min"}, etl.cwd)
    process = slow.start_run()
    try:
        while loop.request_count() < 5:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(POLL_S)
        for args in (
            ("run", str(etl.mapping)),
            ("run", str(etl.mapping), "--dry-run"),
            ("status", str(etl.mapping)),
            ("quarantine", str(etl.mapping), "list"),
            ("reconcile", str(etl.mapping)),
        ):
            other = etl(*args)
            assert other.code == 1, (args, other)
            assert "another process is using it" in other.stderr, (args, other)
            assert "Traceback" not in other.stderr, (args, other)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        process.kill()
