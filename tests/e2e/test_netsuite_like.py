"""A NetSuite saved-search export (tests/e2e/netsuite_like.py) mapped with YAML only
(netsuite_like.yaml: the files connector's `csv` labels and blanks, `group`, `join`, the number
grammar, `rfc3339` with a format in the mapping's zone) and synced by `etl run` into the
sandbox. Every expected value is computed here from the generator's data, not by the mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.sandbox.server import running_sandbox
from tests.e2e.conftest import UNLIMITED, Etl, Loop, Result, clean_env, write_counts
from tests.e2e.netsuite_like import (
    FORMAT,
    ZONE,
    Credited,
    Line,
    NetSuite,
    Order,
    generate,
    ns_time,
)

MAPPING = Path(__file__).with_name("netsuite_like.yaml")


def minor(value: Decimal) -> int:
    return int(value * 100)


@dataclass
class Synced:
    ns: NetSuite
    data: Path
    loop: Loop
    etl: Etl
    first: Result


def sync(folder: Path, loop: Loop) -> Synced:
    """Generate the export into `folder/data` and run the mapping once into `loop`."""
    ns = generate()
    ns.write(folder / "data")
    env = clean_env(NS_DATA_DIR=str(folder / "data"), LOOP_API_URL=loop.base_url)
    etl = Etl(MAPPING, folder / "state.duckdb", env, cwd=folder)
    first = etl.run_json()
    assert first.code == 0, first
    return Synced(ns, folder / "data", loop, etl, first)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One full sync, shared by the tests that only read what it left (they change nothing)."""
    with running_sandbox(rate_limit=UNLIMITED, seed=7) as handle:
        yield sync(tmp_path_factory.mktemp("netsuite"), Loop(handle))


def orders_by_name(loop: Loop) -> dict[str, dict[str, Any]]:
    return loop.by_external_id("order")


def line_ids(order: dict[str, Any]) -> dict[int, str]:
    """Loop line id -> line external_id, as refunds name lines by Loop id."""
    return {line["id"]: line["external_id"] for line in order["line_items"]}


def test_netsuite_like_first_run_creates_every_record_of_the_export(synced: Synced) -> None:
    ns, summary = synced.ns, synced.first.summary
    matrix_children = [i for i in ns.items if i.parent]
    standalone = [i for i in ns.items if not i.matrix_type]
    expected = {
        "locations": len(ns.locations),
        "customers": len(ns.customers),
        "products": len(ns.items) - len(matrix_children),
        "variants": len(matrix_children) + len(standalone),
        "inventories": len(ns.on_hand),
        "orders": len(ns.orders),
    }
    assert {name: e["created"] for name, e in summary.items()} == expected
    assert all(e["quarantined"] == 0 and e["held"] == 0 for e in summary.values())


def test_netsuite_like_matrix_items_become_products_with_their_children(synced: Synced) -> None:
    ns, loop = synced.ns, synced.loop
    expected: dict[str, dict[str, tuple[int, list[dict[str, Any]]]]] = {}
    for item in ns.items:
        if item.matrix_type == "Child Matrix Item":
            options = [{"position": 1, "value": item.size}]
            expected[item.parent][item.name] = (minor(item.price), options)
        else:  # a parent, or a standalone item that is its own (only) variant
            expected[item.name] = {} if item.matrix_type else {item.name: (minor(item.price), [])}
    found: dict[str, dict[str, tuple[int, list[dict[str, Any]]]]] = {
        p["external_id"]: {} for p in loop.records("product")
    }
    for v in loop.records("variant"):
        found[v["product"]["external_id"]][v["external_id"]] = (v["price"]["amount"], v["options"])
    assert found == expected
    assert {p: len(vs) for p, vs in found.items()} == {
        "NS-001": 3, "NS-002": 3, "NS-003": 2, "NS-004": 2, "NS-005": 3,
        "NS-006": 1, "NS-007": 1, "NS-008": 1,
    }  # fmt: skip
    sizes = {p["external_id"]: p["options"] for p in loop.records("product")}
    assert sizes["NS-003"] == [{"position": 1, "name": "Size", "values": ["XS", "S"]}]
    assert sizes["NS-006"] == []


