"""The backfill estimate (engine/pipeline/estimate.py): its arithmetic, the source's counts
(a sql COUNT, the window counted at the source) and the estimate made before a first run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.registry import connector_class
from engine.cli import main
from engine.context import run_mapping
from engine.mapping.compile import load_and_compile
from engine.pipeline.estimate import Estimate, count_records, plan
from engine.pipeline.run import RunOptions
from engine.sandbox.server import SandboxHandle
from tests.pipeline.test_window import NOW, Shop

REPO = Path(__file__).resolve().parents[2]
# the mid-size merchant, inventory levels = variants x 3 locations
MERCHANT = {"locations": 3, "customers": 200_000, "products": 50_000, "variants": 150_000,
            "inventories": 450_000, "collections": 0, "orders": 1_000_000}  # fmt: skip


def test_plan_is_one_request_per_record_plus_the_refunds_second_put() -> None:
    compiled = load_and_compile(REPO / "mappings" / "shopify-like.yaml", env={})
    estimate = plan(compiled, MERCHANT, refund_share=0.1)
    lines = {line.entity: line for line in estimate.lines}
    assert lines["orders"].requests == 1_100_000  # + 10 % second PUTs
    assert lines["variants"].requests == 150_000 and lines["inventories"].requests == 450_000
    assert estimate.requests == 3 + 200_000 + 50_000 + 150_000 + 450_000 + 1_100_000
    assert estimate.hours == pytest.approx(estimate.requests / 300 / 60)  # at 300/min
    assert estimate.unknown == []


def test_plan_leaves_what_the_source_cannot_count_out_and_says_so() -> None:
    compiled = load_and_compile(REPO / "mappings" / "shopify-like.yaml", env={})
    estimate = plan(compiled, {"customers": 10}, ["customers", "products"])
    assert estimate.requests == 10
    assert estimate.unknown == ["products", "variants"]
    assert "+ unknown: products, variants" in estimate.text()[-1]


def test_count_records_counts_the_window_at_the_source(shop: Shop) -> None:
    compiled = shop.compile()
    source = compiled.mapping.source
    with connector_class("sql")(source, compiled.mapping.base_dir) as connector:
        counts = count_records(compiled, connector, (), NOW)
    assert counts == {"products": 1, "orders": 4}  # 7 orders, 4 in the window


def test_estimate_is_made_before_a_first_run_only(shop: Shop) -> None:
    seen: list[Estimate] = []
    compiled = shop.compile()
    state = shop.folder / "state.duckdb"
    first = run_mapping(compiled, RunOptions(now=NOW), state, announce=seen.append)
    second = run_mapping(compiled, RunOptions(now=NOW), state)
    assert first.estimate is not None and first.estimate["requests"] == 1 + 4
    assert [e.requests for e in seen] == [5]
    assert second.estimate is None  # every entity has run before


def test_run_estimate_prints_and_exits_without_writing(shop: Shop, sandbox: SandboxHandle) -> None:
    shop.compile(window=False)  # writes mapping.yaml
    state = shop.folder / "state.duckdb"
    result = CliRunner().invoke(
        main,
        ["run", str(shop.folder / "mapping.yaml"), "--estimate", "--json", "--state", str(state)],
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert {e["entity"]: e["records"] for e in found["entities"]} == {"products": 1, "orders": 7}
    assert found["rate"] == "0/min" and found["hours"] is None  # unlimited: no hours
    assert not state.exists() and sandbox.admin.records("order") == []


@pytest.fixture
def shop(tmp_path: Path, sandbox: SandboxHandle) -> Shop:
    return Shop(tmp_path, sandbox)


def test_run_prints_the_estimate_before_a_first_run_only(
    shop: Shop, sandbox: SandboxHandle
) -> None:
    shop.compile(window=False)
    args = ["run", str(shop.folder / "mapping.yaml"), "--state", str(shop.folder / "s.duckdb")]
    first = CliRunner().invoke(main, args)
    again = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert (
        "backfill estimate (Loop requests at 0/min; in Loop after, in run order):" in first.output
    )
    assert "  total" in first.output and "8  unlimited rate" in first.output  # 1 + 7
    assert "backfill estimate" not in again.output


def test_plan_says_which_entities_go_in_bulk(tmp_path: Path) -> None:
    text = (REPO / "mappings" / "shopify-like.yaml").read_text()
    path = tmp_path / "bulk.yaml"
    path.write_text(text.replace("  api_version: \"2026-10\"\n",
                                 "  api_version: \"2026-10\"\n  bulk: {entities: [orders]}\n"))  # fmt: skip
    lines = {line.entity: line for line in plan(load_and_compile(path, env={}), MERCHANT).lines}
    assert "target.bulk" in lines["orders"].arithmetic
    assert "target.bulk" not in lines["customers"].arithmetic


def test_plan_says_when_each_entity_is_in_loop_in_run_order(tmp_path: Path) -> None:
    # inventories after orders (`depends_on: [orders]`): the orders are in Loop 25 h earlier
    text = (REPO / "mappings" / "shopify-like.yaml").read_text()
    path = tmp_path / "late-stock.yaml"
    late = "    depends_on: [locations, orders]\n"
    path.write_text(text.replace("    depends_on: [locations]\n", late, 1))
    for mapping, last in (
        (REPO / "mappings" / "shopify-like.yaml", "orders"),
        (path, "inventories"),
    ):
        estimate = plan(load_and_compile(mapping, env={}), MERCHANT, refund_share=0.1)
        done = estimate.done_after()
        assert list(done)[-1] == last
        assert done[last] == pytest.approx(estimate.requests / 300 / 60)
    hours = {line.entity: (line.requests or 0) / 300 / 60 for line in estimate.lines}
    assert done["orders"] == pytest.approx(estimate.requests / 300 / 60 - hours["inventories"])
    [orders] = [e for e in estimate.as_dict()["entities"] if e["entity"] == "orders"]
    assert orders["done_after_hours"] == round(done["orders"] or 0, 2)
