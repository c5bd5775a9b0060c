"""The pipeline's unit of work: sync one batch of records of one entity into Loop.

    prepare (map, resolve lookups, validate, diff) -> load (or, in a dry run, count)
    -> record (ID map, parked rows and the cursor in one transaction)

`etl run` drives it page by page; reconcile --fix, platform webhooks and outcome sync-back call
it with the records they have. `sync_records` does a top-level entity's records and then their
children (variants under their products), as a page of `etl run` does.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jmespath

from engine.loop.api import LoopAPI
from engine.mapping.compile import CompiledEntity, CompiledMapping
from engine.mapping.graph import lookups_in
from engine.pipeline.bulk import BulkSettings
from engine.pipeline.load import Loaded, Loader
from engine.pipeline.prepare import (
    STAND_IN_ID,
    Prepared,
    PrepareOptions,
    Preparer,
    record_aliases,
)
from engine.state import BatchOutcome, Parked, State

Item = tuple[Any, Any, str | None]  # record, parent record, parent key


@dataclass
class BatchResult:
    """What one batch did: counts for the summary, and the keys now in Loop."""

    entity: str
    items: int = 0  # records given
    unchanged: int = 0
    created: int = 0
    updated: int = 0
    requests: int = 0
    rate_limited: int = 0
    synced: list[str] = field(default_factory=list)
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)
    deferred: list[Parked] = field(default_factory=list)  # `send: referenced`: kept, not sent
    live: set[str] = field(default_factory=set)  # in Loop now (a dry run: would be)
    keys: dict[int, str] = field(default_factory=dict)  # id(source record) -> its key


class DryRun:
    """Stands in for the loader in a dry run: counts what would be sent and remembers the keys
    later entities' lookups ask for, so that their references resolve as they would."""

    def __init__(self, compiled: CompiledMapping) -> None:
        self.looked_up = {
            (spec["lookup"], spec.get("via"))
            for e in compiled.entities.values()
            for _, spec in lookups_in(e.entity.map, ())
        }
        self.would_sync: dict[tuple[str, str | None], set[str]] = {}
        self.deferred: dict[str, set[str]] = {}  # entity -> keys this dry run deferred
        # (entity, alias) -> alias key -> key, of the records this dry run deferred
        self.deferred_aliases: dict[tuple[str, str], dict[str, str]] = {}
        # entity -> (alias, alias key) -> key: the state's index, rebuilt here when it was stale
        self.stored_aliases: dict[str, dict[tuple[str, str], str]] = {}

    def assumed(self, entity: str, via: str | None, key: str) -> bool:
        return key in self.would_sync.get((entity, via), ())

    def deferred_keys(self, entity: str, via: str | None, asked: list[str]) -> dict[str, str]:
        """Asked key (or alias key, `via`) -> key, of the records this dry run deferred."""
        if via is None:
            return {k: k for k in self.deferred.get(entity, set()).intersection(asked)}
        index = self.deferred_aliases.get((entity, via), {})
        return {a: index[a] for a in asked if a in index}

    def stored_by_alias(self, entity: str, via: str, asked: list[str]) -> dict[str, str] | None:
        """The state's deferred keys by alias, when this dry run rebuilt its stale index (None:
        the state's own index is current)."""
        index = self.stored_aliases.get(entity)
        if index is None:
            return None
        return {a: index[(via, a)] for a in asked if (via, a) in index}

    def pull(self, entity: str, via: str | None, found: dict[str, str]) -> BatchResult:
        """Deferred records a lookup needs (asked key -> key): counted as created once, and
        resolved from now on."""
        keys = set(found.values())
        sent = self.would_sync.setdefault((entity, None), set())
        new = keys - sent
        self.deferred.get(entity, set()).difference_update(keys)
        sent.update(keys)
        if via is not None:
            self.would_sync.setdefault((entity, via), set()).update(found)
        return BatchResult(entity, items=len(new), created=len(new), live=new)

    def load(self, name: str, prepared: Prepared) -> Loaded:
        loaded = Loaded()
        loaded.created = sum(1 for r in prepared.ready if r.known is None)
        loaded.updated = len(prepared.ready) - loaded.created
        self.deferred.setdefault(name, set()).update(p.key for p in prepared.deferred)
        for parked in prepared.deferred:
            for alias, value in parked.aliases:
                self.deferred_aliases.setdefault((name, alias), {})[value] = parked.key
        if (name, None) in self.looked_up:
            self.would_sync.setdefault((name, None), set()).update(r.key for r in prepared.ready)
        pairs = [(a, v) for r in prepared.ready for a, v in r.aliases]
        pairs += [(a, v) for a, v, _ in prepared.unchanged_aliases]  # a run would record them
        for alias, value in pairs:
            if (name, alias) in self.looked_up:
                self.would_sync.setdefault((name, alias), set()).add(value)
        return loaded


