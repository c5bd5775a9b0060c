"""The scheduled tasks of `etl serve`, built from the mapping's `schedule:` over the context it
opened: sync (as `etl run`), poll (as `etl poll`), reconcile (as `etl reconcile`)."""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext

from engine.context import Context
from engine.loop.returns import Returns
from engine.mapping.compile import CompiledMapping
from engine.pipeline.run import Runner, RunOptions
from engine.reconcile import ReconcileOptions, Reconciler
from engine.serve.metrics import Metrics
from engine.serve.poll import poll
from engine.serve.schedule import Scheduler, Task, interval

RESULTS = ("created", "updated", "unchanged", "quarantined", "held")

log = logging.getLogger(__name__)


def scheduled_work(
    compiled: CompiledMapping,
    ctx: Context,
    metrics: Metrics | None = None,
    sync_lock: threading.Lock | None = None,
) -> Scheduler:
    """The mapping's schedule as a Scheduler (a task per interval that is set); `sync_lock` is
    held while syncing (outcome sync-backs take it too)."""
    plan = compiled.mapping.schedule
    loop = ctx.loop
    tasks: list[Task] = []
    if plan.get("sync"):

        def sync() -> None:
            with sync_lock or nullcontext():
                summary = Runner(compiled, ctx.state, ctx.connector, loop, RunOptions()).run()
            log.info("scheduled sync: %s record(s) parked", summary.parked)
            if metrics is not None:
                for stats in summary.entities:
                    metrics.synced(stats.entity, {k: getattr(stats, k) for k in RESULTS})

        tasks.append(Task("sync", interval(str(plan["sync"])), sync))
    if plan.get("poll") and loop is not None:
        returns = Returns(loop)

        def poll_returns() -> None:
            result = poll(ctx.state, returns)
            log.info("scheduled poll: %d listed, %d new", result.listed, result.new)

        tasks.append(Task("poll", interval(str(plan["poll"])), poll_returns))
    if plan.get("reconcile") and loop is not None:

        def reconcile() -> None:
            report = Reconciler(compiled, ctx.state, ctx.connector, loop, ReconcileOptions()).run()
            log.info("scheduled reconcile: %d difference(s)", report.remaining)

        tasks.append(Task("reconcile", interval(str(plan["reconcile"])), reconcile))
    return Scheduler(tasks)
