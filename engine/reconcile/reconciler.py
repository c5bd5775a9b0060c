"""The reconciliation itself: the platform, the ID map and Loop compared, entity by entity.

Per entity, in dependency order:
1. Loop: every record of the kind, listed through its API and keyed by external_id
   (variants per product, inventories by their (variant, location) Loop id pair).
2. The platform: every record extracted again (cursors ignored), mapped and resolved against
   the ID map by the pipeline's own Preparer, page by page, each payload compared with Loop's
   record: `missing` (not in Loop), `drifted` (Loop's stored fields differ), `matching`.
   Records the mapping cannot make a payload for now are `unmappable`.
   Records outside the entity's `window:` that Loop lacks and the ID map never had are only
   counted (`outside_window`): the window left them out on purpose. So are the records of a
   `send: referenced` entity in the same case (`deferred`): sent once a lookup needs them.
3. Then `extra` (in Loop, not on the platform: reported, never deleted; those the mapping's
   `reconcile.expected_extras` expects are `expected_extra`, listed but not a difference) and
   `stale_id_map` (rows whose Loop id is not Loop's id for that external_id, or that point at
   nothing).

With --fix, missing and drifted records go through the same Loader as `etl run` (the ID map and
payload hashes updated in the same commit), and stale rows take Loop's id (or are dropped when
the record is gone from both sides). Stale rows are repaired before the next entity is mapped,
so its references resolve to the right Loop ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jmespath

from connectors.base import Connector, ExtractRequest
from engine.context import open_context
from engine.loop.api import LoopAPI
from engine.mapping.compile import CompiledEntity, CompiledMapping
from engine.mapping.functions import make_options
from engine.pipeline.batch import BatchSync
from engine.pipeline.prepare import PrepareOptions, Preparer, Ready, record_key
from engine.pipeline.run import source_entities
from engine.pipeline.window import WindowPlan, utc_now
from engine.reconcile.compare import (
    MAX_FIELDS,
    Body,
    EntityReport,
    ReconcileReport,
    by_external_id,
    differences,
    inventory_label,
    inventory_pair,
)
from engine.state import BatchOutcome, State, Synced

Item = tuple[Any, Any, str | None]  # record, parent record, parent key
LoopKey = str | tuple[int, int]  # external_id, or an inventory's (variant id, location id)


@dataclass
class ReconcileOptions:
    entities: tuple[str, ...] = ()
    fix: bool = False
    batch_size: int = 500
    now: datetime | None = None  # the clock of `window:` (None: now); tests move it


@dataclass
class _Side:
    """One entity being reconciled: Loop's records, the keys seen on the platform."""

    compiled: CompiledEntity
    report: EntityReport
    loop: dict[LoopKey, Body]
    parent: _Side | None = None
    seen: set[LoopKey] = field(default_factory=set)
    live: set[str] = field(default_factory=set)  # keys in Loop (after fixing, if --fix)
    keys: set[int] = field(default_factory=set)  # hashes of the platform keys met
    window: WindowPlan | None = None  # the entity's `window:`, measured from the run's now

    @property
    def name(self) -> str:
        return self.compiled.entity.name

    @property
    def by_pair(self) -> bool:
        return bool(self.compiled.entity.kind.path_keys)


def reconcile(
    compiled: CompiledMapping, options: ReconcileOptions, state_path: Path
) -> ReconcileReport:
    """Reconcile a compiled mapping with its services (embedded ones started as for a run)."""
    with open_context(compiled.mapping, state_path) as ctx:
        assert ctx.loop is not None
        return Reconciler(compiled, ctx.state, ctx.connector, ctx.loop, options).run()


