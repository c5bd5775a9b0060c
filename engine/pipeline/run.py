"""Runs a compiled mapping into Loop: each entity in dependency order, page by page.

A page goes: (stage raw, with ETL_STATE_RAW=on) -> prepare (map, resolve, validate, diff; a
`send: referenced` record Loop lacks is deferred until a lookup needs it) -> load -> commit. Child
entities (variants) ride on their parent's pages: the parent batch is loaded first, then the
children of the same records, then both are committed and only then does the cursor move, so
a crash at any point leaves records to send again (upserts make that harmless), never lost.
Held-back records are retried at the start of every run; quarantined ones by `replay`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from connectors.base import Connector, ExtractRequest
from engine.loop.api import LoopAPI
from engine.loop.returns import Returns
from engine.mapping.compile import CompiledEntity, CompiledMapping
from engine.pipeline.actions import ActionRunner
from engine.pipeline.batch import BatchResult, BatchSync, Item
from engine.pipeline.prefetch import prefetched
from engine.pipeline.prepare import fallback_key, record_key
from engine.pipeline.window import WindowPlan, utc_now
from engine.state import ParkedTable, State


@dataclass
class EntityStats:
    """One entity's line of the run summary."""

    entity: str
    extracted: int = 0
    unchanged: int = 0
    created: int = 0
    updated: int = 0
    quarantined: int = 0
    held: int = 0
    deferred: int = 0  # `send: referenced`: kept in the state until a lookup needs them
    requests: int = 0
    rate_limited: int = 0
    source_requests: int = 0  # requests to the platform (pages, counts, per-parent includes)
    seconds: float = 0.0
    total: int | None = None
    outside_window: int = 0  # read, but outside the entity's `window:` and not in Loop: not sent

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class RunOptions:
    entities: tuple[str, ...] = ()
    full_refresh: bool = False
    dry_run: bool = False
    limit: int | None = None
    batch_size: int = 500
    replay: bool = False  # also retry quarantined records (etl quarantine replay)
    # Read the source from the saved cursors. `etl quarantine replay` without --sync does not:
    # it sends only the parked records, of the entities that have some, and no return actions.
    sync: bool = True
    # The clock of `window:` (None: now). Tests move the window with it; no command sets it.
    now: datetime | None = None


@dataclass
class RunSummary:
    run_id: int | None
    entities: list[EntityStats] = field(default_factory=list)
    dry_run: bool = False
    outstanding: int = 0  # quarantined + held records in the state after the run
    # Where the records came from (connector and its location) and went (Loop's base URL):
    # set by whoever wired the run (engine.context), never with credentials.
    source: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    # The backfill estimate made before a first run (engine.pipeline.estimate), as a dict.
    estimate: dict[str, Any] | None = None

    @property
    def parked(self) -> int:
        """Records still set aside after the run (in the state); a dry run's own count.

        Not the sum of the run's counts: a replay first parks the stale copy of a record again,
        then syncs the fixed one the source gives, and nothing remains."""
        if self.run_id is not None:
            return self.outstanding
        return sum(s.quarantined + s.held for s in self.entities)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "outstanding": self.outstanding,
            "source": self.source,
            "target": self.target,
            "estimate": self.estimate,
            "entities": [s.as_dict() for s in self.entities],
        }


Progress = Callable[[EntityStats], None]


