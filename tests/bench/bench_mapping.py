"""Benchmark of the compiled orders mapping against a hand-written function (issue 2).

Run from the repository root:

    python -m tests.bench.bench_mapping [--orders 100000] [--repeat 3] [--seed 1]

Over the same N Shopify-like orders (generated once, before any timing) it times three ways
of producing Loop order payloads, interleaved (A B C A B C ...), and prints the median
records/s of each: the hand-written function (tests/bench/hand_written.py), the compiled
`entities.orders` of mappings/shopify-like.yaml, and the compiled mapping plus schema
validation. Every variant resolves its lookups to the same fixed Loop id with the same loop.
Before timing, the hand-written and compiled payloads (and lookups) of the first records must
be identical, or the run stops. Then the compiled mapping runs over a stream of N and of N/10
orders, each in a child process: its peak RSS must not grow with N. Not a pytest test (bench_*.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.mapping.compile import CompiledEntity, compile_mapping
from engine.mapping.load import load_mapping
from tests.bench.hand_written import hand_order
from tests.bench.orders import make_pool, order_list, order_stream

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "shopify-like.yaml"
LOOP_ID = 9007199254741001  # what every lookup resolves to (a Loop id beyond 2**53)
GOALS = {"compiled mapping": 0.8, "mapping + validation": 0.5}
Record = dict[str, Any]
Pass = Callable[[list[Record]], None]


def resolve(refs: Iterable[tuple[Any, Any, Any]]) -> None:
    """The lookup resolution every variant does: each ref slot gets a Loop id."""
    for container, key, _ref in refs:
        container[key] = LOOP_ID


def make_passes(entity: CompiledEntity) -> dict[str, Pass]:
    """One pass over the orders per variant; names are the table's row labels."""
    transform, validate = entity.transform, entity.validate

    def hand(orders: list[Record]) -> None:
        for order in orders:
            resolve(hand_order(order)[1])

    def mapping(orders: list[Record]) -> None:
        for order in orders:
            resolve(transform(order).refs)

    def validated(orders: list[Record]) -> None:
        invalid = 0
        for order in orders:
            result = transform(order)
            resolve(result.refs)
            invalid += bool(validate(result.payload))
        if invalid:
            raise SystemExit(f"{invalid} payload(s) failed validation: the benchmark is void")

    return {"hand-written": hand, "compiled mapping": mapping, "mapping + validation": validated}


def check_identity(entity: CompiledEntity, orders: list[Record]) -> None:
    """Stop the run unless hand-written and compiled agree on payload, lookups and issues."""
    for i, order in enumerate(orders):
        compiled = entity.transform(order)
        payload, refs = hand_order(order)
        if compiled.issues:
            raise SystemExit(f"order {i}: the mapping reported {compiled.issues}")
        if payload != compiled.payload:
            raise SystemExit(f"order {i}: payloads differ\nhand:     {payload}\n"
                             f"compiled: {compiled.payload}")  # fmt: skip
        if [r[1:] for r in refs] != [r[1:] for r in compiled.refs]:
            raise SystemExit(f"order {i}: lookups differ\nhand:     {refs}\n"
                             f"compiled: {compiled.refs}")  # fmt: skip


def measure(passes: dict[str, Pass], orders: list[Record], repeat: int) -> dict[str, list[float]]:
    """Records/s of each pass, `repeat` times, interleaved so drift hits every variant alike."""
    rates: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(repeat):
        for name, run in passes.items():
            start = time.perf_counter()
            run(orders)
            rates[name].append(len(orders) / (time.perf_counter() - start))
    return rates


