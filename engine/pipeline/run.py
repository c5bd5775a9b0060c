"""Runs a compiled mapping into Loop: each entity in dependency order, page by page.

A page goes: stage raw -> prepare (map, resolve, validate, diff) -> load -> commit. Child
entities (variants) ride on their parent's pages: the parent batch is loaded first, then the
children of the same records, then both are committed and only then does the cursor move, so
a crash at any point leaves records to send again (upserts make that harmless), never lost.
Held-back records are retried at the start of every run; quarantined ones by `replay`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from connectors.base import Connector, ExtractRequest
from engine.mapping.compile import CompiledEntity, CompiledMapping
from engine.mapping.graph import lookups_in
from engine.pipeline.load import Loaded, Loader
from engine.pipeline.prefetch import prefetched
from engine.pipeline.prepare import Prepared, Preparer, fallback_key, record_key
from engine.state import BatchOutcome, Parked, State

Item = tuple[Any, Any, str | None]  # record, parent record, parent key


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
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    total: int | None = None

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
            "entities": [s.as_dict() for s in self.entities],
        }


Progress = Callable[[EntityStats], None]


class Runner:
    """One run of one mapping. The client is a LoopClient (or None for a dry run)."""

    def __init__(
        self,
        compiled: CompiledMapping,
        state: State,
        connector: Connector,
        client: Any,
        options: RunOptions,
        progress: Progress | None = None,
    ) -> None:
        self.compiled, self.state, self.connector = compiled, state, connector
        self.client, self.options = client, options
        self.progress = progress or (lambda stats: None)
        self.children = {e.entity.parent: e for e in compiled.entities.values() if e.entity.parent}
        self.run_id: int | None = None
        # --dry-run: what would be in Loop by now, so later entities' lookups resolve.
        self.would_sync: dict[tuple[str, str | None], set[str]] = {}
        self.looked_up = {
            (spec["lookup"], spec.get("via"))
            for e in compiled.entities.values()
            for _, spec in lookups_in(e.entity.map, ())
        }

    def run(self) -> RunSummary:
        if not self.options.dry_run:
            self.run_id = self.state.start_run("run")
        summary = RunSummary(self.run_id, dry_run=self.options.dry_run)
        try:
            for name in source_entities(self.compiled, self.options.entities):
                summary.entities += self._entity(name)
        except BaseException:
            if self.run_id is not None:
                self.state.finish_run(self.run_id, "failed", summary.as_dict())
            raise
        if self.run_id is not None:
            # A record parked and then synced in the same run (a replay that fixed it) is not
            # parked: the summary counts what this run left parked.
            still = self.state.parked_by_run(self.run_id)
            for stats in summary.entities:
                row = still.get(stats.entity, {})
                stats.quarantined, stats.held = row.get("quarantined", 0), row.get("held", 0)
            counts = self.state.counts()
            summary.outstanding = sum(
                counts.get(s.entity, {}).get("quarantined", 0)
                + counts.get(s.entity, {}).get("held", 0)
                for s in summary.entities
            )
            status = "parked" if summary.parked else "ok"
            self.state.finish_run(self.run_id, status, summary.as_dict())
        return summary

    # -- one source entity (and its children) -----------------------------------------------
    def _entity(self, name: str) -> list[EntityStats]:
        stats = EntityStats(name)
        child = self.children.get(name)
        child_stats = EntityStats(child.entity.name) if child else None
        started = time.monotonic()
        self._retry_parked(name, stats, child, child_stats)
        for page_records, cursor, total in self._pages(name):
            stats.total = total
            stats.extracted += len(page_records)
            self._page(name, page_records, cursor, stats, child, child_stats)
            stats.seconds = time.monotonic() - started
            if page_records:
                self.progress(stats)
        stats.seconds = time.monotonic() - started
        if child_stats is not None:
            child_stats.seconds = stats.seconds  # pushed together with their parents
        return [stats] + ([child_stats] if child_stats else [])

    def _pages(self, name: str) -> Iterator[tuple[list[Any], str | None, int | None]]:
        entity = self.compiled.entities[name].entity
        cursor = None if self.options.full_refresh else self.state.cursor(name)
        request = ExtractRequest(
            name, entity.extract, cursor, self.compiled.mapping.base_dir, self.options.limit
        )
        seen = 0
        pages = self.connector.extract(request)
        if self.connector.prefetch:
            pages = prefetched(pages)
        for page in pages:
            records = page.records
            if self.options.limit is not None:
                records = records[: max(0, self.options.limit - seen)]
            seen += len(records)
            chunks = list(_chunks(records, self.options.batch_size)) or [[]]
            for i, chunk in enumerate(chunks):  # the cursor rides with the page's last batch
                yield chunk, page.cursor if i == len(chunks) - 1 else None, page.total
            if self.options.limit is not None and seen >= self.options.limit:
                return

    def _page(
        self,
        name: str,
        records: list[Any],
        cursor: str | None,
        stats: EntityStats,
        child: CompiledEntity | None,
        child_stats: EntityStats | None,
    ) -> None:
        if records and self.run_id is not None:
            self.state.stage_raw(name, ((_raw_key(r), r, None) for r in records), self.run_id)
        # The cursor is written in the same transaction as the page's last batch (the children's
        # when there are any): it moves only with the records before it.
        has_children = child is not None and child_stats is not None and bool(records)
        parent_cursor = None if has_children else cursor
        live, keys = self._batch(
            name, [(r, None, None) for r in records], stats, cursor=(name, parent_cursor)
        )
        if child is not None and child_stats is not None and has_children:
            items: list[Item] = [
                (item, r, key)
                for r in records
                if (key := keys.get(id(r))) is not None
                for item in child.items(r)
            ]
            child_stats.extracted += len(items)
            self._batch(child.entity.name, items, child_stats, live, cursor=(name, cursor))

    def _batch(
        self,
        name: str,
        items: list[Item],
        stats: EntityStats,
        live_parents: set[str] | None = None,
        cursor: tuple[str, str | None] | None = None,
    ) -> tuple[set[str], dict[int, str]]:
        """Prepare, load and commit one batch (and the cursor, when given); returns the keys
        now in Loop, and each source record's key (by identity)."""
        if not items:
            if cursor is not None and cursor[1] is not None:
                self._record(name, Prepared(), Loaded(), stats, cursor)
            return set(), {}
        entity = self.compiled.entities[name]
        assume = self._assumed if self.options.dry_run else None
        prepared = Preparer(entity, self.state, assume).prepare(items)
        if live_parents is not None:
            _hold_orphans(prepared, live_parents, entity)
        loaded = Loaded()
        if prepared.ready and not self.options.dry_run:
            before = self._requests()
            loaded = Loader(self.client, entity.entity.kind).load(prepared.ready)
            after = self._requests()
            stats.requests += after[0] - before[0]
            stats.rate_limited += after[1] - before[1]
        elif self.options.dry_run:
            loaded.created = sum(1 for r in prepared.ready if r.known is None)
            loaded.updated = len(prepared.ready) - loaded.created
            self._remember(name, prepared)
        self._record(name, prepared, loaded, stats, cursor)
        live = set(prepared.unchanged) | {s.key for s in loaded.synced}
        if self.options.dry_run:
            live |= {r.key for r in prepared.ready}
        return live, prepared.keys

    def _record(
        self,
        name: str,
        prepared: Prepared,
        loaded: Loaded,
        stats: EntityStats,
        cursor: tuple[str, str | None] | None = None,
    ) -> None:
        quarantined = prepared.quarantined + loaded.quarantined
        held = prepared.held + loaded.held
        stats.unchanged += len(prepared.unchanged)
        stats.created += loaded.created
        stats.updated += loaded.updated
        stats.quarantined += len(quarantined)
        stats.held += len(held)
        if self.options.dry_run or self.run_id is None:
            return
        outcome = BatchOutcome(
            name,
            synced=loaded.synced,
            aliases=loaded.aliases,
            quarantined=quarantined,
            held=held,
            settled=prepared.unchanged,
        )
        if cursor is not None and cursor[1] is not None:
            outcome.cursor_entity, outcome.cursor = cursor
        self.state.commit(outcome, self.run_id)

    def _remember(self, name: str, prepared: Prepared) -> None:
        """Dry run: keep the keys later lookups may ask for (only of entities looked up)."""
        if (name, None) in self.looked_up:
            self.would_sync.setdefault((name, None), set()).update(r.key for r in prepared.ready)
        for ready in prepared.ready:
            for alias, value in ready.aliases:
                if (name, alias) in self.looked_up:
                    self.would_sync.setdefault((name, alias), set()).add(value)

    def _assumed(self, entity: str, via: str | None, key: str) -> bool:
        return key in self.would_sync.get((entity, via), ())

    def _parent_key(self, name: str, record: Any) -> str | None:
        entity = self.compiled.entities[name]
        return record_key(entity, entity.transform(record), record)

    def _retry_parked(
        self,
        name: str,
        stats: EntityStats,
        child: CompiledEntity | None,
        child_stats: EntityStats | None,
    ) -> None:
        tables = ["held", "quarantine"] if self.options.replay else ["held"]
        for table in tables:
            rows = self.state.parked(table, name)
            self._batch(name, [(r["record"], None, None) for r in rows], stats)
            if child is not None and child_stats is not None:
                rows = self.state.parked(table, child.entity.name)
                items: list[Item] = [
                    (r["record"], r["parent"], self._parent_key(name, r["parent"])) for r in rows
                ]
                self._batch(
                    child.entity.name,
                    items,
                    child_stats,
                    set(self.state.lookup(name, [i[2] for i in items if i[2]])),
                )

    def _requests(self) -> tuple[int, int]:
        if self.client is None:
            return (0, 0)
        snapshot = self.client.stats.snapshot()
        return (snapshot.sent, snapshot.rate_limited)


def source_entities(compiled: CompiledMapping, names: Iterable[str] = ()) -> list[str]:
    """The enabled top-level entities to extract, in dependency order (all when `names` is
    empty); asking for a child entity (variants) brings its parent along."""
    wanted = set(names)
    for name in list(wanted):
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


def _hold_orphans(prepared: Prepared, live_parents: set[str], entity: CompiledEntity) -> None:
    """Children whose parent is not in Loop are held back, never sent broken."""
    keep = []
    for ready in prepared.ready:
        if ready.parent_key in live_parents:
            keep.append(ready)
        else:
            reason = f"<{entity.entity.parent}:{ready.parent_key}> is not in Loop yet"
            prepared.held.append(Parked(ready.key, [reason], ready.record, ready.parent, "held"))
    prepared.ready = keep


def _raw_key(record: Any) -> str:
    if isinstance(record, dict) and record.get("id") is not None:
        return str(record["id"])
    return fallback_key(record)


def _chunks(records: list[Any], size: int) -> Iterable[list[Any]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk
