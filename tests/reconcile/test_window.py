"""Reconcile and `window:` (engine/reconcile/reconciler.py): orders outside the window that
Loop never had are counted, not reported missing; one Loop had and lost still is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.registry import connector_class
from engine.loop.client import LoopClient
from engine.reconcile.compare import EntityReport
from engine.reconcile.reconciler import ReconcileOptions, Reconciler
from engine.sandbox.server import running_sandbox
from engine.state import State
from tests.pipeline.test_window import NOW, Shop


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with running_sandbox(rate_limit="0/min") as sandbox:
        yield Shop(tmp_path, sandbox)


def _orders(shop: Shop, now: dt.datetime) -> EntityReport:
    compiled = shop.compile()
    source = compiled.mapping.source
    connector = connector_class(source["connector"])(source, compiled.mapping.base_dir)
    client = LoopClient(shop.sandbox.base_url, "sandbox", rate_limit="0/min")
    options = ReconcileOptions(entities=("orders",), now=now)
    with State(shop.folder / "state.duckdb") as state, connector, client:
        report = Reconciler(compiled, state, connector, client, options).run()
    return next(e for e in report.entities if e.entity == "orders")


def test_window_reconcile_counts_orders_outside_the_window_as_no_difference(shop: Shop) -> None:
    shop.run(shop.compile(), NOW)
    orders = _orders(shop, NOW)
    assert orders.missing == [] and orders.outside_window == 3  # 1, 2 and 3: never sent
    assert (orders.matching, orders.remaining) == (4, 0)


def test_window_reconcile_still_compares_what_fell_out_and_reports_it_lost(shop: Shop) -> None:
    shop.run(shop.compile(), NOW)
    [four] = [o for o in shop.sandbox.admin.records("order") if o["external_id"] == "4"]
    shop.sandbox.client().delete(f"/orders/{four['id']}").raise_for_status()
    later = NOW + dt.timedelta(days=60)  # 4 is outside the window now, but Loop had it
    orders = _orders(shop, later)
    assert orders.missing == ["4"]
    assert (orders.outside_window, orders.matching) == (3, 3)
