"""`etl outbox MAPPING list|show ID|retry ID`: the outcome steps run in the platform (bucket
IV), their status, request and answer; a failed step run again once its cause is fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from engine.cli.options import existing_state, json_option, mapping_argument, state_option
from engine.context import open_context
from engine.errors import EngineError
from engine.mapping.compile import load_and_compile
from engine.outcomes import OutcomeDeferred
from engine.outcomes.wiring import executor_for
from engine.state import State
from engine.state.outbox import FAILED, STEP_STATUSES, StepRow

NOTHING_RAN = "nothing has run"


@click.group()
@mapping_argument
@state_option
@click.pass_context
def outbox(ctx: click.Context, mapping: Path, state_path: Path | None) -> None:
    """Outcome steps run in the platform (refunds, exchange orders, restocks, gift cards).

    etl outbox MAPPING list|show ID|retry ID
    """
    ctx.obj = {"mapping": mapping, "state": state_path}


@outbox.command(name="list")
@click.option("--status", type=click.Choice(STEP_STATUSES), help="Only steps with this status.")
@json_option("one object per step")
@state_option
@click.pass_obj
def outbox_list(
    obj: dict[str, Any], status: str | None, as_json: bool, state_path: Path | None
) -> None:
    """Every step, oldest first: id, return, outcome, step, status, attempts, reason."""
    with _state(obj, state_path) as state:
        rows = state.outbox.every(status)
    for row in rows:
        click.echo(json.dumps(row.as_json(), default=str) if as_json else _line(row))
    if not as_json:
        click.echo(f"{len(rows)} step(s)")


@outbox.command(name="show")
@click.argument("step_id", type=int)
@state_option
@click.pass_obj
def outbox_show(obj: dict[str, Any], step_id: int, state_path: Path | None) -> None:
    """One step with its request, the platform's answer and what it kept."""
    with _state(obj, state_path) as state:
        row = state.outbox.step(step_id)
    if row is None:
        raise EngineError(f"no step {step_id} in the outbox")
    click.echo(json.dumps(row.as_json(), indent=2, default=str))


@outbox.command(name="retry")
@click.argument("step_id", type=int)
@state_option
@click.pass_obj
def outbox_retry(obj: dict[str, Any], step_id: int, state_path: Path | None) -> None:
    """Run a failed step again now (after fixing its cause), then the steps after it and the
    sync back; exit 1 when it fails again."""
    compiled = load_and_compile(obj["mapping"])
    path = existing_state(compiled.mapping, state_path or obj["state"], NOTHING_RAN)
    with open_context(compiled.mapping, path) as ctx:
        row = ctx.state.outbox.step(step_id)
        if row is None:
            raise EngineError(f"no step {step_id} in the outbox")
        if row.status != FAILED:
            raise EngineError(f"step {step_id} is {row.status}: only a failed step is retried")
        executor = executor_for(compiled, ctx)
        if executor is None:
            raise EngineError(f"{obj['mapping']} declares no outcomes")
        ctx.state.outbox.reopen(step_id)
        try:
            result = executor.execute(row.return_id, row.outcome)
        except OutcomeDeferred as exc:
            raise EngineError(f"not done yet, tried again by `etl serve`: {exc}") from None
        after = ctx.state.outbox.step(step_id)
    assert after is not None
    click.echo(_line(after))
    if result.status == FAILED:
        raise EngineError(f"return {row.return_id}, outcome {row.outcome}: {result.reason}")
    click.echo(f"return {row.return_id}, outcome {row.outcome}: {result.status}")


def _line(row: StepRow) -> str:
    reason = f": {row.reason}" if row.reason else ""
    return (
        f"{row.id} return {row.return_id} {row.outcome}/{row.step} ({row.kind}) "
        f"[{row.status}] {row.attempts} attempt(s){reason}"
    )


def _state(obj: dict[str, Any], state_path: Path | None) -> State:
    compiled = load_and_compile(obj["mapping"])
    return State(existing_state(compiled.mapping, state_path or obj["state"], NOTHING_RAN))


COMMANDS = (outbox,)
