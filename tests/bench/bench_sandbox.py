"""Benchmark of the Loop sandbox's throughput (issue 12): requests/s in-process and standalone.

Run from the repository root:

    python -m tests.bench.bench_sandbox [--orders 2000] [--repeat 3] [--baseline-ref main]

1. `etl run mappings/shopify-like.yaml` with the shopify-like demo and the sandbox embedded
   (`base_url: embedded`) at an unlimited rate (0/min): seconds and Loop requests/s of the whole
   run (engine, demo and sandbox share this process). Its sandbox request log is the mix below.
2. in-process: that request mix replayed in order by one httpx client against a fresh sandbox
   on a loopback port in the client's process (as `base_url: embedded` runs it).
3. standalone: the same mix against a sandbox server process (`etl sandbox`'s `serve`).

With --baseline-ref, every part also runs with `engine` taken from that ref (`git archive`
into a temporary folder, first on PYTHONPATH), interleaved with the working tree's, and the
table shows the ratio. Each side replays the mix captured by its own run; a replayed status
that differs from the captured one is counted (it should be 0). Medians of --repeat runs.
Not a pytest test (bench_*.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.sandbox_side import replay

REPO = Path(__file__).resolve().parents[2]
SIDE = Path(__file__).with_name("sandbox_side.py")
GOAL = 3.0
PARTS = ("run", "in-process", "standalone")


def _side(pythonpath: Path | None, *args: str) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, str(SIDE), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"sandbox_side.py {args[0]} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def _standalone(pythonpath: Path | None, folder: Path) -> Iterator[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    port_file = folder / "standalone.port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(SIDE), "serve", str(port_file)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the standalone sandbox did not start")
            time.sleep(0.05)
        time.sleep(0.3)  # the port is written before uvicorn accepts
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        port_file.with_name(port_file.stem + ".duckdb").unlink(missing_ok=True)


@contextmanager
def _checkout(ref: str | None, folder: Path) -> Iterator[Path | None]:
    """The tree of `ref` in a temporary folder (`git archive`: the repository is not touched)."""
    if ref is None:
        yield None
        return
    where = folder / "baseline"
    where.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref],
                             check=True, capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    yield where


def measure_side(path: Path | None, orders: int, folder: Path) -> dict[str, dict[str, Any]]:
    """One repeat of the three parts for one side (None: the working tree)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("run*"):  # the state, the sandbox's and the demo's own data
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    out = {"run": _side(path, "run", str(orders), str(folder))}
    mix = folder / "mix.jsonl"
    out["in-process"] = _side(path, "replay", str(mix))
    with _standalone(path, folder) as base_url:
        out["standalone"] = replay(mix, base_url)
    return out


def table(results: dict[str, list[dict[str, dict[str, Any]]]]) -> list[str]:
    lines = [f"{'part':<12} {'side':<10} {'requests':>8} {'median s':>9} {'req/s':>8} "
             f"{'ratio':>6}  runs (req/s)   status differs"]  # fmt: skip
    for part in PARTS:
        base_rate = None
        for side, runs in results.items():
            rates = [r[part]["requests"] / r[part]["seconds"] for r in runs]
            seconds = statistics.median(r[part]["seconds"] for r in runs)
            rate = statistics.median(rates)
            base_rate = rate if base_rate is None else base_rate
            ratio = rate / base_rate
            differ = [r[part].get("differ", {}) for r in runs]
            lines.append(f"{part:<12} {side:<10} {runs[0][part]['requests']:>8} {seconds:>9.1f} "
                         f"{rate:>8.1f} {ratio:>6.2f}  "
                         f"{' '.join(f'{x:.0f}' for x in rates):<14} "
                         f"{'-' if part == 'run' else differ}")  # fmt: skip
    if len(results) == 2:
        after = results["this tree"]
        ratio = statistics.median(r["in-process"]["requests"] / r["in-process"]["seconds"]
                                  for r in after) / statistics.median(
            r["in-process"]["requests"] / r["in-process"]["seconds"]
            for r in next(iter(results.values())))  # fmt: skip
        lines.append(f"goal: in-process requests/s >= {GOAL:.0f}x the baseline: {ratio:.2f}x "
                     f"{'PASS' if ratio >= GOAL else 'MISS'}")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-ref", default=None, help="a git ref to compare with")
    args = parser.parse_args()
    print(f"sandbox throughput: {args.orders:,} demo orders, {args.repeat} repeat(s), "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        work = Path(tmp)
        with _checkout(args.baseline_ref, work) as baseline:
            sides: dict[str, Path | None] = {"this tree": None}
            if baseline is not None:
                sides = {args.baseline_ref: baseline, "this tree": None}
            results: dict[str, list[dict[str, dict[str, Any]]]] = {s: [] for s in sides}
            for i in range(args.repeat):
                for n, (side, path) in enumerate(sides.items()):
                    results[side].append(measure_side(path, args.orders, work / f"side{n}"))
                    print(f"  repeat {i + 1}, {side}: done", flush=True)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