def reset_peak_rss() -> None:
    """Lower the process's peak RSS to its current RSS (Linux), so setup is not in the peak."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError as exc:
        raise SystemExit(f"cannot reset the peak RSS (Linux only): {exc}") from None


def peak_rss_kib() -> int:
    """VmHWM, the peak RSS that clear_refs resets (ru_maxrss is not reset, and a child
    started by fork + exec inherits its parent's)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status (Linux only)")


def stream_child(args: argparse.Namespace) -> None:
    """In a fresh process: RSS before, and peak RSS while, mapping a stream of --stream orders."""
    entity = compile_mapping(load_mapping(MAPPING)).entities["orders"]
    pool = make_pool(args.orders, min(args.pool, args.orders), args.seed)
    stream = order_stream(pool, args.stream)
    resolve(entity.transform(next(stream)).refs)  # warm up: the first record's allocations
    gc.collect()
    reset_peak_rss()
    before = peak_rss_kib()
    for order in stream:
        resolve(entity.transform(order).refs)
    after = peak_rss_kib()
    print(json.dumps({"before_kib": before, "after_kib": after}))


def stream_peak(args: argparse.Namespace, n: int) -> dict[str, int]:
    """RSS before and peak RSS during (KiB, Linux) a child's stream of n orders.

    A child process, so that the benchmark's list of orders is not in the figure; VmHWM
    (reset after setup) rather than tracemalloc, whose tracing slowed the stream tenfold.
    """
    options = {"--stream": n, "--orders": args.orders, "--seed": args.seed, "--pool": args.pool}
    command = [sys.executable, "-m", "tests.bench.bench_mapping"]
    command += [str(part) for pair in options.items() for part in pair]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"stream run failed:\n{done.stderr}")
    figures: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def speed_table(rates: dict[str, list[float]]) -> list[str]:
    medians = {name: statistics.median(runs) for name, runs in rates.items()}
    base = medians["hand-written"]
    lines = [f"{'variant':<22} {'median rec/s':>12}  {'ratio':>5}  {'goal':<12} runs (rec/s)"]
    for name, runs in rates.items():
        ratio = medians[name] / base
        goal = GOALS.get(name)
        verdict = "" if goal is None else f">= {goal:.1f} {'PASS' if ratio >= goal else 'MISS'}"
        each = " ".join(f"{r:,.0f}" for r in runs)
        lines.append(f"{name:<22} {medians[name]:>12,.0f}  {ratio:>5.2f}  {verdict:<12} {each}")
    return lines


def memory_table(peaks: dict[int, dict[str, int]]) -> list[str]:
    (small, low), (large, high) = sorted(peaks.items())
    growth = high["after_kib"] - low["after_kib"]
    flat = growth <= 2048  # allocator noise: a leak of even 20 bytes a record is 2 MiB here
    lines = ["streamed compiled mapping, peak RSS of a child process (VmHWM):"]
    lines += [f"  {n:>9,} orders  peak {p['after_kib'] / 1024:>6.1f} MiB  "
              f"(+{(p['after_kib'] - p['before_kib']) / 1024:.1f} MiB over its RSS "
              f"before the stream)" for n, p in sorted(peaks.items())]  # fmt: skip
    lines.append(f"  {large // small}x the orders: peak {growth / 1024:+.1f} MiB, "
                 f"{'flat PASS' if flat else 'grows MISS'}")  # fmt: skip
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_mapping",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--orders", type=int, default=100_000, help="orders per pass")
    parser.add_argument("--repeat", type=int, default=3, help="passes per variant")
    parser.add_argument("--seed", type=int, default=1, help="demo shop seed")
    parser.add_argument("--pool", type=int, default=1000, help="distinct generated orders")
    parser.add_argument("--check", type=int, default=1000, help="orders compared for identity")
    parser.add_argument("--stream", type=int, default=0, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.orders < 10 or args.repeat < 1 or args.pool < 1:
        parser.error("need --orders >= 10, --repeat >= 1, --pool >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.stream:
        return stream_child(args)
    entity = compile_mapping(load_mapping(MAPPING)).entities["orders"]
    pool = make_pool(args.orders, min(args.pool, args.orders), args.seed)
    orders = order_list(pool, args.orders)
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{os.cpu_count()} cores; mappings/{MAPPING.name} entities.orders; "
          f"{args.orders:,} orders ({len(pool):,} distinct, seed {args.seed}), "
          f"repeat {args.repeat}")  # fmt: skip
    check_identity(entity, orders[: args.check])
    print(f"identity: hand-written == compiled (payloads, lookups, no issues) "
          f"for the first {min(args.check, len(orders)):,} orders: OK")  # fmt: skip
    gc.collect()
    gc.freeze()  # the orders live all run: keep the collector from rescanning them
    rates = measure(make_passes(entity), orders, args.repeat)
    print("\n".join(speed_table(rates)))
    peaks = {n: stream_peak(args, n) for n in (args.orders // 10, args.orders)}
    print("\n".join(memory_table(peaks)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
