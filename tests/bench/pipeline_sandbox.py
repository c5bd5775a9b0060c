"""Part 2 of the pipeline benchmark: request efficiency of `etl run` against the Loop sandbox.

mappings/shopify-like.yaml runs through `run_mapping()` (the library entry point of `etl run`)
against the shopify-like demo and the sandbox, both on loopback, with the sandbox and the
mapping at the same raised rate limit. A full sync long enough to load for tens of seconds, then
an incremental run after touching a few orders and customers. From the sandbox's request log:
requests per changed record, raw and without variants and the second PUT of orders whose refunds
need Loop's line ids; budget use (requests/s from the first to the last Loop request, over the
configured rate); and 429s.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.context import run_mapping
from engine.mapping.compile import compile_mapping
from engine.mapping.load import load_mapping
from engine.net.budget import RequestBudget, parse_rate
from engine.pipeline.run import RunOptions, RunSummary
from engine.sandbox.server import SandboxHandle, running_sandbox
from examples.shopify_like import running_shopify_like
from tests.bench.pipeline_data import SHOPIFY_LIKE

_ID = re.compile(r"/[^/]*\d[^/]*")  # a path segment holding an id or an external id


@dataclass
class SyncFigures:
    """One run: what changed, what was sent, and over how long."""

    label: str
    changed: int
    variants: int
    requests: int
    variant_requests: int
    second_puts: int
    rate_limited: int
    span_s: float

    @property
    def raw_ratio(self) -> float:
        return self.requests / max(self.changed, 1)

    @property
    def adjusted_ratio(self) -> float:
        sent = self.requests - self.variant_requests - self.second_puts
        return sent / max(self.changed - self.variants, 1)


def _template(path: str) -> str:
    tail = path.split("/api/", 1)[-1].split("/", 1)[-1]
    return _ID.sub("/{id}", "/" + tail)


def figures(label: str, summary: RunSummary, log: list[dict[str, Any]]) -> SyncFigures:
    """Combine the run summary (what changed) with the sandbox log (what arrived)."""
    stats = {s.entity: s for s in summary.entities}
    changed = sum(s.created + s.updated for s in summary.entities)
    variants = stats["variants"].created + stats["variants"].updated if "variants" in stats else 0
    paths = Counter(_template(r["path"]) for r in log)
    order_changes = stats["orders"].created + stats["orders"].updated if "orders" in stats else 0
    order_puts = sum(1 for r in log if r["method"] == "PUT" and _template(r["path"]) == "/orders")
    times = [datetime.fromisoformat(r["received_at"]) for r in log]
    span = (max(times) - min(times)).total_seconds() if len(times) > 1 else 0.0
    return SyncFigures(
        label, changed, variants, len(log),
        sum(n for p, n in paths.items() if "variants" in p),
        max(order_puts - order_changes, 0),
        sum(1 for r in log if r["status"] == 429), span,
    )  # fmt: skip


def _run(mapping_env: dict[str, str], state: Path) -> RunSummary:
    compiled = compile_mapping(load_mapping(SHOPIFY_LIKE, env=mapping_env))
    return run_mapping(compiled, RunOptions(), state)


def _new_requests(sandbox: SandboxHandle, seen: int) -> list[dict[str, Any]]:
    return [r for r in sandbox.admin.requests() if r["path"].startswith("/api/")][seen:]


def sandbox_sync(folder: Path, orders: int, rate: str, seed: int, touch: int) -> list[SyncFigures]:
    """A full sync of a demo shop of `orders` orders, then one after touching a few records."""
    out = []
    with running_sandbox(rate_limit=rate, db_path=str(folder / "sandbox.duckdb")) as sandbox, \
            running_shopify_like(orders=orders, seed=seed) as shop:  # fmt: skip
        env = {**os.environ, "SHOP_URL": shop.api_url, "LOOP_API_URL": sandbox.base_url,
               "LOOP_RATE_LIMIT": rate, "LOOP_API_KEY": sandbox.api_key}  # fmt: skip
        state = folder / "shopify-like.duckdb"
        summary = _run(env, state)
        log = _new_requests(sandbox, 0)
        out.append(figures(f"full sync, {orders} orders", summary, log))
        shop.touch("orders", count=touch)
        shop.touch("customers", count=max(touch // 2, 1))
        summary = _run(env, state)
        out.append(figures(f"incremental, {touch} orders + {max(touch // 2, 1)} customers touched",
                           summary, _new_requests(sandbox, len(log))))  # fmt: skip
    return out


def sandbox_table(runs: list[SyncFigures], rate: str) -> list[str]:
    limit, window = parse_rate(rate)
    configured = limit / window
    paced = RequestBudget(rate).sustained_rate
    lines = [f"{'run':<44} {'changed':>7} {'reqs':>5} {'req/chg':>7} {'adjusted':>8} "
             f"{'429s':>4} {'span s':>6} {'req/s':>6} {'budget use':>10}"]  # fmt: skip
    for r in runs:
        achieved = (r.requests - 1) / r.span_s if r.span_s else 0.0
        shown = f"{achieved / configured:.1%}" if r is runs[0] else "-"  # too short to count
        lines.append(f"{r.label:<44} {r.changed:>7} {r.requests:>5} {r.raw_ratio:>7.3f} "
                     f"{r.adjusted_ratio:>8.3f} {r.rate_limited:>4} {r.span_s:>6.1f} "
                     f"{achieved:>6.2f} {shown:>10}")  # fmt: skip
    full = runs[0]
    use = (full.requests - 1) / full.span_s / configured if full.span_s else 0.0
    adjusted = max(r.adjusted_ratio for r in runs)
    lines += [
        f"goals: requests per changed record (adjusted) <= 1.0: {adjusted:.3f} "
        f"{'PASS' if adjusted <= 1.0 + 1e-9 else 'MISS'}",
        f"       budget use over the full sync ({full.span_s:.0f} s of loading) >= 90% of "
        f"{configured:.0f}/s: {use:.1%} {'PASS' if use >= 0.9 else 'MISS'}"
        + ("" if full.span_s >= 30 else "  (shorter than 30 s: raise --sync-orders)"),
        f"       429s from our own pacing == 0: {sum(r.rate_limited for r in runs)} "
        f"{'PASS' if not any(r.rate_limited for r in runs) else 'MISS'}",
        f"       (the client's pacing alone allows {paced:.2f}/s = {paced / configured:.1%})",
    ]  # fmt: skip
    return lines
