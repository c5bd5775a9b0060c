"""The backfill estimate: Loop requests per entity and hours at the target's rate, before a run.

The arithmetic (a backfill sends every record once; Loop has no batch endpoint for these):
one PUT per record of locations, customers, products, collections; one per variant (under its
product); one per inventory level (variants x locations); one per order, plus a second PUT for
the orders whose refunds reference the order's own lines (Loop's line ids are known only from
the first PUT's answer): REFUND_SHARE of them, an assumption. Record counts come from the
source (`Connector.count`: an http `count:` endpoint, a sql COUNT); where it cannot count, the
entity is "unknown" and left out of the total, which says so. A windowed entity is counted
through its backfill extract (the window's records, when the source filters them). Entities
`target.bulk` sends as bulk operations are still counted as single requests, and say so. A
`send: referenced` entity is sent only as far as the entities that look it up need it: at most
one request per record of theirs, however many records it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Connector, ExtractRequest
from engine.mapping.compile import CompiledMapping
from engine.mapping.graph import referrers
from engine.net import parse_rate
from engine.pipeline.run import source_entities
from engine.pipeline.window import WindowPlan, utc_now
from engine.state import State

# The share of orders sent twice for their refunds: the shopify-like demo's generator refunds
# 14 % of its closed orders, 70 % of all (9.8 %); the issue measured 9 % of order requests.
REFUND_SHARE = 0.098


@dataclass(frozen=True)
class Line:
    """One entity's share of the backfill: records, requests (None: unknown) and why."""

    entity: str
    records: int | None
    requests: int | None
    arithmetic: str


@dataclass
class Estimate:
    """The backfill's requests and hours at the target's rate."""

    rate: str
    lines: list[Line] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(line.requests or 0 for line in self.lines)

    @property
    def unknown(self) -> list[str]:
        return [line.entity for line in self.lines if line.requests is None]

    @property
    def hours(self) -> float | None:
        """At the configured rate; None when it is unlimited."""
        return self._hours(self.requests)

    def done_after(self) -> dict[str, float | None]:
        """Per entity, in run order: the hours at the configured rate until its last record is
        in Loop (what runs before it included, less what the source cannot count); None when
        the rate is unlimited or the entity cannot be counted."""
        out: dict[str, float | None] = {}
        sent = 0
        for line in self.lines:
            sent += line.requests or 0
            out[line.entity] = None if line.requests is None else self._hours(sent)
        return out

    def _hours(self, requests: int) -> float | None:
        per_second = parse_rate(self.rate).per_second
        return None if per_second == float("inf") else requests / per_second / 3600

    def as_dict(self) -> dict[str, Any]:
        hours = self.hours
        return {
            "rate": self.rate,
            "requests": self.requests,
            "hours": None if hours is None else round(hours, 2),
            "unknown": self.unknown,
            "entities": [
                {**line.__dict__, "done_after_hours": None if h is None else round(h, 2)}
                for line, h in zip(self.lines, self.done_after().values(), strict=True)
            ],
        }

    def text(self) -> list[str]:
        """The estimate as lines of text: a table, then the total."""
        out = [f"backfill estimate (Loop requests at {self.rate}; in Loop after, in run order):"]
        for line, hours in zip(self.lines, self.done_after().values(), strict=True):
            records = "?" if line.records is None else f"{line.records:,}"
            requests = "?" if line.requests is None else f"{line.requests:,}"
            after = "" if hours is None else f"{hours:,.2f} h"
            out.append(f"  {line.entity:<14} {records:>11} {requests:>11} {after:>10}  "
                       f"{line.arithmetic}")  # fmt: skip
        hours = self.hours
        when = "unlimited rate" if hours is None else f"{hours:,.2f} h"
        unknown = f" (+ unknown: {', '.join(self.unknown)})" if self.unknown else ""
        out.append(f"  {'total':<14} {'':>11} {self.requests:>11,}  {when}{unknown}")
        return out


