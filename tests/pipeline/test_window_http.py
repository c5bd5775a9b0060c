"""`window:` over http: mappings/shopify-like.yaml with an orders window, the embedded demo
shop (which filters on Shopify's created_at_min / created_at_max but cannot sort) read in
slices newest first, into the Loop sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.context import run_mapping
from engine.mapping.compile import load_and_compile
from engine.pipeline.run import RunOptions
from engine.sandbox.server import SandboxHandle, running_sandbox
from examples.common import ORDERS_SPAN, ORDERS_START

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime.fromtimestamp(ORDERS_START + ORDERS_SPAN, dt.UTC)  # the demo's last day
WINDOW = """\
              count: {path: /orders/count.json}}
    window:
      field: created_at
      days: 120
      slice_days: 30
      extract:
        params: {status: any, created_at_min: "{slice_start}", created_at_max: "{slice_end}"}
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min") as handle:
        yield handle


def test_window_over_http_reads_the_window_in_slices_newest_first(
    tmp_path: Path, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_URL", raising=False)
    text = (REPO / "mappings" / "shopify-like.yaml").read_text()
    path = tmp_path / "windowed.yaml"
    path.write_text(text.replace("              count: {path: /orders/count.json}}\n", WINDOW))
    env = {"LOOP_API_URL": sandbox.base_url, "LOOP_API_KEY": "sandbox", "LOOP_RATE_LIMIT": "0/min"}
    compiled = load_and_compile(path, env=env)
    summary = run_mapping(compiled, RunOptions(now=NOW), tmp_path / "state.duckdb")
    orders = sandbox.admin.records("order")
    start = NOW - dt.timedelta(days=120)
    created = {o["external_id"]: dt.datetime.fromisoformat(o["created_at"]) for o in orders}
    assert orders and all(when >= start for when in created.values())
    assert summary.estimate is not None
    [counted] = [e for e in summary.estimate["entities"] if e["entity"] == "orders"]
    assert counted["records"] == len(orders)  # the shop counted the window
    # 30-day slices, newest first: every order of a newer slice reached Loop before (a lower
    # Loop id than) every order of an older one
    slice_of = {o["external_id"]: (NOW - created[o["external_id"]]).days // 30 for o in orders}
    ids = sorted(orders, key=lambda o: int(o["id"]))
    assert [slice_of[o["external_id"]] for o in ids] == sorted(slice_of.values())
    assert len(set(slice_of.values())) == 4
