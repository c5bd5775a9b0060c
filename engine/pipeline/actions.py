"""Bucket III from the merchant's systems: `return_actions:` records sent as actions on returns.

A source is extracted like an entity (its connector, incremental cursor, pages), then each
batch goes: plan (the mapping's expressions) -> exactly once (the record's key in the ID map,
with a hash of what it asked) -> find the return (its Loop id, else the newest return of the
order found through the ID map, else by the order's name) -> act (Loop's return actions) ->
record (ID map, quarantine, held, cursor: one transaction).

A record Loop refuses, or that the mapping cannot read, is quarantined with the reason; one
whose return is not in Loop yet, or that Loop could not take now, is held back and tried again
on the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from connectors.base import Connector, ExtractRequest
from engine.errors import ConfigError, LoadError
from engine.loop.returns import ReturnActionError, Returns
from engine.mapping.compile import CompiledMapping
from engine.mapping.return_actions import CompiledReturnActions, PlannedAction
from engine.net.breaker import TargetDown
from engine.pipeline.prepare import fallback_key
from engine.state import BatchOutcome, Parked, ParkedTable, State, Synced
from engine.state.closes import record_close

Progress = Callable[[str, dict[str, int]], None]


def _hash(planned: PlannedAction) -> str:
    return hashlib.sha256(planned.fingerprint().encode()).hexdigest()[:32]


class ActionRunner:
    """Sends one mapping's return actions (None for Returns: a dry run, counting only)."""

    def __init__(
        self,
        compiled: CompiledMapping,
        state: State,
        connector: Connector,
        returns: Returns | None,
        run_id: int | None,
    ) -> None:
        self.compiled, self.state, self.connector = compiled, state, connector
        self.returns, self.run_id = returns, run_id

    def run(
        self, source: CompiledReturnActions, *, full_refresh: bool = False, limit: int | None = None
    ) -> dict[str, int]:
        """Held records first, then the source from its cursor; counts by outcome."""
        counts = {"extracted": 0, "sent": 0, "unchanged": 0, "quarantined": 0, "held": 0}
        held = [r["record"] for r in self.state.parked(ParkedTable.HELD, source.name)]
        if held:
            self._batch(source, held, None, counts)
        for records, cursor in self._pages(source, full_refresh, limit):
            counts["extracted"] += len(records)
            self._batch(source, records, cursor, counts)
        return counts

    def _pages(
        self, source: CompiledReturnActions, full_refresh: bool, limit: int | None
    ) -> Iterator[tuple[list[Any], str | None]]:
        cursor = None if full_refresh else self.state.cursor(source.name)
        base = self.compiled.mapping.base_dir
        request = ExtractRequest(source.name, source.source.extract, cursor, base, limit)
        for page in self.connector.extract(request):
            yield page.records, page.cursor

    def _batch(
        self,
        source: CompiledReturnActions,
        records: list[Any],
        cursor: str | None,
        counts: dict[str, int],
    ) -> None:
        outcome = BatchOutcome(source.name, cursor=cursor)
        planned = [(record, source.plan(record)) for record in records]
        keys = [p.key for _, p in planned if p.key is not None]
        known = self.state.lookup(source.name, keys)
        for record, plan in planned:
            self._one(source, record, plan, known, outcome)
        counts["sent"] += len(outcome.synced)
        counts["unchanged"] += len(outcome.settled)
        counts["quarantined"] += len(outcome.quarantined)
        counts["held"] += len(outcome.held)
        if self.run_id is not None:
            self.state.commit(outcome, self.run_id)

    def _one(
        self,
        source: CompiledReturnActions,
        record: Any,
        plan: PlannedAction,
        known: dict[str, Any],
        outcome: BatchOutcome,
    ) -> None:
        key = plan.key or fallback_key(record)
        if plan.issues:
            outcome.quarantined.append(Parked(key, plan.issues, record, None, "transform"))
            return
        digest = _hash(plan)
        if plan.action is None or (key in known and known[key][1] == digest):
            outcome.settled.append(key)
            return
        try:
            return_id = self._return_id(source, plan)
            if return_id is None:
                reason = "no return in Loop yet for " + _which(plan)
                outcome.held.append(Parked(key, [reason], record, None, "held"))
                return
            self._act(plan, return_id)
        except ReturnActionError as exc:
            outcome.quarantined.append(
                Parked(key, [f"Loop refused it: {exc}"], record, None, "load")
            )
            return
        except ConfigError as exc:  # what Loop would refuse: a note too long, an id not a number
            outcome.quarantined.append(Parked(key, [str(exc)], record, None, "transform"))
            return
        except (LoadError, TargetDown) as exc:
            reason = f"Loop did not take it yet ({type(exc).__name__}: {exc})"
            outcome.held.append(Parked(key, [reason], record, None, "held"))
            return
        outcome.synced.append(Synced(key, int(return_id) if return_id.isdigit() else 0, digest))

    def _return_id(self, source: CompiledReturnActions, plan: PlannedAction) -> str | None:
        if plan.return_id:
            return plan.return_id
        if self.returns is None:  # a dry run: what the order would give is not looked up
            return "0"
        if plan.order:
            found = self.state.lookup(source.source.orders_entity, [plan.order]).get(plan.order)
            if found is not None:
                record = self.returns.find(order_id=str(found[0]))
                if record is not None:
                    return record.id
        if plan.order_name:
            record = self.returns.find(order_name=plan.order_name)
            return record.id if record is not None else None
        return None

    def _act(self, plan: PlannedAction, return_id: str) -> None:
        returns = self.returns
        if returns is None:
            return  # a dry run sends nothing
        action = plan.action
        if action == "process":
            returns.process(return_id, plan.details or None)
        elif action == "flag":
            returns.flag(return_id)
            if plan.note:
                returns.note(return_id, plan.note)
        elif action == "note":
            returns.note(return_id, plan.note or "")
        elif action == "remove":
            returns.remove(return_id, plan.lines)
        elif action == "close":
            record_close(self.state.path, return_id)  # its return.closed runs no outcome
            returns.close(return_id)
        else:
            returns.cancel(return_id)


def _which(plan: PlannedAction) -> str:
    if plan.return_id:
        return f"return {plan.return_id}"
    if plan.order:
        return f"the order with external id {plan.order}"
    return f"the order named {plan.order_name}"
