"""The pipeline's public unit of work, `BatchSync`: one batch of one entity synced, recorded
in the state, and usable outside `etl run` (reconcile --fix, webhooks, outcome sync-back)."""

from __future__ import annotations

from engine.loop.client import LoopClient
from engine.pipeline.batch import BatchSync
from engine.state import State
from tests.pipeline.conftest import Pipeline

PRODUCTS = """\
  products:
    extract: {path: products.json}
    map:
      external_id: to_string(id)
      name: title
      price: {amount: "{{ price | cents }}", currency_code: "'USD'"}
    variants:
      each: variants
      map:
        external_id: to_string(id)
        name: title
        sku: sku
        taxable: "`true`"
        price: {amount: "{{ price | cents }}", currency_code: "'USD'"}
"""
PRODUCT = {
    "id": 1,
    "title": "Shirt",
    "price": "10.00",
    "variants": [
        {"id": 11, "title": "S", "sku": "S-1", "price": "10.00"},
        {"id": 12, "title": "M", "sku": "M-1", "price": "12.50"},
    ],
}


def test_sync_records_pushes_parents_then_children_and_records_the_id_map(
    pipeline: Pipeline,
) -> None:
    compiled = pipeline.compile(PRODUCTS)
    with (
        State(pipeline.state_path) as state,
        LoopClient(pipeline.sandbox.base_url, "sandbox", rate_limit="0/min") as loop,
    ):
        run_id = state.start_run("test")
        products, variants = BatchSync(compiled, state, loop, run_id).sync_records(
            "products", [PRODUCT]
        )
        assert (products.created, variants.created) == (1, 2)
        assert variants.items == 2 and products.requests == 1 and variants.requests == 2
        assert set(state.id_map("variants")) == {"11", "12"}
        loop_variants = pipeline.sandbox.admin.records("variant")
        assert sorted(v["price"]["amount"] for v in loop_variants) == [1000, 1250]

        again = BatchSync(compiled, state, loop, run_id).sync_records("products", [PRODUCT])
        assert [r.unchanged for r in again] == [1, 2]
        assert sum(r.requests for r in again) == 0


def test_resend_and_lost_send_unchanged_records_again(pipeline: Pipeline) -> None:
    compiled = pipeline.compile(PRODUCTS)
    with (
        State(pipeline.state_path) as state,
        LoopClient(pipeline.sandbox.base_url, "sandbox", rate_limit="0/min") as loop,
    ):
        run_id = state.start_run("test")
        batches = BatchSync(compiled, state, loop, run_id)
        batches.sync("products", [(PRODUCT, None, None)])
        item = [(PRODUCT, None, None)]
        assert batches.sync("products", item, unique=False).unchanged == 1
        resent = batches.sync("products", item, unique=False, resend={"1"})
        assert (resent.updated, resent.requests) == (1, 1)
        lost = batches.sync("products", item, unique=False, lost={"1"})
        assert (lost.created, lost.requests) == (1, 1)


def test_a_dry_run_batch_counts_and_writes_nothing(pipeline: Pipeline) -> None:
    compiled = pipeline.compile(PRODUCTS)
    with State(":memory:") as state:
        products, variants = BatchSync(compiled, state, None, None).sync_records(
            "products", [PRODUCT]
        )
        assert (products.created, variants.created, variants.held) == (1, 2, [])
        assert state.id_map("products") == {}
    assert pipeline.sandbox.admin.records("product") == []
