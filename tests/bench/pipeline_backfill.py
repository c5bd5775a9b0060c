"""Part 4 of the pipeline benchmark: the backfill of the issue's mid-size merchant, computed.

No records are generated: the estimate's own arithmetic (engine.pipeline.estimate.plan) over
mappings/shopify-like.yaml, with the issue's sizes (50k products, 150k variants, 200k customers,
1M orders, 3 locations, so 450k inventory levels), the demo generator's collections and its
share of orders refunded (sampled: the orders sent twice), and a uniform 3-year order history,
of which a `window:` of N days keeps N / 1095. Printed: records and Loop requests per entity
without and with the window, then with the window and customers `send: referenced` as well,
and the hours at 300/min against the goal (< 30 h).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from engine.loop.client import PAGE_LIMIT
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.pipeline.estimate import Estimate, plan
from engine.pipeline.run import RunOptions
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


SEND = "    send: referenced\n"  # on the customers entity of mappings/shopify-like.yaml
LATE_STOCK = ("    depends_on: [locations]\n", "    depends_on: [locations, orders]\n")


def compiled_variant(*, referenced: bool, stock_last: bool = False) -> CompiledMapping:
    """mappings/shopify-like.yaml with customers `send: referenced` or not (as before it had
    it), and the inventory levels after the orders or not."""
    text = (REPO / "mappings" / "shopify-like.yaml").read_text(encoding="utf-8")
    if SEND not in text:
        raise SystemExit("mappings/shopify-like.yaml no longer has customers `send: referenced`")
    text = text if referenced else text.replace(SEND, "", 1)
    text = text.replace(*LATE_STOCK, 1) if stock_last else text
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shopify-like.yaml"
        path.write_text(text, encoding="utf-8")
        return load_and_compile(path, env={})


def estimates(
    window_days: int, share: float, rate: str = "300/min"
) -> tuple[Estimate, Estimate, Estimate]:
    """The merchant's backfill without and with a window of `window_days` (every customer
    sent), and with the window and customers `send: referenced` (as shipped)."""
    counts: dict[str, int | None] = {**MERCHANT, "collections": ShopData(orders=0).n_collections}
    windowed = {**counts, "orders": _windowed(window_days)}
    every = compiled_variant(referenced=False)
    without = plan(every, counts, refund_share=share)
    within = plan(every, windowed, refund_share=share)
    lazy = plan(compiled_variant(referenced=True), windowed, refund_share=share)
    without.rate = within.rate = lazy.rate = rate
    return without, within, lazy


def _windowed(window_days: int) -> int:
    return round(MERCHANT["orders"] * min(window_days, HISTORY_DAYS) / HISTORY_DAYS)


def orders_first(window_days: int, share: float, rate: str = "300/min") -> Estimate:
    """The window, customers `send: referenced` and the inventory levels after the orders
    (`depends_on: [locations, orders]`): the same requests, the returnable orders sooner."""
    counts: dict[str, int | None] = {**MERCHANT, "collections": ShopData(orders=0).n_collections}
    counts["orders"] = _windowed(window_days)
    compiled = compiled_variant(referenced=True, stock_last=True)
    estimate = plan(compiled, counts, refund_share=share)
    estimate.rate = rate
    return estimate


def orders_in_loop(estimates: list[tuple[str, Estimate]]) -> list[str]:
    """When the last order is in Loop (what runs before it included), per variant."""
    lines = ["the orders (the returnable ones) are all in Loop after:"]
    for label, estimate in estimates:
        done = estimate.done_after()
        order = list(done)
        after = (
            ", then " + ", ".join(order[order.index("orders") + 1 :])
            if order[-1] != "orders"
            else ""
        )
        lines.append(f"  {done['orders'] or 0:5.1f} h  {label} (all done after "
                     f"{estimate.hours or 0:.1f} h{after})")  # fmt: skip
    return lines


def distinct_customers(customers: int, orders: int) -> float:
    """Customers expected among `orders` orders, each placed by one of `customers` at random."""
    return customers * (1 - (1 - 1 / customers) ** orders)


def backfill_table(
    without: Estimate, within: Estimate, lazy: Estimate, window_days: int
) -> list[str]:
    window = f"window {window_days} d"
    head = f"{'entity':<12} {'records':>10} {'requests':>10}   {window:>22}   {'+ customers referenced':>22}"
    lines = [head]
    for plain, windowed, least in zip(without.lines, within.lines, lazy.lines, strict=True):
        lines.append(f"{plain.entity:<12} {plain.records or 0:>10,} {plain.requests or 0:>10,}   "
                     f"{windowed.records or 0:>10,} {windowed.requests or 0:>11,}   "
                     f"{least.records or 0:>10,} {least.requests or 0:>11,}")  # fmt: skip
    lines.append(f"{'total':<12} {'':>10} {without.requests:>10,}   {'':>10} "
                 f"{within.requests:>11,}   {'':>10} {lazy.requests:>11,}")  # fmt: skip
    hours = [e.hours or 0.0 for e in (without, within, lazy)]
    verdict = "PASS" if hours[2] < GOAL_HOURS else "MISS"
    lines.append(f"hours at {within.rate}: {hours[0]:.1f} h without the window, {hours[1]:.1f} h "
                 f"with it ({hours[1] / hours[0]:.2f}x), {hours[2]:.1f} h with customers "
                 f"`send: referenced` too (bound: one per order in the window); goal < "
                 f"{GOAL_HOURS:.0f} h: {verdict}")  # fmt: skip
    orders = [next(line for line in e.lines if line.entity == "orders") for e in (without, within)]
    order_hours = [(o.requests or 0) / 300 / 60 for o in orders]
    lines.append(f"orders alone: {order_hours[0]:.1f} h -> {order_hours[1]:.1f} h")
    customers = next(line for line in lazy.lines if line.entity == "customers")
    in_window = next(line for line in lazy.lines if line.entity == "orders").records or 0
    expected = distinct_customers(customers.records or 0, in_window)
    saved = ((customers.requests or 0) - expected) / 300 / 60
    lines.append(f"customers that {in_window:,} orders name, if each order's customer is drawn at "
                 f"random from {customers.records or 0:,}: {expected:,.0f} expected, so "
                 f"{hours[2] - saved:.1f} h in all")  # fmt: skip
    rest = [x for x in lazy.lines if x.entity not in ("orders", "customers")]
    lines.append("the rest, which no window or reference cuts: " + ", ".join(
        f"{x.entity} {(x.requests or 0) / 300 / 60:.1f} h" for x in rest if x.requests))  # fmt: skip
    return lines


BULK = ("customers", "products", "variants", "inventories", "orders")


def with_bulk(lazy: Estimate, share: float, batch: int = RunOptions.batch_size) -> list[str]:
    """The same backfill with `target.bulk` on every large entity, under the sandbox's ASSUMED
    line format (engine.loop.bulk): a batch's one-write records are one operation, which costs
    an upload, at least one poll and a page of jobs per PAGE_LIMIT lines; an order with a
    refund stays two single PUTs. Loop's time to process an operation is unknown: not counted."""
    single = total = 0
    for line in lazy.lines:
        sent = line.requests or 0
        if line.entity not in BULK:
            single += sent
            total += sent
            continue
        records = line.records or 0 if line.entity == "orders" else sent
        two = round(records * share) if line.entity == "orders" else 0
        operations = math.ceil(records / batch)
        lines_per_op = math.ceil((records - two) / max(operations, 1))
        total += operations * (2 + math.ceil(lines_per_op / PAGE_LIMIT)) + 2 * two
    hours = total / 300 / 60
    return [f"with bulk operations on {', '.join(BULK)} (ASSUMED line format, batches of "
            f"{batch}: an upload, one poll and a jobs page per {PAGE_LIMIT} lines each; an order "
            f"with a refund stays two PUTs): {total:,} requests, {hours:.1f} h of requests, plus "
            f"Loop's processing time, which is unknown"]  # fmt: skip