def test_netsuite_like_inventory_reads_thousands_and_blank_as_zero(synced: Synced) -> None:
    names = {x.internal_id: x.name for x in synced.ns.locations}
    found = {
        (r["product_variant"][0]["external_id"], names[r["location"][0]["external_id"]]):
            r["available_count"]
        for r in synced.loop.records("inventory")
    }  # fmt: skip
    assert found == synced.ns.on_hand
    assert any(n >= 1000 for n in found.values()) and 0 in found.values()


def _line(line: Line) -> tuple[str, str, int, int, int]:
    return (
        line.item.name,
        line.item.parent or line.item.name,
        line.quantity,
        minor(line.rate),
        minor(line.tax),
    )


def _order(order: Order) -> dict[str, Any]:
    status = {"Pending Fulfillment": "active", "Billed": "archived", "Cancelled": "cancelled"}
    return {
        "total": minor(order.total),
        "shipping": minor(order.shipping),
        "status": status[order.status],
        "customer": order.customer.internal_id,
        "tags": [order.memo] if order.memo else [],
        "lines": {f"{order.number}-{ln.line_id}": _line(ln) for ln in order.lines},
    }


def _stored(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": order["total_price"]["amount"],
        "shipping": order["total_shipping"]["amount"],
        "status": order["status"],
        "customer": order["customer"]["external_id"],
        "tags": order["tags"],
        "lines": {
            ln["external_id"]: (ln["product_variant"]["external_id"], ln["product"]["external_id"],
                                ln["quantity"], ln["unit_price"]["amount"],
                                ln["tax_lines"][0]["price"]["amount"])
            for ln in order["line_items"]
        },
    }  # fmt: skip


def test_netsuite_like_order_lines_become_orders_with_totals_and_quantities(
    synced: Synced,
) -> None:
    stored = orders_by_name(synced.loop)
    assert {name: _stored(o) for name, o in stored.items()} == {
        o.number: _order(o) for o in synced.ns.orders
    }
    many = [o for o in synced.ns.orders if len(o.lines) == 4]
    assert many and all(len(stored[o.number]["line_items"]) == 4 for o in many)
    assert any(ln.quantity == 1200 for o in synced.ns.orders for ln in o.lines)  # "1,200"


def test_netsuite_like_fulfillments_are_joined_with_their_line_quantities(synced: Synced) -> None:
    expected: dict[str, dict[str, Any]] = {o.number: {} for o in synced.ns.orders}
    for f in synced.ns.fulfillments:
        lines = {f"{f.order.number}-{s.order_line}": s.quantity for s in f.lines}
        tracking = [f.tracking] if f.tracking else None
        expected[f.order.number][f.number] = (f.location.internal_id, tracking, lines)
    found = {
        name: {
            f["external_id"]: (f["location"]["external_id"], f.get("tracking_numbers") or None,
                               {x["order_line_item_external_id"]: x["quantity"]
                                for x in f["fulfillment_line_items"]})
            for f in order["fulfillments"]
        }
        for name, order in orders_by_name(synced.loop).items()
    }  # fmt: skip
    assert found == expected
    assert any(len(shipments) == 2 for shipments in found.values())


def _refund(memo_number: str, order: str, c: Credited) -> tuple[str, tuple[Any, ...]]:
    if c.order_line is None:
        return f"{memo_number}-shipping", ("shipping", minor(c.amount), None, None)
    line = f"{order}-{c.order_line}"
    return f"{memo_number}-{c.order_line}", ("line_item", minor(c.amount), line, c.quantity)


def test_netsuite_like_credit_memos_become_refunds_of_their_lines(synced: Synced) -> None:
    expected: dict[str, dict[str, tuple[Any, ...]]] = {o.number: {} for o in synced.ns.orders}
    for m in synced.ns.credit_memos:
        expected[m.order.number].update(_refund(m.number, m.order.number, c) for c in m.lines)
    found: dict[str, dict[str, tuple[Any, ...]]] = {}
    for name, order in orders_by_name(synced.loop).items():
        lines = line_ids(order)
        found[name] = {
            r["external_id"]: (r["type"], r["amount"]["amount"],
                               lines[r["line_item"]["id"]] if r.get("line_item") else None,
                               (r.get("line_item") or {}).get("quantity"))
            for r in order["refunds"]
        }  # fmt: skip
    assert found == expected
    assert any(r[0] == "shipping" for refunds in found.values() for r in refunds.values())