def plan(
    compiled: CompiledMapping,
    counts: Mapping[str, int | None],
    names: Sequence[str] = (),
    refund_share: float = REFUND_SHARE,
) -> Estimate:
    """The estimate from record counts per entity (children included when known)."""
    estimate = Estimate(compiled.mapping.target.rate_limit)
    children = {
        e.entity.parent: e.entity.name for e in compiled.entities.values() if e.entity.parent
    }
    bulk = set((compiled.mapping.target.bulk or {}).get("entities") or ())
    for name in source_entities(compiled, names):
        lines = [_line(compiled, name, counts.get(name), refund_share)]
        child = children.get(name)
        if child is not None:
            records = counts.get(child)
            why = "1 per variant" if records is not None else "1 per variant (not counted)"
            lines.append(Line(child, records, records, why))
        estimate.lines += [_bulk(line) if line.entity in bulk else line for line in lines]
    return _referenced(compiled, estimate)


def _referenced(compiled: CompiledMapping, estimate: Estimate) -> Estimate:
    """A `send: referenced` entity's requests: at most the records that look it up."""
    by_name = {line.entity: line for line in estimate.lines}
    looked_up = referrers(e.entity for e in compiled.entities.values())
    for i, line in enumerate(estimate.lines):
        entity = compiled.entities[line.entity].entity
        if entity.send != "referenced" or line.records is None:
            continue
        lookers = sorted(looked_up.get(line.entity, ()))
        counted = [by_name[n].records for n in lookers if n in by_name]
        if not counted or any(c is None for c in counted):
            continue  # the lookers-up are not in this run or cannot be counted: all of them
        bound = min(line.records, sum(c or 0 for c in counted))
        why = f"at most 1 per {' or '.join(lookers)} record (send: referenced)"
        estimate.lines[i] = Line(line.entity, line.records, bound, why)
    return estimate


def _bulk(line: Line) -> Line:
    """An entity `target.bulk` sends as bulk operations: counted as single requests still
    (what Loop takes per operation is not documented), and said so."""
    return Line(line.entity, line.records, line.requests,
                f"{line.arithmetic}; as single requests (target.bulk sends it in bulk: fewer)")  # fmt: skip


def _line(compiled: CompiledMapping, name: str, records: int | None, share: float) -> Line:
    entity = compiled.entities[name].entity
    window = " in the window" if entity.window is not None else ""
    if records is None:
        return Line(name, None, None, "1 per record (the source cannot count)")
    if entity.kind.name == "order" and "refunds" in entity.map:
        extra = round(records * share)
        why = f"1 per order{window} + {share:.1%} refunds' second PUT (assumed)"
        return Line(name, records, records + extra, why)
    if entity.kind.name == "inventory":
        return Line(name, records, records, "1 per level (variants x locations)")
    return Line(name, records, records, f"1 per record{window}")


def count_records(
    compiled: CompiledMapping,
    connector: Connector,
    names: Sequence[str],
    now: dt.datetime | None = None,
) -> dict[str, int | None]:
    """The source's count of each entity's backfill (None where it cannot count); a windowed
    entity through its backfill extract."""
    out: dict[str, int | None] = {}
    base_dir: Path = compiled.mapping.base_dir
    for name in source_entities(compiled, names):
        entity = compiled.entities[name].entity
        extract = dict(entity.extract)
        if entity.window is not None:
            window = WindowPlan(entity.window, now or utc_now(), backfill=True)
            extract = window.backfill_extract(extract)
        out[name] = connector.count(ExtractRequest(name, extract, None, base_dir))
    return out


def first_run(state: State, compiled: CompiledMapping, names: Sequence[str]) -> list[str]:
    """The entities a run would backfill: no saved cursor and nothing synced yet."""
    cursors, counts = state.cursors(), state.counts()
    return [
        n
        for n in source_entities(compiled, names)
        if cursors.get(n) is None and not counts.get(n, {}).get("synced")
    ]


def before_run(
    compiled: CompiledMapping,
    state: State,
    connector: Connector,
    names: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> Estimate | None:
    """The estimate of what this run backfills (None when every entity has run before)."""
    new = first_run(state, compiled, names)
    if not new:
        return None
    return plan(compiled, count_records(compiled, connector, new, now), new)
