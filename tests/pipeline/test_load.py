"""The loader's order writes against the real sandbox: refunds reference Loop's own line ids, so
a new order with refunds costs two PUTs (the first one numbers its lines), and an order synced
before, which gains a refund, costs one (its line ids come from the ID map)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from engine.sandbox.server import SandboxHandle
from tests.pipeline.conftest import Pipeline
from tests.pipeline.orders_support import REFUNDED, orders, setup


def _order_puts(sandbox: SandboxHandle, after: int = 0) -> Counter[str]:
    """PUT /orders per order external_id, among the requests after the `after`-th."""
    return Counter(
        str(json.loads(r["body"])["external_id"])
        for r in sandbox.admin.requests()[after:]
        if r["method"] == "PUT" and r["path"].endswith("/orders")
    )


def _refunds(sandbox: SandboxHandle, key: str) -> list[tuple[Any, Any]]:
    """(refund external_id, the external_id of the line it refunds) of an order in Loop."""
    order = next(o for o in sandbox.admin.records("order") if o["external_id"] == key)
    lines = {li["id"]: li["external_id"] for li in order["line_items"]}
    return [(r["external_id"], lines.get(r["line_item"]["id"])) for r in order["refunds"]]


def test_a_new_order_with_refunds_takes_two_puts_the_first_without_refunds(
    pipeline: Pipeline,
) -> None:
    pipeline.run(setup(pipeline, None, orders()))

    puts = _order_puts(pipeline.sandbox)
    assert {key: n for key, n in puts.items() if n > 1} == {str(n): 2 for n in REFUNDED}
    first = next(
        json.loads(r["body"])
        for r in pipeline.sandbox.admin.requests()
        if r["path"].endswith("/orders") and json.loads(r["body"])["external_id"] == "3"
    )
    assert "refunds" not in first  # Loop has no line ids to reference before this answer
    assert _refunds(pipeline.sandbox, "3") == [("300", "31")]


def test_an_order_synced_before_that_gains_a_refund_takes_one_put(pipeline: Pipeline) -> None:
    data = orders()
    pipeline.run(setup(pipeline, None, data))
    before = len(pipeline.sandbox.admin.requests())
    data[4]["refunds"] = [{"id": 500, "line": 52, "amount": 502}]  # order 5, its second line

    summary = pipeline.run(setup(pipeline, None, data))

    assert _order_puts(pipeline.sandbox, before) == Counter({"5": 1})
    assert _refunds(pipeline.sandbox, "5") == [("500", "52")]
    stats = {s.entity: s for s in summary.entities}["orders"]
    assert (stats.updated, stats.requests, stats.quarantined) == (1, 1, 0)
