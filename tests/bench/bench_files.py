"""Benchmark of the files connector's `group` and `join` against a hand-written DuckDB query
(issue 11).

Run from the repository root:

    python -m tests.bench.bench_files [--lines 100000] [--repeat 3] [--seed 1] [--profile]

A NetSuite-shaped export is generated once in a temporary folder (tests/bench/files_data.py):
order_lines.csv with one row per order line and the header fields repeated (1-6 lines an
order), fulfillments.csv and credit_memos.csv (lines as rows) pointing at their order by
document number. Then, interleaved `repeat` times: (a) the files connector's extract API, as
the pipeline calls it, grouping the lines into orders and joining the fulfillments and the
grouped credit memos, every record materialised as a Python dict; (b) one hand-written DuckDB
query (read_csv all_varchar, list() GROUP BY, LEFT JOINs) giving the same nested records,
fetched into Python dicts. Before timing, both results must be equal (orders, fulfillments and
credit memos compared in any order, lines in file order), or the run stops. It prints the
median records/s (orders) of each, the ratio files/duckdb (goal >= 0.5) and the peak RSS
growth of a pass; for scale, also the query alone materialised inside DuckDB (no Python
objects, not the goal's baseline). `--profile` prints the connector pass's cProfile instead. Not a pytest test.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from connectors.base import ExtractRequest
from connectors.files import FilesConnector
from tests.bench.bench_mapping import peak_rss_kib, reset_peak_rss
from tests.bench.files_data import Export, write_export

GOAL = 0.5
Records = list[dict[str, Any]]

# The extract block an integrator writes for this export (see README "files" connector).
FILES_EXTRACT: dict[str, Any] = {
    "path": "order_lines.csv",
    "csv": {"labels": "snake_case", "blank_as_null": True},
    "group": {"by": "document_number"},
    "join": [
        {"path": "fulfillments.csv", "key": "created_from", "match": "document_number",
         "as": "fulfillments"},
        {"path": "credit_memos.csv", "key": "created_from", "match": "document_number",
         "as": "credit_memos", "group": {"by": "document_number", "rows": "items"}},
    ],
}  # fmt: skip

# The same result written by hand: each order is its first line's fields, its lines, its
# fulfillments and its credit memos (each one its first line's fields and its lines).
DUCKDB_QUERY = """
WITH l AS (SELECT * FROM read_csv($lines, all_varchar = true, normalize_names = true)),
o AS (SELECT document_number, list(l ORDER BY line::INTEGER) AS lines
      FROM l GROUP BY document_number),
f AS (SELECT created_from, list(f ORDER BY document_number) AS fulfillments
      FROM read_csv($fulfillments, all_varchar = true, normalize_names = true) f
      GROUP BY created_from),
c AS (SELECT * FROM read_csv($memos, all_varchar = true, normalize_names = true)),
cg AS (SELECT list(c ORDER BY line::INTEGER) AS items FROM c GROUP BY document_number),
cm AS (SELECT items[1].created_from AS created_from,
              list(struct_insert(items[1], items := items)
                   ORDER BY items[1].document_number) AS credit_memos
       FROM cg GROUP BY items[1].created_from)
SELECT unnest(o.lines[1]), o.lines,
       coalesce(f.fulfillments, []) AS fulfillments,
       coalesce(cm.credit_memos, []) AS credit_memos