class BatchSync:
    """Syncs batches of a compiled mapping's entities through one Loop client (None: a dry
    run, which sends nothing and writes no state) within one run of the state."""

    def __init__(
        self, compiled: CompiledMapping, state: State, loop: LoopAPI | None, run_id: int | None
    ) -> None:
        self.compiled, self.state, self.loop, self.run_id = compiled, state, loop, run_id
        self.dry = DryRun(compiled) if loop is None else None
        self.children = {e.entity.parent: e for e in compiled.entities.values() if e.entity.parent}
        self.seen: dict[str, set[int]] = {}  # entity -> hashes of the keys met in this run
        self.bulk = BulkSettings.of(compiled.mapping.target)  # None: every write on its own
        self.deferring = frozenset(
            name for name, e in compiled.entities.items() if e.entity.send == "referenced"
        )
        self.pulled: list[BatchResult] = []  # deferred records sent for a lookup, not yet counted
        self._index_deferred_aliases()

    def _index_deferred_aliases(self) -> None:
        """Rebuild a deferring entity's alias index when the mapping's `aliases:` are not the
        ones it was built with (changed, or a state from before version 6), so that a lookup
        by alias finds every deferred record. A dry run keeps it in memory, writing nothing."""
        for name in sorted(self.deferring):
            aliases = self.compiled.entities[name].entity.aliases
            spec = json.dumps(aliases, sort_keys=True)
            if self.state.deferred_alias_spec(name) == spec:
                continue
            exprs = {alias: jmespath.compile(expr) for alias, expr in aliases.items()}
            named = self.state.deferred_alias_index(name, partial(record_aliases, exprs))
            if self.dry is None:
                self.state.reindex_deferred_aliases(name, spec, named)
            else:
                self.dry.stored_aliases[name] = named

    def sync(
        self,
        name: str,
        items: list[Item],
        *,
        live_parents: Collection[str] | None = None,
        cursor: tuple[str, str | None] | None = None,
        unique: bool = True,
        resend: Collection[str] = (),
        lost: Collection[str] = (),
        pulled: bool = False,
    ) -> BatchResult:
        """Prepare, load and record one batch of `name`, and move `cursor` (entity, value) in
        the same transaction. `live_parents`: a child whose parent key is not among them is
        held back. `unique`: a key met twice in this run quarantines its records (parked
        records retried are not counted). `resend` / `lost`: see PrepareOptions. `pulled`:
        deferred records a lookup needs, sent now (`send: referenced`)."""
        result = BatchResult(name, items=len(items))
        if not items:
            self._record(name, Prepared(), Loaded(), cursor)
            return result
        entity = self.compiled.entities[name]
        options = PrepareOptions(
            assume=self.dry.assumed if self.dry else None,
            seen=self.seen.setdefault(name, set()) if unique else None,
            resend=frozenset(resend),
            lost=frozenset(lost),
            defer=name in self.deferring and not pulled,
            deferring=self.deferring,
            pull=self._pull if self.deferring else None,
        )
        prepared = Preparer(entity, self.state, options).prepare(items)
        if live_parents is not None:
            _hold_orphans(prepared, live_parents, entity)
        loaded = self._load(name, entity, prepared, result)
        self._record(name, prepared, loaded, cursor)
        return self._result(result, prepared, loaded)

    def _pull(self, entity: str, via: str | None, asked: list[str]) -> dict[str, int]:
        """Send the deferred records a lookup asks for (`asked`: keys, or alias keys `via` an
        alias) and answer the Loop ids of those now in Loop; their results wait in `pulled`
        for the run's summary."""
        if self.dry is not None:
            return self._dry_pull(self.dry, entity, via, asked)
        keys = asked
        if via is not None:
            keys = sorted(set(self.state.deferred_by_alias(entity, via, asked).values()))
        rows = self.state.deferred_rows(entity, keys)
        if not rows:
            return {}
        items: list[Item] = [(record, parent, None) for _, record, parent in rows]
        self.pulled.append(self.sync(entity, items, unique=False, pulled=True))
        if via is not None:
            return self.state.lookup_alias(entity, via, asked)
        return {k: v[0] for k, v in self.state.lookup(entity, asked).items()}

    def _dry_pull(
        self, dry: DryRun, entity: str, via: str | None, asked: list[str]
    ) -> dict[str, int]:
        """A dry run's pull: the deferred records asked for, in the state or deferred by this
        dry run, counted as created and resolved to stand-ins."""
        if via is None:
            stored = {k: k for k, _, _ in self.state.deferred_rows(entity, asked)}
        elif (rebuilt := dry.stored_by_alias(entity, via, asked)) is not None:
            stored = rebuilt
        else:
            stored = self.state.deferred_by_alias(entity, via, asked)
        found = stored | dry.deferred_keys(entity, via, asked)
        if found:
            self.pulled.append(dry.pull(entity, via, found))
        return dict.fromkeys(found, STAND_IN_ID)

    def _result(self, result: BatchResult, prepared: Prepared, loaded: Loaded) -> BatchResult:
        result.unchanged = len(prepared.unchanged)
        result.created, result.updated = loaded.created, loaded.updated
        result.synced = [s.key for s in loaded.synced]
        result.quarantined = prepared.quarantined + loaded.quarantined
        result.held = prepared.held + loaded.held
        result.deferred = prepared.deferred
        result.live = set(prepared.unchanged) | set(result.synced)
        if self.dry is not None:
            result.live |= {r.key for r in prepared.ready}
        result.keys = prepared.keys
        return result

    def sync_records(
        self, name: str, records: list[Any], cursor: str | None = None, *, unique: bool = True
    ) -> list[BatchResult]:
        """A top-level entity's records, then their children (if the entity has any); the
        cursor moves with the last of them."""
        child = self.children.get(name)
        has_children = child is not None and bool(records)
        items: list[Item] = [(r, None, None) for r in records]
        entity = self.compiled.entities[name]
        if entity.entity.fan_out is not None:  # the items of each record, with it as parent
            items = [(item, r, None) for r in records for item in entity.items(r)]
        parent_cursor = (name, None if has_children else cursor)
        parents = self.sync(name, items, cursor=parent_cursor, unique=unique)
        if child is None or not has_children:
            return [parents]
        child_items: list[Item] = [
            (item, r, key)
            for r in records
            if (key := parents.keys.get(id(r))) is not None
            for item in child.items(r)
        ]
        children = self.sync(
            child.entity.name,
            child_items,
            live_parents=parents.live,
            cursor=(name, cursor),
            unique=unique,
        )
        return [parents, children]

    def _load(
        self, name: str, entity: CompiledEntity, prepared: Prepared, result: BatchResult
    ) -> Loaded:
        if self.dry is not None:
            return self.dry.load(name, prepared)
        if not prepared.ready or self.loop is None:
            return Loaded()
        before = self.loop.stats.snapshot()
        bulk = self.bulk.min_batch if self.bulk and name in self.bulk.entities else None
        loaded = Loader(self.loop, entity.entity.kind, bulk).load(prepared.ready)
        after = self.loop.stats.snapshot()
        result.requests = after.sent - before.sent
        result.rate_limited = after.rate_limited - before.rate_limited
        return loaded

    def _record(
        self,
        name: str,
        prepared: Prepared,
        loaded: Loaded,
        cursor: tuple[str, str | None] | None,
    ) -> None:
        if self.run_id is None:
            return
        outcome = BatchOutcome(
            name,
            synced=loaded.synced,
            aliases=loaded.aliases,
            unchanged_aliases=prepared.unchanged_aliases,
            quarantined=prepared.quarantined + loaded.quarantined,
            held=prepared.held + loaded.held,
            settled=prepared.unchanged,
            deferred=prepared.deferred,
        )
        if cursor is not None and cursor[1] is not None:
            outcome.cursor_entity, outcome.cursor = cursor
        elif not (
            outcome.synced
            or outcome.quarantined
            or outcome.held
            or outcome.settled
            or outcome.deferred
        ):
            return  # nothing to write
        self.state.commit(outcome, self.run_id)


def _hold_orphans(
    prepared: Prepared, live_parents: Collection[str], entity: CompiledEntity
) -> None:
    """Children whose parent is not in Loop are held back, never sent broken."""
    keep = []
    for ready in prepared.ready:
        if ready.parent_key in live_parents:
            keep.append(ready)
        else:
            reason = f"<{entity.entity.parent}:{ready.parent_key}> is not in Loop yet"
            prepared.held.append(Parked(ready.key, [reason], ready.record, ready.parent, "held"))
    prepared.ready = keep
