"""Bucket IV's executor: a Loop event -> the mapping's outcomes that apply, each run once per
return through the outbox (engine/state/outbox.py), then the touched entities synced back.

`on_event` claims a run per (return, outcome) with its context, then `execute` runs the steps
in order: a confirmed step is skipped (its kept values feed later steps), a step found `sent`
is looked up or resent with its idempotency key (engine/outcomes/steps.py), a refusal fails
the step and stops the run for that return. A step whose result is unknown raises
`OutcomeDeferred`: the inbox event fails and is tried again later, and the run resumes where
it stopped. After the last step the outcome's `sync:` entities are synced through the pipeline
(an incremental run of those entities: the platform's changed records carry a new
`updated_at`), and the run is marked synced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError, RecordError
from engine.loop.api import LoopAPI
from engine.mapping.compiled import CompiledMapping
from engine.mapping.outcomes import CompiledOutcome
from engine.net.breaker import TargetDown
from engine.outcomes.context import build_context
from engine.outcomes.steps import Platform, Refused, Unknown, run_step
from engine.state import State
from engine.state.closes import was_closed
from engine.state.inbox import return_id
from engine.state.outbox import CONFIRMED, DONE, FAILED, RUNNING, SENT, StepRow

log = logging.getLogger(__name__)

SyncBack = Callable[[tuple[str, ...]], None]
OnStep = Callable[[str, str], None]  # (outcome, result: confirmed | failed | deferred)


class OutcomeDeferred(EngineError):
    """A step's result is unknown or the platform is down: the event is tried again later."""


@dataclass
class OutcomeResult:
    return_id: str
    outcome: str
    status: str  # done | failed | running (deferred) | skipped (claimed before)
    reason: str | None = None