def test_netsuite_like_local_times_are_utc_across_daylight_saving(synced: Synced) -> None:
    zone = ZoneInfo(ZONE)

    def utc(text: str) -> str:  # fold=0: an ambiguous hour is its first, a missing one shifted
        return datetime.strptime(text, FORMAT).replace(tzinfo=zone).astimezone(UTC).isoformat()

    stored = orders_by_name(synced.loop)
    assert {n: o["created_at"] for n, o in stored.items()} == {
        o.number: utc(ns_time(o.created)) for o in synced.ns.orders
    }
    assert ns_time(synced.ns.orders[0].created) == "11/3/2024 1:30 am"
    assert stored["SO1001"]["created_at"] == "2024-11-03T08:30:00+00:00"  # PDT, first of two
    assert ns_time(synced.ns.orders[1].created) == "3/10/2024 2:30 am"
    assert stored["SO1002"]["created_at"] == "2024-03-10T10:30:00+00:00"  # = 3:30 am PDT
    shipped = {
        f["external_id"]: f["fulfilled_at"] for o in stored.values() for f in o["fulfillments"]
    }
    assert shipped == {f.number: utc(ns_time(f.date)) for f in synced.ns.fulfillments}


def _bodies(loop: Loop, path_end: str) -> dict[str, dict[str, Any]]:
    """The last body PUT to a collection path ending in `path_end`, by external_id."""
    return {
        r["json"]["external_id"]: r["json"]
        for r in loop.requests()
        if r["method"] == "PUT" and r["path"].endswith(path_end)
    }


def test_netsuite_like_blank_cells_are_absent_from_payloads(synced: Synced) -> None:
    ns, loop = synced.ns, synced.loop
    customers = _bodies(loop, "/customers")
    blank_phone = {c.internal_id for c in ns.customers if not c.phone}
    assert blank_phone and {k for k, c in customers.items() if "phone" not in c} == blank_phone
    locations = _bodies(loop, "/locations")
    assert {k for k, x in locations.items() if "address2" not in x["address"]} == {
        x.internal_id for x in ns.locations if not x.address2
    }
    variants = _bodies(loop, "/product-variants")
    assert {k for k, v in variants.items() if "barcode" not in v} == {
        i.name for i in ns.items if i.matrix_type != "Parent Matrix Item" and not i.upc
    }
    orders = _bodies(loop, "/orders")
    assert {k for k, o in orders.items() if "tags" not in o} == {
        o.number for o in ns.orders if not o.memo
    }
    untracked = {f.number for f in ns.fulfillments if not f.tracking}
    assert untracked and untracked == {
        f["external_id"] for o in orders.values() for f in o.get("fulfillments", [])
        if "tracking_numbers" not in f
    }  # fmt: skip
    assert '""' not in json.dumps([customers, locations, variants, orders])


def test_netsuite_like_changed_line_and_credit_memo_resend_only_their_order(
    tmp_path: Path, loop: Loop
) -> None:
    run = sync(tmp_path, loop)
    order = run.ns.orders[2]  # SO1003: three lines, fulfilled, one credit memo
    [memo] = [m for m in run.ns.credit_memos if m.order is order]
    changed = order.lines[1]
    changed.quantity += 1
    memo.lines.append(Credited(changed.line_id, changed.item.name, 1, changed.rate))
    run.ns.write(run.data)
    before = loop.last_seq()
    second = run.etl.run_json()
    assert second.code == 0, second
    writes = loop.writes(after=before)
    assert write_counts(writes) == {"PUT /orders": 1}  # line ids known: one PUT with the refund
    assert {w["json"]["external_id"] for w in writes} == {order.number}
    summary = second.summary
    assert summary["orders"]["updated"] == 1
    assert summary["orders"]["unchanged"] == len(run.ns.orders) - 1
    stored = orders_by_name(loop)[order.number]
    assert _stored(stored)["lines"][f"{order.number}-2"][2] == changed.quantity
    assert stored["total_price"]["amount"] == minor(order.total)
    refunds = {r["external_id"]: r for r in stored["refunds"]}
    new = refunds[f"{memo.number}-{changed.line_id}"]
    assert new["amount"]["amount"] == minor(changed.rate)
    assert line_ids(stored)[new["line_item"]["id"]] == f"{order.number}-{changed.line_id}"