FROM o
LEFT JOIN f ON f.created_from = o.document_number
LEFT JOIN cm ON cm.created_from = o.document_number
"""


def files_pass(folder: Path) -> Records:
    """The connector's extract as the pipeline calls it: every page's records."""
    source = {"connector": "files", "root": str(folder)}
    with FilesConnector(source, folder) as conn:
        pages = conn.extract(ExtractRequest("orders", FILES_EXTRACT, None, folder))
        return [record for page in pages for record in page.records]


def query_params(folder: Path) -> dict[str, str]:
    return {
        "lines": str(folder / "order_lines.csv"),
        "fulfillments": str(folder / "fulfillments.csv"),
        "memos": str(folder / "credit_memos.csv"),
    }


def duckdb_pass(folder: Path) -> Records:
    """The hand-written query, its rows turned into dicts (nested values already are)."""
    params = query_params(folder)
    with duckdb.connect() as con:
        cursor = con.execute(DUCKDB_QUERY, params)
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def duckdb_inside(folder: Path) -> Records:
    """For scale only: the same query materialised inside DuckDB (a temporary table), no
    Python objects made; returns nothing."""
    params = query_params(folder)
    with duckdb.connect() as con:
        con.execute(f"CREATE TEMPORARY TABLE orders AS {DUCKDB_QUERY}", params)
    return []


def canonical(records: Records) -> Records:
    """Orders by document number, their fulfillments and credit memos too; lines as they are
    (file order, which is line order in the generated export)."""

    def by_doc(items: Any) -> Any:  # anything but a list of records is compared as it is
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return items
        return sorted(items, key=lambda item: str(item.get("document_number")))

    joined = ("fulfillments", "credit_memos")
    return [{**r, **{k: by_doc(r.get(k)) for k in joined}} for r in by_doc(records)]


def check_same(export: Export) -> int:
    """Both passes give equal records, or the run stops; the number of orders."""
    ours, theirs = canonical(files_pass(export.folder)), canonical(duckdb_pass(export.folder))
    if len(ours) != export.orders or len(theirs) != export.orders:
        sys.exit(f"FAIL: {len(ours)} and {len(theirs)} orders, expected {export.orders}")
    for mine, other in zip(ours, theirs, strict=True):
        if mine != other:
            keys = sorted(k for k in mine.keys() | other.keys() if mine.get(k) != other.get(k))
            got, want = ({k: r.get(k) for k in keys} for r in (mine, other))
            sys.exit(f"FAIL: {mine['document_number']} differs:\nfiles  {got}\nduckdb {want}")
    lines = sum(len(r["lines"]) for r in ours)
    if lines != export.lines:
        sys.exit(f"FAIL: {lines} lines in the records, {export.lines} in the file")
    return len(ours)


def measure(passes: Mapping[str, Callable[[Path], Records]], folder: Path,
            repeat: int) -> tuple[dict[str, list[float]], dict[str, int]]:  # fmt: skip
    """Seconds of each pass, interleaved (A B A B ...), and each pass's peak RSS growth (KiB,
    highest over the repeats)."""
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    peaks = dict.fromkeys(passes, 0)
    for _ in range(repeat):
        for name, run in passes.items():
            gc.collect()
            reset_peak_rss()
            before = peak_rss_kib()
            start = time.perf_counter()
            records = run(folder)
            seconds[name].append(time.perf_counter() - start)
            peaks[name] = max(peaks[name], peak_rss_kib() - before)
            del records
    return seconds, peaks


def table(seconds: dict[str, list[float]], peaks: dict[str, int], orders: int) -> list[str]:
    medians = {name: statistics.median(runs) for name, runs in seconds.items()}
    base = orders / medians["duckdb query"]
    lines = [f"{'variant':<16} {'median rec/s':>12} {'ratio':>6}  {'goal':<10} "
             f"{'peak RSS +MiB':>13}  runs (rec/s)"]  # fmt: skip
    for name, runs in seconds.items():
        rate = orders / medians[name]
        ratio = rate / base
        verdict = (
            f">= {GOAL} {'PASS' if ratio >= GOAL else 'MISS'}" if name == "files connector" else ""
        )
        each = " ".join(f"{orders / s:,.0f}" for s in runs)
        lines.append(f"{name:<16} {rate:>12,.0f} {ratio:>6.2f}  {verdict:<10} "
                     f"{peaks[name] / 1024:>13,.0f}  {each}")  # fmt: skip
    return lines


def profile(folder: Path) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(files_pass, folder)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        export = write_export(Path(tmp) / "export", args.lines, args.seed)
        print(f"export: {export.lines:,} order lines ({export.orders:,} orders), "
              f"{export.fulfillments:,} fulfillments, {export.memo_rows:,} credit memo lines")  # fmt: skip
        if args.profile:
            profile(export.folder)
            return
        orders = check_same(export)
        print("check: the connector's records equal the query's")
        passes = {"files connector": files_pass, "duckdb query": duckdb_pass,
                  "duckdb, no dicts": duckdb_inside}  # fmt: skip
        seconds, peaks = measure(passes, export.folder, args.repeat)
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, median of {args.repeat}")  # fmt: skip
    print("\n".join(table(seconds, peaks, orders)))


if __name__ == "__main__":
    main()
