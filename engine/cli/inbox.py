"""`etl inbox`: the Loop events `etl serve` received: list, show one with its raw body, replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from engine.cli.options import existing_state, json_option, mapping_argument, state_option
from engine.context import open_context
from engine.errors import EngineError
from engine.loop.returns import Returns
from engine.mapping.compile import load_and_compile
from engine.outcomes.wiring import executor_for
from engine.serve import with_rules
from engine.serve.worker import Processor, Worker
from engine.state import State
from engine.state.inbox import STATUSES


@click.group()
@mapping_argument
@state_option
@click.pass_context
def inbox(ctx: click.Context, mapping: Path, state_path: Path | None) -> None:
    """Loop events received by `etl serve`, with their status and reasons.

    etl inbox MAPPING list|show KEY|replay KEY
    """
    ctx.obj = {"mapping": mapping, "state": state_path}


@inbox.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only events with this status.")
@json_option("one object per event")
@state_option
@click.pass_obj
def inbox_list(
    obj: dict[str, Any], status: str | None, as_json: bool, state_path: Path | None
) -> None:
    """Every event, oldest first: key, status, attempts, reasons."""
    with _state(obj, state_path) as state:
        rows = state.inbox_events(status)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    for row in rows:
        extra = f", {row['duplicates']} duplicate(s)" if row["duplicates"] else ""
        click.echo(
            f"{row['key']} [{row['status']}] {row['trigger'] or row['topic'] or '-'} "
            f"received {row['received_at']}, {row['attempts']} attempt(s){extra}"
        )
        for reason in row["reasons"]:
            click.echo(f"    {reason}")
    click.echo(f"{len(rows)} event(s)")


@inbox.command(name="show")
@click.argument("key")
@state_option
@click.pass_obj
def inbox_show(obj: dict[str, Any], key: str, state_path: Path | None) -> None:
    """One event: its status, reasons, effect and raw body (as text when it is UTF-8)."""
    with _state(obj, state_path) as state:
        event = state.inbox_event(key)
    if event is None:
        raise EngineError(f"no event {key!r} in the inbox")
    click.echo(json.dumps(shown(event), indent=2))


@inbox.command(name="replay")
@click.argument("key")
@state_option
@click.pass_obj
def inbox_replay(obj: dict[str, Any], key: str, state_path: Path | None) -> None:
    """Process one event again now, with the mapping's rules (each still fires at most once
    per return, and the (return, state) it reports is still recorded once)."""
    compiled = load_and_compile(obj["mapping"])
    path = existing_state(compiled.mapping, state_path or obj["state"], _hint(obj))
    need_loop = bool(compiled.rules or compiled.outcomes)
    with open_context(compiled.mapping, path, need_loop=need_loop) as ctx:
        state = ctx.state
        if not state.replay_event(key):
            raise EngineError(f"no event {key!r} in the inbox")
        actions = Returns(ctx.loop) if ctx.loop is not None else None
        executor = executor_for(compiled, ctx)
        processor: Processor = with_rules(compiled.rules, actions, state, None, executor)
        Worker(state, processor=processor).drain(keys=[key])
        event = state.inbox_event(key)
    assert event is not None
    click.echo(f"{key}: {event['status']}")
    for reason in event["reasons"]:
        click.echo(f"    {reason}")


def shown(event: dict[str, Any]) -> dict[str, Any]:
    """The event as JSON: the body as text when it is UTF-8, else base64."""
    out = dict(event)
    raw: bytes = out.pop("body")
    try:
        out["body"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(raw).decode("ascii")
    return out


def _state(obj: dict[str, Any], state_path: Path | None) -> State:
    compiled = load_and_compile(obj["mapping"])
    return State(existing_state(compiled.mapping, state_path or obj["state"], _hint(obj)))


def _hint(obj: dict[str, Any]) -> str:
    return f"`etl serve {obj['mapping']}` receives events"


COMMANDS = (inbox,)
