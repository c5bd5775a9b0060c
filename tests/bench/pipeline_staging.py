"""Part 3b of the pipeline benchmark: a run that stages and records, its peak RSS and state size.

A dry run stages nothing, so part 3's figures leave DuckDB's buffer pool out. Here a child
process runs the engine's `Runner` over the orders file with a run id (so every page's raw
records are staged when ETL_STATE_RAW=on, as a real run does) and a stand-in for Loop that accepts every ready
order: each gets a Loop id and its line ids in the ID map, committed batch by batch, as a run
against Loop would leave them. Nothing is sent. The child writes its VmHWM when it exits; the
parent then reads the state file's size (bytes per synced record: the file over the ID map's
rows, the references the template holds included), before the state closed (as the run left
it) and after (compacted when due), and its blocks DuckDB counts as free.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tests.bench.pipeline_memory import ETL

# The child: `python -c CHILD MAPPING STATE`, with BENCH_PEAK_FILE set (ETL's exit hook).
CHILD = ETL.replace(
    "from engine.cli import main\nmain()",
    "from tests.bench.pipeline_staging import child_main\nchild_main()",
)
FIRST_ID = 10**16


@dataclass
class Staged:
    orders: int
    limit: str  # ETL_STATE_MEMORY_LIMIT of the child ('' = the default)
    raw: str  # ETL_STATE_RAW of the child ('' = the default, off)
    rss_kib: int
    file_bytes: int  # after closing (compacted when due)
    run_bytes: int  # as the run left it, before closing
    synced: int  # rows in the ID map
    free_bytes: int
    seconds: float

    @property
    def per_record(self) -> float:
        return self.file_bytes / max(1, self.synced)

    @property
    def run_per_record(self) -> float:
        return self.run_bytes / max(1, self.synced)


def child_main() -> None:
    """In the child: one staging run of the orders entity, every ready order 'accepted'."""
    from connectors.files import FilesConnector
    from engine.mapping.compile import compile_mapping
    from engine.mapping.load import load_mapping
    from engine.pipeline import batch
    from engine.pipeline.load import Loaded
    from engine.pipeline.prepare import Prepared
    from engine.pipeline.run import RunOptions
    from engine.state import State, Synced
    from tests.bench.pipeline_local import StagingDryRun

    class Accepting(batch.DryRun):
        """The dry run's loader, but every ready record comes back synced with a Loop id."""

        next_id = FIRST_ID

        def load(self, name: str, prepared: Prepared) -> Loaded:
            loaded = super().load(name, prepared)
            for ready in prepared.ready:
                Accepting.next_id += 1
                lines = {str(i): Accepting.next_id * 10 + i for i in range(3)}
                loaded.synced.append(
                    Synced(ready.key, Accepting.next_id, ready.payload_hash, {"lines": lines})
                )
            return loaded

    batch.DryRun = Accepting  # type: ignore[misc]  # the benchmark's own process only
    mapping, state_path = Path(sys.argv[1]), sys.argv[2]
    compiled = compile_mapping(load_mapping(mapping, env={}))
    options = RunOptions(entities=("orders",), full_refresh=True, dry_run=True, batch_size=500)
    source = compiled.mapping
    with State(state_path) as state, FilesConnector(source.source, source.base_dir) as conn:
        StagingDryRun(compiled, state, conn, None, options).run()
        state.db.execute("CHECKPOINT")  # the file as the run left it, before closing compacts it
        Path(os.environ["BENCH_SIZE_FILE"]).write_text(str(os.path.getsize(state_path)))


def staged_run(mapping: Path, state: Path, orders: int, limit: str, keep: str) -> Staged:
    """Run the child on `state` (changed in place) with the memory limit and ETL_STATE_RAW
    (`keep`); what it measured."""
    peak_path, size_path = state.with_suffix(".peak"), state.with_suffix(".size")
    env: dict[str, Any] = {
        **os.environ,
        "BENCH_PEAK_FILE": str(peak_path),
        "BENCH_SIZE_FILE": str(size_path),
    }
    for name, value in (("ETL_STATE_MEMORY_LIMIT", limit), ("ETL_STATE_RAW", keep)):
        env.pop(name, None)
        if value:
            env[name] = value
    command = [sys.executable, "-c", CHILD, str(mapping), str(state)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0 or not peak_path.exists():
        raise SystemExit(f"the staging run exited {done.returncode}:\n{done.stderr[-2000:]}")
    synced, free = _inspect(state)
    size = state.stat().st_size
    run_size = int(size_path.read_text())
    peak = int(peak_path.read_text())
    return Staged(orders, limit, keep, peak, size, run_size, synced, free, seconds)


def _inspect(state: Path) -> tuple[int, int]:
    """(rows in the ID map, bytes in free blocks) of a closed state file."""
    db = duckdb.connect(str(state), read_only=True)
    try:
        synced = db.execute("SELECT count(*) FROM id_map").fetchone()
        free = db.execute("SELECT free_blocks * block_size FROM pragma_database_size()").fetchone()
    finally:
        db.close()
    return (int(synced[0]) if synced else 0), (int(free[0]) if free else 0)


GOAL_BYTES = 600  # per synced record (issue 12)


def _config(r: Staged) -> str:
    return f"raw {r.raw or 'off (default)'}, limit {r.limit or 'default'}"


def staging_table(runs: list[Staged], flat: float) -> list[str]:
    """One line per run, then the goals: RSS flat with staging on under the default limit,
    bytes per record with the defaults."""
    head = (f"{'orders':>8} {'raw':<5} {'memory limit':<14} {'synced':>7} {'peak RSS MiB':>12} "
            f"{'state MiB':>9} {'B/synced':>8} {'uncompacted':>11} {'free MiB':>8} {'seconds':>7}")  # fmt: skip
    lines = [head]
    for r in runs:
        lines.append(f"{r.orders:>8,} {r.raw or 'off':<5} {r.limit or 'default':<14} {r.synced:>7,} "
                     f"{r.rss_kib / 1024:>12.1f} {r.file_bytes / 2**20:>9.1f} "
                     f"{r.per_record:>8,.0f} {r.run_per_record:>11,.0f} {r.free_bytes / 2**20:>8.1f} "
                     f"{r.seconds:>7.1f}")  # fmt: skip
    for config in dict.fromkeys(_config(r) for r in runs):
        small, big = [r for r in runs if _config(r) == config][:2]
        ratio = big.rss_kib / small.rss_kib
        verdict = "flat PASS" if ratio <= flat else "GROWS MISS"
        lines.append(f"peak RSS, {config}: x{ratio:.2f} (+{(big.rss_kib - small.rss_kib) / 1024:.0f} MiB) "
                     f"for {big.orders // small.orders}x the orders, allowed x{flat}: {verdict}")  # fmt: skip
    for r in (r for r in runs if not r.limit):
        goal = "goal" if not r.raw else "(not the default)"
        verdict = "PASS" if r.per_record < GOAL_BYTES else "MISS"
        lines.append(f"state at {r.orders:,} orders, {_config(r)}: {r.per_record:,.0f} B per synced "
                     f"record (x{r.per_record / r.run_per_record:.2f} of the file the run left, "
                     f"{r.run_per_record:,.0f}), {goal} < {GOAL_BYTES}: {verdict}")  # fmt: skip
    return lines
