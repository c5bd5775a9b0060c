"""The bulk path (`target.bulk`) against the real sandbox: the same Loop state and ID map as one
request per record, in far fewer requests; a line Loop refuses is that record's quarantine."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from engine.loop import bulk as loop_bulk
from engine.loop.api import LoopAPI
from engine.loop.kinds import kind_named
from engine.mapping.compile import CompiledMapping
from engine.pipeline.bulk import BulkPath
from engine.pipeline.prepare import Ready
from engine.pipeline.run import RunSummary
from engine.sandbox.server import running_sandbox
from engine.state import State
from tests.pipeline.conftest import Pipeline
from tests.pipeline.orders_support import (
    ORDERS,
    REFUNDED,
    order_requests,
    orders,
    setup,
    write_mapping,
)


def _normalised(order: dict[str, Any]) -> dict[str, Any]:
    """An order as stored, without what differs between two sandboxes: Loop ids (a refund's
    line becomes its line's external_id) and the time it was written."""
    lines = {li["id"]: li["external_id"] for li in order["line_items"]}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("id", "updated_at")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    refunds = [{**r, "line_item": lines[r["line_item"]["id"]]} for r in order["refunds"]]
    return dict(strip({**order, "refunds": refunds}))


def _loop_state(pipeline: Pipeline) -> dict[str, Any]:
    """Each order's normalised body, and whether the ID map holds its Loop id and line ids."""
    with State(pipeline.state_path) as state:
        ids = state.id_map("orders")
        extras = state.lookup("orders", list(ids))
    out = {}
    for order in pipeline.sandbox.admin.records("order"):
        key = order["external_id"]
        line_ids = {li["external_id"]: li["id"] for li in order["line_items"]}
        mapped = ids.get(key) == order["id"] and extras[key][2] == {"lines": line_ids}
        out[key] = (_normalised(order), mapped)
    return out


def _run(pipeline: Pipeline, compiled: CompiledMapping) -> RunSummary:
    return pipeline.run(compiled)


def test_bulk_gives_the_same_loop_state_and_id_map_in_far_fewer_requests(
    pipeline: Pipeline, tmp_path_factory: Any
) -> None:
    single = setup(pipeline, None, orders())
    _run(pipeline, single)
    with running_sandbox(rate_limit="0/min") as other:
        bulked = Pipeline(Path(tmp_path_factory.mktemp("bulk")), other)
        _run(bulked, setup(bulked, "{entities: [orders], min_batch: 10}", orders()))

        assert _loop_state(bulked) == _loop_state(pipeline)
        assert all(mapped for _, mapped in _loop_state(bulked).values())
        assert len(_loop_state(bulked)) == ORDERS
        assert order_requests(pipeline.sandbox) == Counter({"PUT orders": ORDERS + len(REFUNDED)})
        # one upload and one read of its jobs; the refunded orders still two PUTs each
        assert order_requests(bulked.sandbox) == Counter(
            {"POST bulk-operations": 1, "GET bulk-operations": 1, "PUT orders": 2 * len(REFUNDED)}
        )


def test_bulk_below_min_batch_sends_one_request_per_record(pipeline: Pipeline) -> None:
    compiled = setup(pipeline, f"{{entities: [orders], min_batch: {ORDERS}}}", orders())
    _run(pipeline, compiled)
    # 38 one-write orders < 40: the batch is not worth an operation
    assert order_requests(pipeline.sandbox) == Counter({"PUT orders": ORDERS + len(REFUNDED)})


def test_a_line_loop_refuses_is_that_records_quarantine(pipeline: Pipeline) -> None:
    compiled = setup(pipeline, "{entities: [orders], min_batch: 10}", orders(bad=7))
    summary = _run(pipeline, compiled)

    parked = pipeline.parked("quarantine")
    assert [(p["entity"], p["key"], p["stage"]) for p in parked] == [("orders", "7", "load")]
    assert "Loop answered 422: bulk line" in parked[0]["reasons"][0]
    assert "line_items.0.product.external_id" in parked[0]["reasons"][0]
    stats = {s.entity: s for s in summary.entities}["orders"]
    assert (stats.created, stats.quarantined) == (ORDERS - 1, 1)
    with State(pipeline.state_path) as state:
        assert "7" not in state.id_map("orders") and len(state.id_map("orders")) == ORDERS - 1


CATALOGUE = """\
  locations:
    extract: {path: locations.json}
    map:
      external_id: to_string(id)
      name: name
      status: "'active'"
      address: {address1: "'1 Main St'", city: "'Springfield'", country_code: "'US'"}
  products:
    extract: {path: products.json}
    map:
      external_id: to_string(id)
      name: title
      price: {amount: "`500`", currency_code: "'USD'"}
    variants:
      each: variants
      map:
        external_id: to_string(id)
        name: title
        taxable: "`true`"
  inventories:
    extract: {path: levels.json}
    map:
      product_variant_id: {lookup: variants, key: to_string(variant)}
      location_id: {lookup: locations, key: to_string(location)}
      available_count: available
"""


def _catalogue(pipeline: Pipeline, bulk: str | None) -> CompiledMapping:
    locations = [{"id": n, "name": f"Store {n}"} for n in (1, 2)]
    variants = {p: [{"id": p * 10 + i, "title": f"V{i}"} for i in (1, 2, 3)] for p in (1, 2)}
    products = [{"id": p, "title": f"P{p}", "variants": vs} for p, vs in variants.items()]
    levels = [
        {"variant": v["id"], "location": n, "available": v["id"] + n}
        for vs in variants.values()
        for v in vs
        for n in (1, 2)
    ]
    for name, data in (("locations", locations), ("products", products), ("levels", levels)):
        pipeline.write(f"{name}.json", json.dumps(data))
    return write_mapping(pipeline, "bulk-catalogue", bulk, CATALOGUE)


def _stock(pipeline: Pipeline) -> tuple[set[tuple[str, str, int]], set[str], Counter[str]]:
    """Loop's levels by (variant, location) external ids; the ID map's inventory keys; the
    requests by method and first path segment."""
    levels = {
        (str(i["product_variant"][0]["external_id"]), str(i["location"][0]["external_id"]),
         i["available_count"])
        for i in pipeline.sandbox.admin.records("inventory")
    }  # fmt: skip
    with State(pipeline.state_path) as state:
        keys = set(state.id_map("inventories"))
    requests = Counter(
        f"{r['method']} {r['path'].split('/')[3]}" for r in pipeline.sandbox.admin.requests()
    )
    return levels, keys, requests


def test_bulk_variants_and_inventories_land_as_their_single_requests(
    pipeline: Pipeline, tmp_path_factory: Any
) -> None:
    pipeline.run(_catalogue(pipeline, None))
    with running_sandbox(rate_limit="0/min") as other:
        bulked = Pipeline(Path(tmp_path_factory.mktemp("bulk")), other)
        bulked.run(_catalogue(bulked, "{entities: [variants, inventories], min_batch: 5}"))
        levels, keys, requests = _stock(bulked)

    single_levels, single_keys, single_requests = _stock(pipeline)
    assert len(levels) == 12 and levels == single_levels and keys == single_keys
    assert single_requests == Counter(
        {"PUT locations": 2, "PUT products": 8, "PUT inventories": 12}
    )
    # 6 variants and 12 levels: an upload and a jobs read each
    assert requests == Counter(
        {"PUT locations": 2, "PUT products": 2, "POST bulk-operations": 2, "GET bulk-operations": 2}
    )


def test_orders_synced_before_that_gain_refunds_go_in_bulk_with_their_line_ids(
    pipeline: Pipeline,
) -> None:
    data = orders()
    pipeline.run(setup(pipeline, "{entities: [orders], min_batch: 10}", data))
    before = len(pipeline.sandbox.admin.requests())
    gained = range(20, 32)  # 12 orders, each refunding its second line
    for n in gained:
        data[n - 1]["refunds"] = [{"id": n * 100, "line": n * 10 + 2, "amount": 502}]

    summary = pipeline.run(setup(pipeline, "{entities: [orders], min_batch: 10}", data))

    sent = [(r["method"], r["path"].split("/")[3]) for r in pipeline.sandbox.admin.requests()]
    assert sent[before:] == [("POST", "bulk-operations"), ("GET", "bulk-operations")]
    stats = {s.entity: s for s in summary.entities}["orders"]
    assert (stats.updated, stats.quarantined, stats.held) == (len(gained), 0, 0)
    for order in pipeline.sandbox.admin.records("order"):
        lines = {li["id"]: li["external_id"] for li in order["line_items"]}
        n = int(order["external_id"])
        refunded = [lines[r["line_item"]["id"]] for r in order["refunds"]]
        expected = [f"{n}2"] if n in gained else [f"{n}1"] if n in REFUNDED else []
        assert refunded == expected, order["external_id"]


def test_a_batch_over_the_line_limit_goes_in_several_files(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_bulk, "MAX_LINES", 15)  # the sandbox's own limit stays 10,000
    summary = pipeline.run(setup(pipeline, "{entities: [orders], min_batch: 10}", orders()))

    uploads = pipeline.sandbox.admin.requests(method="POST")
    lines = [r["body"].count('"method": "PUT"') for r in uploads]
    assert lines == [15, 15, ORDERS - len(REFUNDED) - 30]
    stats = {s.entity: s for s in summary.entities}["orders"]
    assert (stats.created, stats.quarantined, stats.held) == (ORDERS, 0, 0)


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({"status": "succeeded", "http_code": 200, "id": "9007199254740993"}, (9007199254740993, None)),
        ({"status": "succeeded", "http_code": 200, "id": None}, "LoadError: bulk line 3 succeeded without"),
        ({"status": "failed", "http_code": 422, "errors": {"message": "Bad."}}, "PermanentLoadError: bulk line 3: Bad."),
        ({"status": "failed", "http_code": 429, "errors": None}, "TransientLoadError: bulk line 3: HTTP 429"),
        ({"status": "failed", "http_code": 500, "errors": "boom"}, "TransientLoadError: bulk line 3: boom"),
        (None, "LoadError: bulk operation 7 (failed) has no job 3"),
    ],
)  # fmt: skip
def test_a_job_becomes_its_records_result(job: dict[str, Any] | None, expected: Any) -> None:
    """Pure: how a job's answer is read (what Loop could answer that the sandbox never does)."""
    ready = Ready("k", {}, None, {}, "hash", None)
    path = BulkPath(cast(LoopAPI, None), kind_named("customer"), 1)
    result = path._result(ready, {"id": 7, "status": "failed"}, job, 3)
    if isinstance(result, Exception):
        result = f"{type(result).__name__}: {result}"
        assert result.startswith(expected), result
    else:
        assert result == expected