class Executor:
    """Runs a mapping's outcomes against one platform, recording every step in the outbox."""

    def __init__(
        self,
        compiled: CompiledMapping,
        state: State,
        platform: Platform,
        sync: SyncBack | None = None,
        on_step: OnStep | None = None,
        loop: LoopAPI | None = None,
    ) -> None:
        self.compiled, self.state, self.platform, self.loop = compiled, state, platform, loop
        self.sync = sync
        self.on_step = on_step or (lambda outcome, result: None)
        self.by_name = {o.name: o for o in compiled.outcomes}
        # Loop's own order costs a request per return: only fetched when an outcome reads it
        written = json.dumps([(o.outcome.when, [s.spec for s in o.outcome.steps])
                              for o in compiled.outcomes])  # fmt: skip
        self.loop_order = loop if "order.loop" in written else None

    def on_event(self, event: dict[str, Any], event_key: str | None = None) -> list[OutcomeResult]:
        """Claim and run every outcome the event triggers. Raises OutcomeDeferred when a step
        must be tried again later (what is done stays done)."""
        topic = event.get("topic") if isinstance(event.get("topic"), str) else None
        rid, trigger = return_id(topic, event), event.get("trigger")
        wanted = [o for o in self.compiled.outcomes if trigger in o.outcome.triggers]
        if rid is None or not wanted:
            return []
        if trigger == "return.closed" and was_closed(self.state.path, rid):
            return []  # closed without processing: no outcome is due
        context = build_context(event, self.state, self.compiled.mapping, self.loop_order)
        results = []
        for outcome in wanted:
            result = self._claim(outcome, rid, str(trigger), context, event_key)
            if result is None:
                results.append(self.execute(rid, outcome.name))
            elif result.status != "not due":
                results.append(result)
        return results

    def _claim(
        self,
        outcome: CompiledOutcome,
        rid: str,
        trigger: str,
        context: dict[str, Any],
        event_key: str | None,
    ) -> OutcomeResult | None:
        """None when the run is claimed now or was before and is still to do."""
        problem = None
        try:
            due = outcome.matches(trigger, context)
        except RecordError as exc:  # recorded as a failed run, visible in `etl outbox list`
            log.warning("return %s: outcome %s: %s", rid, outcome.name, exc)
            due, problem = True, str(exc)
        if not due:
            return OutcomeResult(rid, outcome.name, "not due")
        rows: list[tuple[str, int | None, str]] = []
        for step in outcome.steps:
            try:
                items = None if problem else step.items(context)
            except RecordError:
                items = None  # one row, which fails with the reason when it runs
            indexes: list[int | None] = [None] if items is None else list(range(len(items)))
            rows += [(step.name, index, step.kind) for index in indexes]
        claimed = self.state.outbox.claim(rid, outcome.name, rows, context, trigger, event_key)
        if claimed and problem is not None:
            first = self.state.outbox.steps(rid, outcome.name)[0]
            self.state.outbox.fail(first.id, f"when: {problem}")
            self.on_step(outcome.name, FAILED)
        return None

    def execute(self, rid: str, name: str) -> OutcomeResult:
        """Run (or resume) one claimed run; sync back once it is done."""
        outbox = self.state.outbox
        run = outbox.run(rid, name)
        outcome = self.by_name.get(name)
        if run is None or outcome is None:
            return OutcomeResult(rid, name, "skipped", "no such run or outcome")
        if run.status == FAILED:
            return OutcomeResult(rid, name, FAILED, run.reason)
        if run.status == RUNNING:
            failed = self._steps(outcome, run.context, outbox.steps(rid, name))
            if failed is not None:
                outbox.finish(rid, name, FAILED, failed)
                return OutcomeResult(rid, name, FAILED, failed)
            outbox.finish(rid, name, DONE, None)
        if run.synced_at is None:
            self._sync_back(outcome)
            outbox.synced(rid, name)
        return OutcomeResult(rid, name, DONE)

    def _steps(
        self, outcome: CompiledOutcome, context: dict[str, Any], rows: list[StepRow]
    ) -> str | None:
        """Run the steps not confirmed yet, in order: the first failure's reason, or None."""
        context = {**context, "steps": {}}
        steps = {step.name: step for step in outcome.steps}
        for row in rows:
            step = steps.get(row.step)
            if step is None:  # the mapping changed since the run was claimed
                reason = "the mapping no longer has this step"
                self.state.outbox.fail(row.id, reason)
                return f"step {row.step}: {reason}"
            if row.status == FAILED:
                return f"step {row.step}: {row.reason}"
            try:
                scope = (
                    context if row.item is None else {**context, "item": _item(step, context, row)}
                )
            except RecordError as exc:
                self.state.outbox.fail(row.id, str(exc))
                return f"step {row.step}: {exc}"
            if row.status != CONFIRMED:
                row = self._step(outcome, step, scope, row)
                if row.status == FAILED:
                    return f"step {row.step}: {row.reason}"
            if row.item is None:
                context["steps"][step.name] = row.kept or {}
            else:  # a step sent once per item keeps a list, in item order
                context["steps"].setdefault(step.name, []).append(row.kept or {})
        return None

    def _step(
        self, outcome: CompiledOutcome, step: Any, context: dict[str, Any], row: StepRow
    ) -> StepRow:
        outbox = self.state.outbox

        def record(request: Any, key: str | None) -> None:
            outbox.sending(row.id, request, key)

        try:
            answer, how = run_step(step, context, self.platform, row.status == SENT, record)
            kept = {k.removeprefix("keep."): step.evaluate(k, answer) for k in step.expressions
                    if k.startswith("keep.")}  # fmt: skip
        except (Refused, RecordError) as exc:
            outbox.fail(row.id, str(exc), getattr(exc, "answer", None))
            self.on_step(outcome.name, FAILED)
            log.warning("outcome %s step %s failed: %s", outcome.name, step.name, exc)
            return outbox.step(row.id) or row
        except (Unknown, TargetDown) as exc:
            self.on_step(outcome.name, "deferred")
            raise OutcomeDeferred(f"outcome {outcome.name} step {step.name}: {exc}") from None
        outbox.confirm(row.id, answer, kept, how)
        self.on_step(outcome.name, CONFIRMED)
        return outbox.step(row.id) or row

    def _sync_back(self, outcome: CompiledOutcome) -> None:
        entities = outcome.outcome.sync
        if not entities or self.sync is None:
            return
        try:
            self.sync(entities)
        except EngineError as exc:  # Loop or the platform down: done later, by a sync
            raise OutcomeDeferred(f"outcome {outcome.name}: sync back: {exc}") from None


def _item(step: Any, context: dict[str, Any], row: StepRow) -> Any:
    """The item a row of a step sent once per item stands for (the same list every time:
    the context is the one stored with the run)."""
    items = step.items(context) or []
    if row.item is None or row.item >= len(items):
        raise RecordError(f"step {step.name!r}: item {row.item} is gone from its list")
    return items[row.item]
