"""`etl poll`: Loop's returns list into the inbox (what webhooks may have missed), then the
inbox processed with the mapping's rules, as `etl serve` would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from engine.cli.options import mapping_argument, state_option
from engine.cli.returns import moment
from engine.context import open_context, state_path_for
from engine.loop.returns import Returns
from engine.mapping.compile import load_and_compile
from engine.outcomes.wiring import executor_for
from engine.serve import with_rules
from engine.serve.poll import poll as poll_returns
from engine.serve.worker import Worker


@click.command()
@mapping_argument
@click.option(
    "--since",
    callback=moment,
    metavar="TIME",
    help="Returns updated since this time: ISO 8601 (UTC when no offset) or an age such as 7d "
    "(default: the saved cursor, else the last 24 hours).",
)
@click.option("--no-process", is_flag=True, help="Only store them in the inbox.")
@state_option
def poll(mapping: Path, since: datetime | None, no_process: bool, state_path: Path | None) -> None:
    """Poll Loop's returns into the inbox and process them (rules included).

    A return the inbox already has from a webhook is recognised (same key) and not stored
    twice; what follows from a return reaching a state happens once either way.
    """
    compiled = load_and_compile(mapping)
    path = state_path_for(compiled.mapping, state_path)
    with open_context(compiled.mapping, path) as ctx:
        assert ctx.loop is not None
        returns = Returns(ctx.loop)
        result = poll_returns(ctx.state, returns, since)
        click.echo(f"listed {result.listed} return(s), {result.new} new in the inbox")
        if not no_process:
            executor = executor_for(compiled, ctx)
            processor = with_rules(compiled.rules, returns, ctx.state, None, executor)
            done = Worker(ctx.state, processor=processor).drain()
            click.echo(f"processed {done} event(s)")


COMMANDS = (poll,)