class Reconciler:
    """One reconciliation of one mapping, through a Loop client."""

    def __init__(
        self,
        compiled: CompiledMapping,
        state: State,
        connector: Connector,
        client: LoopAPI,
        options: ReconcileOptions,
    ) -> None:
        self.compiled, self.state, self.connector = compiled, state, connector
        self.client, self.options = client, options
        self.children = {e.entity.parent: e for e in compiled.entities.values() if e.entity.parent}
        self.run_id: int | None = None
        self.batches: BatchSync | None = None
        self.options_jmespath = make_options(compiled.mapping.timezone)

    def run(self) -> ReconcileReport:
        report = ReconcileReport(fix=self.options.fix)
        if not self.options.fix:  # only compares: writes nothing, not even a run row
            self._entities(report)
            return report
        with self.state.run("reconcile") as run:
            self.run_id = report.run_id = run.run_id
            run.summary = report
            self.batches = BatchSync(self.compiled, self.state, self.client, self.run_id)
            self._entities(report)
            run.status = "parked" if report.remaining else "ok"
        return report

    def _entities(self, report: ReconcileReport) -> None:
        for name in source_entities(self.compiled, self.options.entities):
            report.entities += self._entity(name)

    # -- one entity (and its children) ------------------------------------------------------
    def _entity(self, name: str) -> list[EntityReport]:
        side = self._side(self.compiled.entities[name], None)
        if side.report.skipped:
            return [side.report]
        child = self.children.get(name)
        child_side = self._side(child, side) if child is not None else None
        for records in self._pages(name):
            self._batch(side, [(r, None, None) for r in records])
            if child_side is not None:
                items: list[Item] = [
                    (item, r, key)
                    for r in records
                    if (key := self._key(side.compiled, r)) is not None
                    for item in child_side.compiled.items(r)
                ]
                self._batch(child_side, items)
        sides = [side] + ([child_side] if child_side is not None else [])
        for each in sides:
            self._finish(each)
        return [each.report for each in sides]

    def _side(self, compiled: CompiledEntity, parent: _Side | None) -> _Side:
        kind = compiled.entity.kind
        report = EntityReport(compiled.entity.name, kind.name)
        loop: dict[LoopKey, Body] = {}
        if kind.listing == "per_parent":
            parents = parent.loop.values() if parent else self.client.list_all(kind.parent or "")
            loop.update(by_external_id(self._children(kind.name, parents)))
        elif kind.listing == "pairs":
            loop = {
                pair: body
                for body in self.client.list_all(kind.name)
                if (pair := inventory_pair(body)) is not None
            }
        else:
            loop.update(by_external_id(self.client.list_all(kind.name)))
        report.loop = len(loop)
        side = _Side(compiled, report, loop, parent)
        window = compiled.entity.window
        if window is not None:
            side.window = WindowPlan(window, self.options.now or utc_now(), backfill=False)
        side.live = {k for k in loop if isinstance(k, str)}
        return side

    def _children(self, kind: str, parents: Iterable[Body]) -> Iterator[Body]:
        """Loop lists a child kind per parent: one listing per Loop parent record."""
        for parent in parents:
            yield from self.client.list_children(kind, int(parent["id"]))

    def _pages(self, name: str) -> Iterator[list[Any]]:
        """Every record of the entity, cursors ignored, in batches."""
        entity = self.compiled.entities[name].entity
        request = ExtractRequest(name, entity.extract, None, self.compiled.mapping.base_dir)
        size = self.options.batch_size
        for page in self.connector.extract(request):
            for start in range(0, len(page.records), size):
                yield page.records[start : start + size]

    def _key(self, compiled: CompiledEntity, record: Any) -> str | None:
        return record_key(compiled, compiled.transform(record), record)

    # -- one batch: compare, then fix -------------------------------------------------------
    def _batch(self, side: _Side, items: list[Item]) -> None:
        if not items:
            return
        options = PrepareOptions(every=True, seen=side.keys)
        prepared = Preparer(side.compiled, self.state, options).prepare(items)
        report = side.report
        report.platform += len(items)
        for parked in prepared.quarantined + prepared.held:
            side.seen.add(parked.key)
            report.unmappable[parked.key] = list(parked.reasons)
        to_fix, missing = [], set()
        outside, deferred = self._left_out(side, prepared.ready)
        for ready in prepared.ready:
            loop_key = self._loop_key(side, ready)
            side.seen.add(loop_key)
            stored = side.loop.get(loop_key)
            if stored is None and ready.key in outside:
                report.outside_window += 1
                continue
            if stored is None and ready.key in deferred:
                report.deferred += 1
                continue
            if stored is None:
                report.missing.append(ready.key)
                missing.add(ready.key)
                to_fix.append(ready)
                continue
            found = differences(self._compared(side, ready.payload), stored)
            if found:
                report.drifted[ready.key] = found[:MAX_FIELDS] + (
                    [f"... and {len(found) - MAX_FIELDS} more"] if len(found) > MAX_FIELDS else []
                )
                to_fix.append(ready)
            else:
                report.matching += 1
        if self.options.fix and to_fix:
            self._fix(side, to_fix, missing)

    def _left_out(self, side: _Side, batch: list[Ready]) -> tuple[set[str], set[str]]:
        """Keys of the records Loop lacks and the ID map never had that `etl run` leaves out
        on purpose: (outside the entity's `window:`, deferred by `send: referenced`)."""
        plan, deferring = side.window, side.compiled.entity.send == "referenced"
        if plan is None and not deferring:
            return set(), set()
        absent = [r for r in batch if self._loop_key(side, r) not in side.loop]
        known = self.state.lookup(side.name, [r.key for r in absent]) if absent else {}
        never = [r for r in absent if r.key not in known]
        outside = {r.key for r in never if plan is not None and not plan.inside(r.record)}
        return outside, ({r.key for r in never} - outside if deferring else set())

    def _loop_key(self, side: _Side, ready: Ready) -> LoopKey:
        if side.by_pair:
            keys = side.compiled.entity.kind.path_keys
            return int(ready.payload[keys[0]]), int(ready.payload[keys[1]])
        return ready.key

    def _compared(self, side: _Side, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload's fields Loop stores (an inventory's URL keys are its identity)."""
        keys = side.compiled.entity.kind.path_keys
        return {k: v for k, v in payload.items() if k not in keys}

    def _fix(self, side: _Side, batch: list[Ready], missing: set[str]) -> None:
        """Push missing and drifted records through the pipeline's batch, as `etl run` does;
        a child only when its parent is in Loop (never sent broken)."""
        assert self.batches is not None
        items = [(r.record, r.parent, r.parent_key) for r in batch]
        result = self.batches.sync(
            side.name,
            items,
            live_parents=side.parent.live if side.parent is not None else None,
            unique=False,
            resend={r.key for r in batch},
            lost=missing,
        )
        for key in result.synced:
            category = "missing" if key in missing else "drifted"
            side.report.fixed.setdefault(category, []).append(key)
        side.live.update(result.synced)
        for parked in result.quarantined + result.held:
            side.report.failed[parked.key] = list(parked.reasons)

    # -- after the platform: extra records, stale ID map rows -------------------------------
    def _finish(self, side: _Side) -> None:
        report = side.report
        for key, body in side.loop.items():
            if key in side.seen:
                continue
            label = inventory_label(body) if side.by_pair else str(key)
            expected = self._expected_extra(side.name, body)
            (report.expected_extra if expected else report.extra).append(label)
        report.extra.sort()
        report.expected_extra.sort()
        id_map = self.state.id_map(side.name)
        report.id_map = len(id_map)
        if side.by_pair:
            return  # inventories have no Loop id of their own: nothing in the map to go stale
        missing = set(report.missing)
        for key, loop_id in sorted(id_map.items()):
            stored = side.loop.get(key)
            if stored is not None and int(stored["id"]) != loop_id:
                report.stale_id_map[key] = (
                    f"the ID map says {loop_id}, Loop's record with "
                    f"this external_id is {stored['id']}"
                )
            elif stored is None and key not in missing and key not in side.seen:
                report.stale_id_map[key] = (
                    f"the ID map says {loop_id}: Loop has no such "
                    "record, and the platform no longer has it"
                )
        if self.options.fix and report.stale_id_map:
            self._repair(side)

    def _expected_extra(self, name: str, body: Body) -> bool:
        """Whether the mapping's `reconcile.expected_extras` expects this record of Loop's."""
        expected = self.compiled.mapping.expected_extras
        if name not in expected:
            return False
        expression = expected[name]
        if expression is None:
            return True
        return bool(jmespath.search(expression, body, options=self.options_jmespath))

    def _repair(self, side: _Side) -> None:
        """Stale rows take Loop's id (keeping their hash and extra); rows for records gone from
        both sides are dropped."""
        stale = side.report.stale_id_map
        known = self.state.lookup(side.name, list(stale))
        synced = [
            Synced(key, int(side.loop[key]["id"]), known[key][1] or "")
            for key in stale
            if key in side.loop and key in known
        ]
        gone = [key for key in stale if key not in side.loop]
        assert self.run_id is not None
        if synced:
            self.state.commit(BatchOutcome(side.name, synced=synced), self.run_id)
        if gone:
            with self.state.transaction() as db:
                for table in ("id_aliases", "id_map"):
                    db.execute(
                        f"DELETE FROM {table} WHERE entity = ? AND key IN (SELECT unnest(?))",
                        [side.name, gone],
                    )
        side.report.fixed["stale_id_map"] = [s.key for s in synced] + gone