class Runner:
    """One run of one mapping. `loop` is the Loop client (None for a dry run)."""

    def __init__(
        self,
        compiled: CompiledMapping,
        state: State,
        connector: Connector,
        loop: LoopAPI | None,
        options: RunOptions,
        progress: Progress | None = None,
    ) -> None:
        self.compiled, self.state, self.connector = compiled, state, connector
        self.loop, self.options = loop, options
        self.progress = progress or (lambda stats: None)
        self.children = {e.entity.parent: e for e in compiled.entities.values() if e.entity.parent}
        self.run_id: int | None = None
        self._batches_seen: dict[str, set[int]] = {}  # the run's BatchSync.seen
        self._outside: dict[str, int] = {}  # records left out by the window, per entity

    def run(self) -> RunSummary:
        if self.options.dry_run:  # writes no state: no run row either
            summary = RunSummary(None, dry_run=True)
            self._entities(summary)
            return summary
        with self.state.run("run") as run:
            self.run_id = run.run_id
            summary = run.summary = RunSummary(self.run_id)
            self._entities(summary)
            self._settle(summary)
            run.status = "parked" if summary.parked else "ok"
        return summary

    def _entities(self, summary: RunSummary) -> None:
        batches = BatchSync(self.compiled, self.state, self.loop, self.run_id)
        self._batches_seen = batches.seen
        names = source_entities(self.compiled, self.options.entities)
        if not self.options.sync:
            counts = self.state.counts()
            names = [name for name in names if self._has_parked(name, counts)]
        for name in names:
            summary.entities += self._entity(batches, name)
            self._count_pulled(batches, summary)
        if batches.dry is not None:  # what this dry run would leave deferred
            for stats in summary.entities:
                stats.deferred = len(batches.dry.deferred.get(stats.entity, ()))
        if self.options.sync:
            summary.entities += self._return_actions()

    def _count_pulled(self, batches: BatchSync, summary: RunSummary) -> None:
        """Deferred records sent for another entity's lookups count on their own line."""
        for result in batches.pulled:
            stats = next((s for s in summary.entities if s.entity == result.entity), None)
            if stats is None:
                stats = EntityStats(result.entity)
                summary.entities.append(stats)
            _count(stats, result)
        batches.pulled.clear()

    def _has_parked(self, name: str, counts: dict[str, dict[str, int]]) -> bool:
        """Whether the entity, or its child, has records parked that this run would retry."""
        child = self.children.get(name)
        kinds = ("held", "quarantined") if self.options.replay else ("held",)
        return any(
            counts.get(entity, {}).get(kind, 0)
            for entity in (name, child.entity.name if child else name)
            for kind in kinds
        )

    def _return_actions(self) -> list[EntityStats]:
        """Bucket III from the platform: after the entities (the orders they find are synced)."""
        wanted = set(self.options.entities)
        sources = [s for s in self.compiled.return_actions if not wanted or s.name in wanted]
        if not sources:
            return []
        returns = Returns(self.loop) if self.loop is not None else None
        runner = ActionRunner(self.compiled, self.state, self.connector, returns, self.run_id)
        out = []
        for source in sources:
            started, before = time.monotonic(), self._sent()
            counts = runner.run(
                source, full_refresh=self.options.full_refresh, limit=self.options.limit
            )
            stats = EntityStats(source.name, extracted=counts["extracted"])
            stats.created, stats.unchanged = counts["sent"], counts["unchanged"]
            stats.quarantined, stats.held = counts["quarantined"], counts["held"]
            stats.requests = self._sent() - before
            stats.seconds = time.monotonic() - started
            out.append(stats)
        return out

    def _sent(self) -> int:
        return self.loop.stats.snapshot().sent if self.loop is not None else 0

    def _settle(self, summary: RunSummary) -> None:
        """What this run left parked (a record parked and then synced in the same run, as a
        replay that fixed it, is not), and what the state holds parked in all."""
        assert self.run_id is not None
        still = self.state.parked_by_run(self.run_id)
        for stats in summary.entities:
            row = still.get(stats.entity, {})
            stats.quarantined, stats.held = row.get("quarantined", 0), row.get("held", 0)
            stats.deferred = row.get("deferred", 0)
        counts = self.state.counts()
        summary.outstanding = sum(
            counts.get(s.entity, {}).get("quarantined", 0) + counts.get(s.entity, {}).get("held", 0)
            for s in summary.entities
        )

    # -- one source entity (and its children) -----------------------------------------------
    def _entity(self, batches: BatchSync, name: str) -> list[EntityStats]:
        child = self.children.get(name)
        stats = {name: EntityStats(name)}
        if child is not None:
            stats[child.entity.name] = EntityStats(child.entity.name)
        started, asked = time.monotonic(), self.connector.requests
        self._retry_parked(batches, name, child, stats)
        pages = self._pages(name) if self.options.sync else iter(())
        for records, cursor, total in pages:
            stats[name].total = total
            stats[name].source_requests = self.connector.requests - asked
            stats[name].extracted += len(records)
            if records and self.run_id is not None:
                self.state.stage_raw(name, ((_raw_key(r), r, None) for r in records), self.run_id)
            for result in batches.sync_records(name, records, cursor):
                _count(stats[result.entity], result, extracted=result.entity != name)
            stats[name].seconds = time.monotonic() - started
            if records:
                self.progress(stats[name])
        stats[name].source_requests = self.connector.requests - asked
        for each in stats.values():  # children are pushed together with their parents
            each.seconds = time.monotonic() - started
        stats[name].outside_window = self._outside.get(name, 0)
        return list(stats.values())

    def _pages(self, name: str) -> Iterator[tuple[list[Any], str | None, int | None]]:
        entity = self.compiled.entities[name].entity
        cursor = None if self.options.full_refresh else self.state.cursor(name)
        if entity.window is None:
            yield from self._extracted(name, entity.extract, cursor, [0])
            return
        plan = WindowPlan(entity.window, self.options.now or utc_now(), backfill=cursor is None)
        known = self._known(name)
        seen = [0]
        for i, phase in enumerate(plan.phases(entity.extract)):
            if i:  # the window's records come again, unchanged: not duplicates of the source
                self._batches_seen.pop(name, None)
            for records, page_cursor, total in self._extracted(name, phase.extract, cursor, seen):
                if phase.windowed:
                    read = len(records)
                    records = plan.kept(records, lambda r: self._parent_key(name, r), known)
                    self._outside[name] = self._outside.get(name, 0) + read - len(records)
                if not plan.backfill:
                    yield records, page_cursor, total
                    continue
                plan.see(page_cursor, entity.extract)
                yield records, None, total  # a newest-first page's cursor is the source's top
            if self._limited(seen):
                return  # cut short: the backfill starts again next run (sent records unchanged)
        if plan.backfill and plan.cursor is not None and self.run_id is not None:
            self.state.set_cursor(name, plan.cursor)

    def _known(self, name: str) -> Callable[[list[str]], Collection[str]] | None:
        """Which keys the ID map has (None when it has none of the entity: nothing to ask)."""
        if not self.state.counts().get(name, {}).get("synced"):
            return None
        return lambda keys: self.state.lookup(name, keys).keys()

    def _limited(self, seen: list[int]) -> bool:
        return self.options.limit is not None and seen[0] >= self.options.limit

    def _extracted(
        self, name: str, extract: dict[str, Any], cursor: str | None, seen: list[int]
    ) -> Iterator[tuple[list[Any], str | None, int | None]]:
        """One read of the source: pages cut in batches, at most `limit` records in all
        (`seen` counts them across reads)."""
        limit = self.options.limit
        left = None if limit is None else max(0, limit - seen[0])
        request = ExtractRequest(name, extract, cursor, self.compiled.mapping.base_dir, left)
        pages = self.connector.extract(request)
        if self.connector.prefetch:
            pages = prefetched(pages)
        for page in pages:
            records = page.records
            if limit is not None:
                records = records[: max(0, limit - seen[0])]
            seen[0] += len(records)
            chunks = list(_chunks(records, self.options.batch_size)) or [[]]
            for i, chunk in enumerate(chunks):  # the cursor rides with the page's last batch
                yield chunk, page.cursor if i == len(chunks) - 1 else None, page.total
            if self._limited(seen):
                return

    def _retry_parked(
        self,
        batches: BatchSync,
        name: str,
        child: CompiledEntity | None,
        stats: dict[str, EntityStats],
    ) -> None:
        tables = [ParkedTable.HELD]
        if self.options.replay:
            tables.append(ParkedTable.QUARANTINE)
        for table in tables:
            rows = self.state.parked(table, name)
            items: list[Item] = [(r["record"], r["parent"], None) for r in rows]
            _count(stats[name], batches.sync(name, items, unique=False))
            if child is None:
                continue
            rows = self.state.parked(table, child.entity.name)
            items = [(r["record"], r["parent"], self._parent_key(name, r["parent"])) for r in rows]
            live = set(self.state.lookup(name, [i[2] for i in items if i[2]]))
            result = batches.sync(child.entity.name, items, live_parents=live, unique=False)
            _count(stats[child.entity.name], result)

    def _parent_key(self, name: str, record: Any) -> str | None:
        entity = self.compiled.entities[name]
        return record_key(entity, entity.transform(record), record)


