"""A flaky, slow Loop and a Loop at its rate limit: the run still completes, exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.net.budget import default_burst, parse_rate
from examples.shopify_like import ShopHandle
from tests.e2e.conftest import Loop, shop_records, shopify_etl

# Loop's limit is N per sliding window; a run of ~150 requests never fills a one-minute window,
# so the pacing is proven against the same kind of limit over one second.
RATE = "15/s"
# Everything but inventories and collections (the sandbox's slowest writes): ~160 requests.
PACED_ENTITIES = ("locations", "customers", "products", "orders")


@pytest.mark.slow
def test_run_completes_exactly_once_through_failures_and_latency(
        shop: ShopHandle, loop: Loop, tmp_path: Path) -> None:  # fmt: skip
    loop.admin.configure(fail_rate=0.2, latency_ms=20, seed=11)
    etl = shopify_etl(shop, loop, tmp_path / "state.duckdb")

    result = etl.run_json()

    assert result.code == 0, result
    log = loop.requests()
    faults = Counter(r["fault"] for r in log if r["fault"])
    assert sum(faults.values()) >= 0.1 * len(log), faults  # the faults did happen
    products = shop_records(shop, "products")
    assert set(loop.by_external_id("product")) == {str(p["id"]) for p in products}
    assert set(loop.by_external_id("variant")) == {
        str(v["id"]) for p in products for v in p["variants"]
    }
    assert set(loop.by_external_id("order")) == {str(o["id"]) for o in shop_records(shop, "orders")}
    assert len(loop.by_external_id("customer")) == len(shop_records(shop, "customers"))
    assert len(loop.by_external_id("collection")) == len(shop_records(shop, "custom_collections"))
    assert len(loop.by_external_id("location")) == len(shop_records(shop, "locations"))
    assert len(loop.inventory_pairs()) == result.summary["inventories"]["created"] > 0
    assert all(s["quarantined"] == s["held"] == 0 for s in result.summary.values())


def test_run_paces_itself_under_the_rate_limit(shop: ShopHandle, loop: Loop,
                                               tmp_path: Path) -> None:  # fmt: skip
    loop.admin.configure(rate_limit=RATE)
    etl = shopify_etl(shop, loop, tmp_path / "state.duckdb", rate_limit=RATE)

    result = etl.run_json(*(f"--entity={e}" for e in PACED_ENTITIES))

    assert result.code == 0, result
    log = loop.requests()
    limit, window = parse_rate(RATE)
    assert len(log) >= 150
    rate_limited = sum(s["rate_limited"] for s in result.summary.values())
    print(f"{len(log)} requests, {rate_limited} answered 429")
    assert rate_limited <= 1
    assert sum(1 for r in log if r["status"] == 429) == rate_limited
    # the budget paced the run: no faster than the limit once the burst is spent
    first = _seconds(log[0]["received_at"])
    last = _seconds(log[-1]["received_at"])
    assert last - first >= (len(log) - default_burst(limit) - 1) * window / limit


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()
