"""An outcome's context: Loop's ids back to the platform's through the ID map, the lines still
in the return, and amounts in the currency's minor units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.mapping.load import load_mapping
from engine.outcomes.context import build_context
from engine.state import State
from engine.state.codec import now
from engine.state.idmap import LINES, Synced, write
from tests.e2e.conftest import MAPPINGS


def _line(line_id: str, order_line: int, refund: str, returned: bool = True) -> dict[str, Any]:
    return {
        "line_item_id": line_id,
        "provider_line_item_id": str(order_line),
        "variant_id": "9001",
        "product_id": "8001",
        "price": refund,
        "tax": "0",
        "refund": refund if returned else "0",
        "returned_at": "2026-03-01 10:00:00" if returned else None,
        "outcome": "default",
    }


def _state(tmp_path: Path) -> State:
    state = State(tmp_path / "s.duckdb")
    with state.transaction() as db:
        write(db, "orders", [Synced("5001", 700, "h", {LINES: {"11": 71, "12": 72}})], [], now())
        write(db, "variants", [Synced("3001", 9001, "h")], [("inv", "77", "3001")], now())
        write(db, "products", [Synced("2001", 8001, "h")], [], now())
        write(db, "locations", [Synced("60", 600, "h")], [], now())
    return state


def test_context_translates_loop_ids_and_keeps_only_current_lines(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "shopify-like.yaml")
    event = {
        "topic": "return", "trigger": "return.closed", "id": "42", "order_id": "700",
        "order_name": "#1001", "currency": "JPY", "handling_fee": "300",
        "line_items": [_line("1", 71, "1200"), _line("2", 72, "800", returned=False)],
        "presentment": {"line_items": [_line("1", 71, "1200")]},
    }  # fmt: skip
    with _state(tmp_path) as state:
        ctx = build_context(event, state, mapping)
    assert ctx["return_id"] == "42" and ctx["currency"] == "JPY"
    assert ctx["order"]["external_id"] == "5001" and ctx["order"]["name"] == "#1001"
    [line] = ctx["lines"]
    assert line["order_line"] == {"id": "71", "external_id": "11"}
    assert line["variant"] == {"id": "9001", "external_id": "3001", "aliases": {"inv": "77"}}
    assert line["product"] == {"id": "8001", "external_id": "2001", "aliases": {}}
    assert line["refund_minor"] == 1200  # yen: no minor unit
    assert [x["line_item_id"] for x in ctx["removed_lines"]] == ["2"]
    assert ctx["refund_minor"] == 1200 and ctx["handling_fee_minor"] == 300


def test_context_without_presentment_takes_the_lines_with_a_returned_at(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "shopify-like.yaml")
    event = {
        "topic": "return", "trigger": "return.closed", "id": "43", "order_id": 999,
        "currency": "USD",
        "line_items": [_line("1", 71, "12.50"), _line("2", 72, "8.00", returned=False)],
    }  # fmt: skip
    with _state(tmp_path) as state:
        ctx = build_context(event, state, mapping)
    assert [x["line_item_id"] for x in ctx["lines"]] == ["1"]
    assert ctx["refund_minor"] == 1250
    assert ctx["order"]["external_id"] is None  # an order the ID map does not know


def test_context_restock_items_take_either_loop_or_platform_ids(tmp_path: Path) -> None:
    mapping = load_mapping(MAPPINGS / "shopify-like.yaml")
    event = {
        "topic": "restock", "trigger": "restock.requested", "id": "44", "order_id": "700",
        "restock_items": [
            {"variant_id": "9001", "location_id": "600", "available_adjustment": 1},
            {"variant_id": "3002", "location_id": "61", "available_adjustment": 2},
        ],
    }  # fmt: skip
    with _state(tmp_path) as state:
        ctx = build_context(event, state, mapping)
    known, unknown = ctx["restock_items"]
    assert known["variant"]["external_id"] == "3001" and known["location"]["external_id"] == "60"
    assert unknown["variant"]["external_id"] == "3002"  # not a Loop id: the platform's own
    assert unknown["location"]["external_id"] == "61"
