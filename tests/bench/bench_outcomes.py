"""Benchmark of bucket IV (issue 10): from `return.closed` received to the refund visible in
Loop's order, over many returns, at Loop's real budget with a scheduled sync running.

Run from the repository root:

    python -m tests.bench.bench_outcomes [--returns 200] [--orders 700] [--rate 300/min]
        [--pace 2] [--sync 20s]

The shopify-like demo (in this process) and `etl serve mappings/shopify-like.yaml` (a
subprocess, its embedded sandbox limited to `--rate` like Loop, the engine's budget the same,
and a scheduled sync every `--sync`) run on loopback. After a first sync (`etl run`, unlimited,
not measured), `--returns` returns (one cheap line each, so the mapping's rule does not flag
them) are created and delivered (Loop's automation processes a delivered return: no API call),
`--pace` a second. Each processed return triggers the mapping's refund (a refund in the shop,
then the orders synced back) and its restock. Measured per return, from the two logs (one
clock): when `etl serve` stored its `return.closed` (the inbox) and when Loop's order first
took a PUT carrying a refund for it (the sandbox's request log). Printed: median, p90, p99 and
max, returns never refunded, Loop requests and 429s. Not a pytest test (bench_*.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from engine.state import State
from examples.shopify_like import running_shopify_like
from tests.cli.serve_support import Served, sandbox_handle, start_serve
from tests.e2e.conftest import MAPPINGS, clean_env, etl_command


def _mapping(folder: Path, sync: str) -> Path:
    """shopify-like.yaml with the schedule the benchmark asks for (sync on, poll off)."""
    text = (MAPPINGS / "shopify-like.yaml").read_text()
    path = folder / "shopify-like.yaml"
    path.write_text(text + f"\nschedule: {{sync: {sync}, poll: null}}\n")
    return path


def _first_sync(mapping: Path, state: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*etl_command(), "run", str(mapping), "--state", str(state)],
        env=clean_env(**env, LOOP_RATE_LIMIT="0/min"),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the first sync failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def _candidates(served: Served, count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(order, line): fulfilled, unrefunded orders, one line under 150 each."""
    out = []
    for order in sandbox_handle(served.urls["sandbox"]).admin.records("order"):
        if not order.get("fulfillments") or order.get("refunds"):
            continue
        cheap = [x for x in order["line_items"] if x["unit_price"]["amount"] < 15_000]
        if cheap:
            out.append((order, cheap[0]))
    if len(out) < count:
        raise SystemExit(f"only {len(out)} returnable orders: raise --orders")
    return out[:count]


def _deliver(served: Served, pairs: list[tuple[dict[str, Any], dict[str, Any]]], pace: float) -> dict[str, str]:  # fmt: skip
    """Create and deliver a return per pair, `pace` a second: return id -> order external id."""
    admin = sandbox_handle(served.urls["sandbox"]).admin
    out: dict[str, str] = {}
    begun = time.perf_counter()
    for i, (order, line) in enumerate(pairs):
        wait = begun + i / pace - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        lines = [{"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}]
        created = admin.post("/returns", json={"order_id": order["id"], "line_items": lines})
        rid = str(created.json()["id"])
        delivered = admin.post(f"/returns/{rid}/deliver")
        if delivered.status_code != 200:
            raise SystemExit(f"deliver {rid}: {delivered.text}")
        out[rid] = str(order["external_id"])
    return out


def _until_refunded(served: Served, orders: set[str], timeout_s: float) -> None:
    """Wait until every one of these orders carries a refund in Loop (or the time is up)."""
    admin = sandbox_handle(served.urls["sandbox"]).admin
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = {str(o["external_id"]) for o in admin.records("order") if o.get("refunds")}
        if orders <= done:
            return
        time.sleep(2.0)


def _refunded_at(sandbox_db: Path) -> tuple[dict[str, datetime], int, int]:
    """Order external id -> when Loop's order first took a PUT with a refund; requests; 429s."""
    with duckdb.connect(str(sandbox_db), read_only=True) as db:
        rows = db.execute(
            "SELECT received_at, duration_ms, status, body FROM sandbox_requests "
            "WHERE method = 'PUT' AND path LIKE '%/orders' ORDER BY seq"
        ).fetchall()
        total, limited = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 429) FROM sandbox_requests"
        ).fetchone() or (0, 0)
    seen: dict[str, datetime] = {}
    for received_at, duration_ms, status, body in rows:
        payload = json.loads(bytes(body) or b"{}")
        if status == 200 and payload.get("refunds"):
            key = str(payload.get("external_id"))
            seen.setdefault(key, received_at + _ms(duration_ms))
    return seen, int(total), int(limited)


def _ms(value: float) -> Any:
    from datetime import timedelta

    return timedelta(milliseconds=value)


def _closed_at(state: Path) -> dict[str, datetime]:
    """Return id -> when `etl serve` stored its return.closed."""
    with State(state) as s:
        return {
            str(e["return_id"]): datetime.fromisoformat(e["received_at"])
            for e in s.inbox_events()
            if e["trigger"] == "return.closed"
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=int, default=200)
    parser.add_argument("--orders", type=int, default=700)
    parser.add_argument("--rate", default="300/min", help="Loop's budget (sandbox and engine)")
    parser.add_argument("--pace", type=float, default=2.0, help="returns delivered a second")
    parser.add_argument("--sync", default="20s", help="the scheduled sync's interval")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-outcomes-") as tmp,
        running_shopify_like(orders=args.orders, seed=5) as shop,
    ):
        folder = Path(tmp)
        mapping, state = _mapping(folder, args.sync), folder / "state.duckdb"
        env = {"SHOP_URL": shop.api_url, "LOOP_WEBHOOK_SECRET": ""}
        first = _first_sync(mapping, state, env)
        served = start_serve(mapping, state, **env, LOOP_RATE_LIMIT=args.rate)
        try:
            pairs = _candidates(served, args.returns)
            started = time.perf_counter()
            returns = _deliver(served, pairs, args.pace)
            served.wait_until(lambda h: h["inbox"]["received"] == 0, 900)
            sandbox_db = state.with_name(f"{state.stem}.sandbox.duckdb")
            _until_refunded(served, set(returns.values()), 900)
            elapsed = time.perf_counter() - started
        finally:
            code, _, err = served.terminate()
        if code != 0:
            raise SystemExit(f"etl serve exited {code}: {err[-2000:]}")
        closed = _closed_at(state)
        refunded, requests, limited = _refunded_at(sandbox_db)
    latencies = sorted(
        (refunded[order] - closed[rid]).total_seconds()
        for rid, order in returns.items()
        if rid in closed and order in refunded
    )
    missing = len(returns) - len(latencies)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    print(f"first sync {first:.1f} s (unlimited, not measured); {len(returns)} returns delivered "
          f"at {args.pace:g}/s, budget {args.rate}, scheduled sync every {args.sync}")  # fmt: skip
    print(f"{'returns':>8} {'median s':>9} {'p90 s':>7} {'p99 s':>7} {'max s':>7} "
          f"{'missing':>8} {'Loop requests':>14} {'429s':>5} {'wall s':>7}")  # fmt: skip
    if latencies:
        print(f"{len(latencies):>8} {statistics.median(latencies):>9.2f} {pct(0.9):>7.2f} "
              f"{pct(0.99):>7.2f} {latencies[-1]:>7.2f} {missing:>8} {requests:>14,} "
              f"{limited:>5} {elapsed:>7.1f}")  # fmt: skip
    if missing:
        raise SystemExit(f"{missing} return(s) never reached Loop's order as a refund")


if __name__ == "__main__":
    main()
