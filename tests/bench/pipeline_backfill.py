"""Part 4 of the pipeline benchmark: the backfill of the issue's mid-size merchant, computed.

No records are generated: the estimate's own arithmetic (engine.pipeline.estimate.plan) over
mappings/shopify-like.yaml, with the issue's sizes (50k products, 150k variants, 200k customers,
1M orders, 3 locations, so 450k inventory levels), the demo generator's collections and its
share of orders refunded (sampled: the orders sent twice), and a uniform 3-year order history,
of which a `window:` of N days keeps N / 1095. Printed: records and Loop requests per entity
without and with the window, and the hours at 300/min against the goal (< 30 h).
"""

from __future__ import annotations

from pathlib import Path

from engine.mapping.compile import load_and_compile
from engine.pipeline.estimate import Estimate, plan
from examples.shopify_like.data import ShopData

REPO = Path(__file__).resolve().parents[2]
HISTORY_DAYS = 3 * 365
GOAL_HOURS = 30.0
MERCHANT = {"locations": 3, "customers": 200_000, "products": 50_000, "variants": 150_000,
            "inventories": 150_000 * 3, "orders": 1_000_000}  # fmt: skip


def refund_share(sample: int, seed: int) -> float:
    """The generator's share of orders with a refund (each is sent twice)."""
    shop = ShopData(orders=sample, seed=seed)
    return sum(1 for pos in range(sample) if shop.plan(pos).refund_at is not None) / sample


def estimates(window_days: int, share: float, rate: str = "300/min") -> tuple[Estimate, Estimate]:
    """The merchant's backfill without and with a window of `window_days`."""
    compiled = load_and_compile(REPO / "mappings" / "shopify-like.yaml", env={})
    counts: dict[str, int | None] = {**MERCHANT, "collections": ShopData(orders=0).n_collections}
    without = plan(compiled, counts, refund_share=share)
    windowed = round(MERCHANT["orders"] * min(window_days, HISTORY_DAYS) / HISTORY_DAYS)
    within = plan(compiled, {**counts, "orders": windowed}, refund_share=share)
    without.rate = within.rate = rate
    return without, within


def backfill_table(without: Estimate, within: Estimate, window_days: int) -> list[str]:
    head = (
        f"{'entity':<12} {'records':>10} {'requests':>10} {'window ' + str(window_days) + ' d':>13}"
    )
    lines = [head + f" {'records':>10} {'requests':>10}"]
    for plain, windowed in zip(without.lines, within.lines, strict=True):
        lines.append(f"{plain.entity:<12} {plain.records or 0:>10,} {plain.requests or 0:>10,} "
                     f"{'':>13} {windowed.records or 0:>10,} {windowed.requests or 0:>10,}")  # fmt: skip
    hours = [e.hours or 0.0 for e in (without, within)]
    lines.append(f"{'total':<12} {'':>10} {without.requests:>10,} {'':>13} {'':>10} "
                 f"{within.requests:>10,}")  # fmt: skip
    verdict = "PASS" if hours[1] < GOAL_HOURS else "MISS"
    lines.append(f"hours at {within.rate}: {hours[0]:.1f} h without the window, {hours[1]:.1f} h "
                 f"with it ({hours[1] / hours[0]:.2f}x); goal < {GOAL_HOURS:.0f} h: {verdict}")  # fmt: skip
    orders = [next(line for line in e.lines if line.entity == "orders") for e in (without, within)]
    order_hours = [(o.requests or 0) / 300 / 60 for o in orders]
    lines.append(f"orders alone: {order_hours[0]:.1f} h -> {order_hours[1]:.1f} h")
    return lines
