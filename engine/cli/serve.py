"""`etl serve`: the long-running process that owns the mapping's state file and receives
Loop's webhooks into its inbox."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import click

from engine.cli.options import mapping_argument, state_option
from engine.context import Context, open_context, state_path_for
from engine.embedded import is_embedded, loop_target
from engine.errors import EngineError
from engine.loop.returns import Returns
from engine.mapping.compile import load_and_compile
from engine.serve import (
    RETURN_TRIGGERS,
    ReceiverSettings,
    ServeProcess,
    build_process,
    listen,
    receiver_url,
    run_server,
    subscribe,
    webhook_secrets,
)
from engine.serve.app import HEALTH_PATH, MAX_BODY_BYTES, METRICS_PATH, RECEIVER_PATH
from engine.serve.intake import LINGER_S
from engine.serve.platform import PlatformWebhooks
from engine.serve.scheduled import scheduled_work


@click.command()
@mapping_argument
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: a free one, printed).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=MAX_BODY_BYTES,
    show_default=True,
    help="Largest webhook body read, in bytes (413 past it).",
)
@click.option(
    "--no-schedule",
    is_flag=True,
    help="Run no scheduled sync, poll or reconcile (the mapping's `schedule:`); receive only.",
)
@click.option(
    "--receive-only",
    is_flag=True,
    help="Store events without processing them; the next `etl serve` processes them.",
)
@click.option(
    "--spool-linger",
    type=click.FloatRange(min=0),
    default=LINGER_S,
    show_default=True,
    help="Seconds deliveries gather in the spool before they are moved into the inbox.",
)
@state_option
def serve(
    mapping: Path,
    host: str,
    port: int,
    max_body: int,
    no_schedule: bool,
    receive_only: bool,
    spool_linger: float,
    state_path: Path | None,
) -> None:
    """Receive Loop's webhooks into the inbox and process them, until Ctrl-C or SIGTERM.

    Owns the mapping's state file while it runs (other commands on it are refused). With the
    embedded sandbox as Loop it starts the sandbox and subscribes itself to its return events.
    """
    compiled = load_and_compile(mapping)
    target = compiled.mapping.target
    embedded = is_embedded(loop_target(target).base_url)
    secrets = webhook_secrets(target, embedded=embedded)
    path = state_path_for(compiled.mapping, state_path)
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with closing(sock), open_context(compiled.mapping, path) as ctx:
        platform = None
        if compiled.mapping.platform_webhooks:
            platform = PlatformWebhooks(compiled, ctx.state, ctx.loop)
        process = build_process(
            ctx.state,
            ReceiverSettings(secrets, max_body),
            process_events=not receive_only,
            rules=compiled.rules,
            actions=Returns(ctx.loop) if ctx.loop is not None else None,
            platform=platform,
            linger_s=spool_linger,
        )
        if ctx.loop is not None:
            process.metrics.watch_loop(ctx.loop.stats.snapshot)
        if not no_schedule and not receive_only:
            scheduler = scheduled_work(compiled, ctx, process.metrics)
            if scheduler.tasks:
                process.jobs.append(scheduler)
        base = receiver_url(host, sock.getsockname()[1])
        _announce(ctx, process, base, path)
        try:
            run_server(process.app, sock, process.jobs)
        finally:
            if platform is not None:
                platform.close()


def _announce(ctx: Context, process: ServeProcess, base: str, path: Path) -> None:
    """Print where everything is; subscribe to the embedded sandbox first, so that the line
    saying so is true."""
    click.echo(f"receiver: {base}{RECEIVER_PATH}")
    click.echo(f"health:   {base}{HEALTH_PATH}")
    click.echo(f"metrics:  {base}{METRICS_PATH}")
    if process.platform is not None:
        click.echo(f"platform: {base}/webhooks/platform/{{entity}}")
    loop_url = ctx.target["base_url"]
    if ctx.target["embedded"] and ctx.loop is not None:
        subscribe(ctx.loop, f"{base}{RECEIVER_PATH}")
        click.echo(f"sandbox:  {loop_url} (subscribed to {', '.join(RETURN_TRIGGERS)})")
    else:
        click.echo(f"loop:     {loop_url}")
    click.echo(f"state:    {path}")
    for job in process.jobs:
        tasks = getattr(job, "tasks", None)
        if tasks:
            click.echo("schedule: " + ", ".join(_every(t.name, t.every_s) for t in tasks))
    worker = "off (--receive-only)" if process.worker is None else "on"
    click.echo(f"processing {worker}; serving until Ctrl-C or SIGTERM")


def _every(name: str, seconds: float | None) -> str:
    return f"{name} every {seconds:g} s" if seconds else f"{name} once"


COMMANDS = (serve,)
