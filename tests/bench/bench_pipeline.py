"""Benchmark of the whole pipeline (issue 4): local throughput, request efficiency, memory.

Run from the repository root:

    python -m tests.bench.bench_pipeline [--orders 100000] [--repeat 3] [--sync-orders 350]
        [--rate 1200/min] [--memory 10000 200000] [--staging-limits -1] [--window-days 120]
        [--parts local sandbox memory backfill] [--profile]

1. Local throughput. N generated Shopify-like orders are written to a JSONL file once; then,
   interleaved, `repeat` times each: the engine (files connector -> map -> validate -> diff ->
   stage, a dry run into a real DuckDB state, sending nothing; raw records staged as the
   environment says, ETL_STATE_RAW, off by default) and a
   hand-written script doing the same work with the same libraries
   (tests/bench/pipeline_local.py). Both start from a copy of the same state: the ID map knows
   every referenced product, variant and customer and the payload hash of half the orders.
   Goal: engine >= 0.5x hand-written.
2. Request efficiency. mappings/shopify-like.yaml through `execute()` against the shopify-like
   demo and the Loop sandbox, both at the raised `--rate`: requests per changed record (goal
   1.0 without variants and the refunds' second PUT), budget use (goal >= 90 % of the
   configured rate), 429s (goal 0) (tests/bench/pipeline_sandbox.py).
3. Memory. Peak RSS of `etl run --dry-run` over the orders file at two sizes: flat
   (tests/bench/pipeline_memory.py). Then a run that records every order as synced, at the
   same sizes: with the defaults (no raw records staged, the default memory limit), then
   staging raw records (ETL_STATE_RAW=on) with the default memory limit and without one:
   peak RSS flat, and the state file's bytes per synced record (tests/bench/pipeline_staging.py).
4. Backfill. The issue's mid-size merchant (50k products, 150k variants, 200k customers, 1M
   orders over 3 years, 3 locations), computed with the backfill estimate's arithmetic and the
   demo generator's refund share: Loop requests and hours at 300/min without and with a
   `--window-days` window on orders; goal < 30 h (tests/bench/pipeline_backfill.py).

Temporary files go to a fresh temporary folder, removed at the end. Not a pytest test (bench_*.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.state.connection import DEFAULT_MEMORY_LIMIT
from tests.bench.pipeline_backfill import (
    backfill_table,
    estimates,
    orders_first,
    orders_in_loop,
    refund_share,
    with_bulk,
)
from tests.bench.pipeline_data import build_template, compiled_bench, fresh_state, write_orders
from tests.bench.pipeline_local import Counts, engine_pass, hand_pass, profile_engine
from tests.bench.pipeline_memory import FLAT, Peak, dry_run_peak, memory_table, prepare_folder
from tests.bench.pipeline_sandbox import sandbox_sync, sandbox_table
from tests.bench.pipeline_staging import Staged, staged_run, staging_table

GOAL_LOCAL = 0.5
PARTS = ("local", "sandbox", "memory", "backfill")
Pass = Callable[[Path], Counts]


def measure(passes: dict[str, Pass], template: Path, work: Path,
            repeat: int) -> tuple[dict[str, list[float]], dict[str, Counts]]:  # fmt: skip
    """Seconds of each pass, interleaved (A B A B ...), each from a fresh copy of the state."""
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    counts: dict[str, Counts] = {}
    for _ in range(repeat):
        for name, run in passes.items():
            state = fresh_state(template, work / "run.duckdb")
            start = time.perf_counter()
            counts[name] = run(state)
            seconds[name].append(time.perf_counter() - start)
    return seconds, counts


def local_table(seconds: dict[str, list[float]], counts: dict[str, Counts], n: int) -> list[str]:
    medians = {name: statistics.median(runs) for name, runs in seconds.items()}
    base = n / medians["hand-written"]
    lines = [f"{'variant':<14} {'median rec/s':>12} {'ratio':>6}  {'goal':<10} "
             f"{'unchanged':>9} {'changed':>7}  runs (rec/s)"]  # fmt: skip
    for name, runs in seconds.items():
        rate, c = n / medians[name], counts[name]
        verdict = (
            ""
            if name == "hand-written"
            else (f">= {GOAL_LOCAL} {'PASS' if rate / base >= GOAL_LOCAL else 'MISS'}")
        )
        each = " ".join(f"{n / s:,.0f}" for s in runs)
        lines.append(f"{name:<14} {rate:>12,.0f} {rate / base:>6.2f}  {verdict:<10} "
                     f"{c.unchanged:>9,} {c.changed:>7,}  {each}")  # fmt: skip
    return lines


def part_local(args: argparse.Namespace, work: Path) -> None:
    print(f"\n1. local throughput: {args.orders:,} orders, JSONL -> map -> validate -> diff -> "
          f"stage (batches of 500), repeat {args.repeat}, interleaved")  # fmt: skip
    data = work / "local"
    pool = write_orders(data, args.orders, args.seed)
    _, compiled = compiled_bench(data, data)
    template = data / "template.duckdb"
    hashed = build_template(template, compiled, pool, args.orders)
    print(f"   state: references known, payload hashes of {hashed:,} orders (unchanged)")
    passes: dict[str, Pass] = {"hand-written": lambda s: hand_pass(data, s),
                               "engine": lambda s: engine_pass(compiled, s)}  # fmt: skip
    seconds, counts = measure(passes, template, data, args.repeat)
    if len({c.key() for c in counts.values()}) != 1 or counts["engine"].other:
        raise SystemExit(f"the passes disagree or parked records: {counts}: benchmark void")
    print("\n".join(local_table(seconds, counts, args.orders)))
    if args.profile:
        print("\n".join(profile_engine(compiled, fresh_state(template, data / "run.duckdb"))))


def part_sandbox(args: argparse.Namespace, work: Path) -> None:
    print(f"\n2. request efficiency: mappings/shopify-like.yaml, demo shop of "
          f"{args.sync_orders} orders, sandbox and client at {args.rate}")  # fmt: skip
    folder = work / "sandbox"
    folder.mkdir()
    runs = sandbox_sync(folder, args.sync_orders, args.rate, args.seed, touch=20)
    print("\n".join(sandbox_table(runs, args.rate)))


def part_memory(args: argparse.Namespace, work: Path) -> None:
    small, big = sorted(args.memory)
    print(f"\n3. memory: peak RSS of `etl run --dry-run --json` (a child process, its VmHWM) "
          f"over {small:,} and {big:,} orders in JSONL, files connector")  # fmt: skip
    peaks: list[Peak] = []
    staged: list[Staged] = []
    for n in (small, big):
        mapping, state = prepare_folder(work / f"memory-{n}", n, args.seed)
        peaks.append(dry_run_peak(mapping, state, n))
        for limit, keep in (("", ""), ("", "on"), *((lim, "on") for lim in args.staging_limits)):
            copy = fresh_state(state, state.with_name(f"staged{len(staged)}.duckdb"))
            staged.append(staged_run(mapping, copy, n, limit, keep))
        (work / f"memory-{n}" / "orders.jsonl").unlink()  # a GB at 100k: free the disk
    print("\n".join(memory_table(peaks)))
    print(f"\n3b. staging: the same orders through a run that records every order as synced "
          f"(Loop stood in for), a child process per size, raw staging (ETL_STATE_RAW; default "
          f"off) and memory limit (ETL_STATE_MEMORY_LIMIT; default {DEFAULT_MEMORY_LIMIT})")  # fmt: skip
    staged.sort(key=lambda r: (r.raw, r.limit, r.orders))
    print("\n".join(staging_table(staged, FLAT)))


def part_backfill(args: argparse.Namespace, work: Path) -> None:
    sample = 20_000
    share = refund_share(sample, args.seed)
    print(f"\n4. backfill: the issue's mid-size merchant at 300/min, computed; refund share "
          f"{share:.1%} (demo generator, {sample:,} orders sampled), uniform 3-year history")  # fmt: skip
    without, within, lazy = estimates(args.window_days, share)
    print("\n".join(backfill_table(without, within, lazy, args.window_days)))
    first = orders_first(args.window_days, share)
    days = args.window_days
    print("\n".join(orders_in_loop([
        ("no window, every customer", without),
        (f"with a {days}-day window", within),
        ("  + customers `send: referenced`", lazy),
        ("  + inventories after the orders (`depends_on: [locations, orders]`)", first),
    ])))  # fmt: skip
    print("\n".join(with_bulk(lazy, share)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_pipeline",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--orders", type=int, default=100_000, help="orders in part 1")
    parser.add_argument("--repeat", type=int, default=3, help="passes per variant in part 1")
    parser.add_argument("--seed", type=int, default=1, help="demo shop seed")
    parser.add_argument("--sync-orders", type=int, default=350, help="demo shop of part 2")
    parser.add_argument("--rate", default="1200/min", help="sandbox and client rate limit")
    parser.add_argument(
        "--memory",
        type=int,
        nargs=2,
        default=[10_000, 200_000],
        metavar=("SMALL", "BIG"),
        help="orders of the two dry runs of part 3",
    )
    parser.add_argument(
        "--staging-limits",
        nargs="*",
        default=["-1"],
        metavar="LIMIT",
        help="memory limits of part 3b besides the default (-1: none)",
    )
    parser.add_argument("--window-days", type=int, default=120, help="orders window of part 4")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--profile", action="store_true", help="cProfile one engine pass")
    args = parser.parse_args(argv)
    if args.orders < 10 or args.repeat < 1 or min(args.memory) < 10 or args.sync_orders < 1:
        parser.error("need --orders >= 10, --repeat >= 1, --memory sizes >= 10, --sync-orders >= 1")
    if args.window_days < 1:
        parser.error("need --window-days >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; parts: {' '.join(args.parts)}; part 1: {args.orders:,} "
          f"orders x {args.repeat}; part 2: {args.sync_orders} demo orders at {args.rate}; "
          f"part 3: {args.memory[0]:,} and {args.memory[1]:,} orders; seed {args.seed}")  # fmt: skip
    started = time.monotonic()
    parts = {"local": part_local, "sandbox": part_sandbox, "memory": part_memory,
             "backfill": part_backfill}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for name in args.parts:
            begun = time.monotonic()
            parts[name](args, Path(tmp))
            print(f"   ({time.monotonic() - begun:.0f} s)")
            sys.stdout.flush()
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
