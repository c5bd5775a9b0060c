"""`LoopClient` is a `LoopAPI`: the protocol the pipeline, reconcile and the context use."""

from __future__ import annotations

from engine.loop.api import LoopAPI
from engine.loop.client import LoopClient

USED = {
    *("stats", "request", "map_concurrent", "get_by_external_id"),
    *("upsert", "upsert_child", "put_inventory"),
    *("list_all", "list_children", "list_path"),
}


def test_loop_client_implements_the_loop_api() -> None:
    with LoopClient("http://127.0.0.1:9", "key") as client:
        assert isinstance(client, LoopAPI)


def test_loop_api_names_what_the_pipeline_and_reconcile_call() -> None:
    assert {name for name in vars(LoopAPI) if not name.startswith("_")} >= USED
