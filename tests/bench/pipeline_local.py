"""Part 1 of the pipeline benchmark: local throughput, the engine against a hand-written script.

Both passes read the same JSONL file and do the same work per batch of 500 orders into a fresh
copy of the same state file: stage every raw record when ETL_STATE_RAW=on (one `unnest` upsert;
the engine's default stages none), map the order, resolve
its product, variant and customer lookups from the ID map (one `unnest` query per entity), look
the orders up in the ID map, validate with the same jsonschema-rs validator, hash the payload
and diff against the hash Loop last accepted. Nothing is sent.

The engine pass is `Runner` in dry-run mode with a run id, so that it stages raw records as a
real run does when they are asked for (a dry run proper stages nothing) while sending and
committing nothing.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import duckdb

from connectors.files import FilesConnector
from engine.mapping.compile import CompiledMapping
from engine.mapping.model import ORDER_LINES
from engine.pipeline.prepare import STAND_IN_ID, payload_hash
from engine.pipeline.run import Runner, RunOptions, RunSummary
from engine.state import State, raw
from engine.validation import validator
from tests.bench.hand_written import hand_order
from tests.bench.pipeline_data import ORDERS_FILE

BATCH = 500  # the engine's default RunOptions.batch_size


@dataclass
class Counts:
    """What a pass decided: the diff must agree between engine and hand-written."""

    records: int = 0
    unchanged: int = 0
    changed: int = 0
    other: int = 0  # quarantined or held: must stay 0

    def key(self) -> tuple[int, int, int, int]:
        return (self.records, self.unchanged, self.changed, self.other)


class StagingDryRun(Runner):
    """A dry run that also stages raw records: a run id makes `_page` stage them, while
    `dry_run` keeps the loader, the commits and the cursor out of it."""

    def run(self) -> RunSummary:
        self.run_id = self.state.start_run("bench")
        return super().run()


def engine_pass(compiled: CompiledMapping, state_path: Path) -> Counts:
    options = RunOptions(entities=("orders",), full_refresh=True, dry_run=True, batch_size=BATCH)
    mapping = compiled.mapping
    with State(state_path) as state, FilesConnector(mapping.source, mapping.base_dir) as conn:
        summary = StagingDryRun(compiled, state, conn, None, options).run()
    stats = summary.entities[0]
    return Counts(stats.extracted, stats.unchanged, stats.created + stats.updated,
                  stats.quarantined + stats.held)  # fmt: skip


def profile_engine(compiled: CompiledMapping, state_path: Path, top: int = 25) -> list[str]:
    """One engine pass under cProfile: the functions with the most own time."""
    profiler = cProfile.Profile()
    profiler.runcall(engine_pass, compiled, state_path)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    body = text.getvalue().splitlines()
    start = next(i for i, line in enumerate(body) if "ncalls" in line)
    return ["engine pass under cProfile (own time):", *body[start - 1 :]]


STAGE_SQL = (
    "INSERT INTO raw_records SELECT ?, unnest(?), unnest(?)::JSON, unnest(?), ?, now() "
    "ON CONFLICT DO UPDATE SET record = excluded.record, parent_key = excluded.parent_key, "
    "run_id = excluded.run_id, extracted_at = excluded.extracted_at"
)
LOOKUP_SQL = (
    "SELECT key, loop_id, payload_hash FROM id_map WHERE entity = ? AND key IN (SELECT unnest(?))"
)


def _batches(fh: TextIO) -> Iterator[list[dict[str, Any]]]:
    lines = (line for line in fh if line.strip())
    while batch := [json.loads(line) for line in islice(lines, BATCH)]:
        yield batch


def _lookup(db: duckdb.DuckDBPyConnection, entity: str, keys: set[str]) -> dict[str, Any]:
    return {r[0]: r[1:] for r in db.execute(LOOKUP_SQL, [entity, list(keys)]).fetchall()}


def hand_pass(root: Path, state_path: Path) -> Counts:
    """The same work written straight: no connector, no runner, no compiled mapping."""
    counts = Counts()
    schema = validator("order")
    db = duckdb.connect(str(state_path))
    try:
        run_id = db.execute("SELECT nextval('run_ids')").fetchone()[0]  # type: ignore[index]
        with (root / ORDERS_FILE).open(encoding="utf-8") as fh:
            for orders in _batches(fh):
                _hand_batch(db, run_id, orders, schema, counts)
    finally:
        db.close()
    return counts


def _hand_batch(db: duckdb.DuckDBPyConnection, run_id: int, orders: list[dict[str, Any]],
                schema: Any, counts: Counts) -> None:  # fmt: skip
    if raw.keep_raw():  # as the engine does: only with ETL_STATE_RAW=on
        keys = [str(o["id"]) for o in orders]
        texts = [
            json.dumps(o, separators=(",", ":"), default=str, ensure_ascii=False) for o in orders
        ]
        db.execute(STAGE_SQL, ["orders", keys, texts, [None] * len(keys), run_id])
    mapped = [hand_order(o) for o in orders]
    wanted: dict[str, set[str]] = {}
    for _, refs in mapped:
        for _, _, ref in refs:
            if ref.entity != ORDER_LINES:
                wanted.setdefault(ref.entity, set()).add(ref.key)
    found = {entity: _lookup(db, entity, ks) for entity, ks in wanted.items()}
    known = _lookup(db, "orders", {p["external_id"] for p, _ in mapped})
    for payload, refs in mapped:
        counts.records += 1
        lines = []
        for container, slot, ref in refs:
            if ref.entity == ORDER_LINES:
                lines.append((container, slot, ref))
                container[slot] = STAND_IN_ID
            else:
                container[slot] = found[ref.entity][ref.key][0]
        if not schema.is_valid(payload):
            counts.other += 1
            continue
        for container, slot, ref in lines:
            container[slot] = ref
        digest = payload_hash(payload)
        row = known.get(payload["external_id"])
        if row is not None and row[1] == digest:
            counts.unchanged += 1
        else:
            counts.changed += 1
