"""An outcome executor over an opened context: the platform as its connector reaches it, and a
sync back through the pipeline's runner (only the outcome's entities, incrementally)."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import TYPE_CHECKING

from engine.mapping.compiled import CompiledMapping
from engine.net.sender import Sender
from engine.outcomes.execute import Executor, OnStep
from engine.outcomes.steps import Platform

if TYPE_CHECKING:
    from engine.context import Context


def executor_for(
    compiled: CompiledMapping,
    ctx: Context,
    on_step: OnStep | None = None,
    sync_lock: threading.Lock | None = None,
) -> Executor | None:
    """The executor of the mapping's outcomes, or None when it declares none. `sync_lock` is
    held while syncing back, so that it never runs beside a scheduled sync (the connector is
    used by one thread at a time)."""
    if not compiled.outcomes:
        return None
    from engine.pipeline.run import Runner, RunOptions

    sender = getattr(ctx.connector, "sender", None)
    platform = Platform(
        dict(ctx.connector.source),
        ctx.mapping.base_dir,
        sender if isinstance(sender, Sender) else None,
    )

    def sync(entities: tuple[str, ...]) -> None:
        if ctx.loop is None:
            return
        with sync_lock or nullcontext():
            options = RunOptions(entities=entities)
            Runner(compiled, ctx.state, ctx.connector, ctx.loop, options).run()

    return Executor(compiled, ctx.state, platform, sync, on_step, ctx.loop)
