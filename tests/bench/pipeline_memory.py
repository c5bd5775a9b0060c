"""Part 3 of the pipeline benchmark: peak RSS of `etl run --dry-run` over a small and a big file.

For each size: a folder with that many orders in JSONL, the files-connector benchmark mapping,
and a state file whose ID map knows every referenced product, variant and customer (so every
order is mapped, resolved, validated and hashed, not held back). `etl run --dry-run --json`
then runs as a child process, which writes its VmHWM (peak RSS of its own address space, from
/proc/self/status) when it exits. Not getrusage's ru_maxrss: Linux carries the parent's
high-water mark across fork and exec into it, so a child of this benchmark would report at least
the benchmark's own size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.pipeline_data import build_template, compiled_bench, write_orders

# `etl` (engine.cli:main) with an exit hook that records the process's own peak RSS in KiB.
ETL = """
import atexit, os, re
def _peak():
    status = open("/proc/self/status").read()
    peak = re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)
    open(os.environ["BENCH_PEAK_FILE"], "w").write(peak)
atexit.register(_peak)
from engine.cli import main
main()
"""
FLAT = 1.25  # peak at the big size may be at most this times the small one's


@dataclass
class Peak:
    orders: int
    extracted: int
    created: int
    rss_kib: int
    seconds: float


def prepare_folder(folder: Path, orders: int, seed: int) -> tuple[Path, Path]:
    """Orders file, mapping and state for one size; returns (mapping, state)."""
    pool = write_orders(folder, orders, seed)
    mapping, compiled = compiled_bench(folder, folder)
    state = folder / "state.duckdb"
    build_template(state, compiled, pool, 0)
    return mapping, state


def dry_run_peak(mapping: Path, state: Path, orders: int) -> Peak:
    """Run `etl run MAPPING --dry-run --json` as a child; its peak RSS and summary."""
    command = [sys.executable, "-c", ETL, "run", str(mapping), "--dry-run", "--json",
               "--state", str(state)]  # fmt: skip
    out_path, err_path = state.with_suffix(".out"), state.with_suffix(".err")
    peak_path = state.with_suffix(".peak")
    env = {**os.environ, "BENCH_PEAK_FILE": str(peak_path)}
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        code = subprocess.run(command, stdout=out, stderr=err, env=env, check=False).returncode
    seconds = time.monotonic() - started
    if code != 0 or not peak_path.exists():
        raise SystemExit(f"etl run --dry-run exited {code}:\n{err_path.read_text()[-2000:]}")
    stats = json.loads(out_path.read_text().strip().splitlines()[-1])["entities"][0]
    peak = int(peak_path.read_text())
    return Peak(orders, stats["extracted"], stats["created"], peak, seconds)


def memory_table(peaks: list[Peak]) -> list[str]:
    small, big = peaks[0], peaks[-1]
    lines = [f"{'orders':>8} {'extracted':>9} {'created':>8} {'peak RSS MiB':>12} {'seconds':>8}"]
    lines += [f"{p.orders:>8,} {p.extracted:>9,} {p.created:>8,} {p.rss_kib / 1024:>12.1f} "
              f"{p.seconds:>8.1f}" for p in peaks]  # fmt: skip
    ratio = big.rss_kib / small.rss_kib
    verdict = "flat PASS" if ratio <= FLAT else "GROWS MISS"
    lines.append(f"goal: peak RSS flat (x{ratio:.2f} for {big.orders // small.orders}x the orders, "
                 f"allowed x{FLAT}): {verdict}")  # fmt: skip
    return lines