def source_entities(compiled: CompiledMapping, names: Iterable[str] = ()) -> list[str]:
    """The enabled top-level entities to extract, in dependency order (all when `names` is
    empty); asking for a child entity (variants) brings its parent along."""
    wanted = set(names)
    if wanted and not wanted & set(compiled.entities):
        return []  # only return action sources were asked for
    for name in list(wanted & set(compiled.entities)):
        parent = compiled.entities[name].entity.parent
        if parent:
            wanted.add(parent)
    return [
        n
        for n in compiled.mapping.order
        if compiled.entities[n].entity.enabled
        and compiled.entities[n].entity.parent is None
        and (not wanted or n in wanted)
    ]


def _count(stats: EntityStats, result: BatchResult, *, extracted: bool = False) -> None:
    """Add a batch's result to its entity's line of the summary (children are counted as
    extracted when they come out of their parents)."""
    if extracted:
        stats.extracted += result.items
    stats.unchanged += result.unchanged
    stats.created += result.created
    stats.updated += result.updated
    stats.quarantined += len(result.quarantined)
    stats.held += len(result.held)
    stats.deferred += len(result.deferred)
    stats.requests += result.requests
    stats.rate_limited += result.rate_limited


def _raw_key(record: Any) -> str:
    if isinstance(record, dict) and record.get("id") is not None:
        return str(record["id"])
    return fallback_key(record)


def _chunks(records: list[Any], size: int) -> Iterable[list[Any]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk
