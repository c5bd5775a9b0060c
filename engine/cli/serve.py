"""`etl serve`: the long-running process that owns the mapping's state file and receives
Loop's webhooks into its inbox."""

from __future__ import annotations

import socket
import threading
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import click

from engine.cli.options import mapping_argument, state_option
from engine.context import Context, open_context, state_path_for
from engine.embedded import is_embedded, loop_target
from engine.errors import EngineError
from engine.loop.returns import Returns
from engine.mapping.compile import load_and_compile
from engine.mapping.compiled import CompiledMapping
from engine.mapping.model import Mapping, PlatformSubscribe
from engine.net import Sender
from engine.outcomes.wiring import executor_for
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
from engine.serve.platform import PlatformWebhooks, platform_url, subscribe_platform
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
    "--public-url",
    callback=lambda ctx, param, value: _public_url(value),
    metavar="URL",
    help="Base URL the platform calls this process at, when it sits behind a proxy "
    "(platform_webhooks.subscribe; default: the address it listens on).",
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
    public_url: str | None,
    spool_linger: float,
    state_path: Path | None,
) -> None:
    """Receive Loop's webhooks into the inbox and process them, until Ctrl-C or SIGTERM.

    Owns the mapping's state file while it runs (other commands on it are refused). With the
    embedded sandbox as Loop it starts the sandbox and subscribes itself to its return events;
    when the mapping declares `platform_webhooks.subscribe` it subscribes itself to the
    platform's change webhooks too.
    """
    compiled = load_and_compile(mapping)
    target = compiled.mapping.target
    embedded = is_embedded(loop_target(target).base_url)
    settings = ReceiverSettings(webhook_secrets(target, embedded=embedded), max_body)
    path = state_path_for(compiled.mapping, state_path)
    sock = _listen(host, port)
    sync_lock = threading.Lock()  # the scheduled sync and outcome sync-backs, one at a time
    with closing(sock), open_context(compiled.mapping, path) as ctx:
        platform = None
        if compiled.mapping.platform_webhooks:
            platform = PlatformWebhooks(compiled, ctx.state, ctx.loop)
        process = _process(compiled, ctx, settings, platform, sync_lock,
                           receive_only=receive_only, schedule=not no_schedule,
                           linger_s=spool_linger)  # fmt: skip
        base = receiver_url(host, sock.getsockname()[1])
        _announce(ctx, process, base, path, public_url or base)
        try:
            run_server(process.app, sock, process.jobs)
        finally:
            if platform is not None:
                platform.close()


def _listen(host: str, port: int) -> socket.socket:
    try:
        return listen(host, port)
    except OSError as exc:
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _process(
    compiled: CompiledMapping,
    ctx: Context,
    settings: ReceiverSettings,
    platform: PlatformWebhooks | None,
    sync_lock: threading.Lock,
    *,
    receive_only: bool,
    schedule: bool,
    linger_s: float,
) -> ServeProcess:
    """The receiver, its worker and its jobs over the open context; the schedule runs only
    when events are processed too."""
    process = build_process(
        ctx.state,
        settings,
        process_events=not receive_only,
        rules=compiled.rules,
        actions=Returns(ctx.loop) if ctx.loop is not None else None,
        platform=platform,
        outcomes=lambda metrics: executor_for(compiled, ctx, metrics.step, sync_lock),
        linger_s=linger_s,
    )
    if ctx.loop is not None:
        process.metrics.watch_loop(ctx.loop.stats.snapshot)
    if schedule and not receive_only:
        scheduler = scheduled_work(compiled, ctx, process.metrics, sync_lock)
        if scheduler.tasks:
            process.jobs.append(scheduler)
    return process


def _announce(ctx: Context, process: ServeProcess, base: str, path: Path, public: str) -> None:
    """Print where everything is; subscribe to the embedded sandbox and to the platform
    first, so that the lines saying so are true."""
    click.echo(f"receiver: {base}{RECEIVER_PATH}")
    click.echo(f"health:   {base}{HEALTH_PATH}")
    click.echo(f"metrics:  {base}{METRICS_PATH}")
    if ctx.source.get("embedded"):  # the demo platform started in-process: where it is
        where = [v for k, v in ctx.source.items() if k not in ("connector", "embedded")]
        click.echo(f"demo:     {where[0] if where else ctx.source['connector']}")
    if process.platform is not None:
        click.echo(f"platform: {platform_url(public, '{entity}')}")
        _subscribe_platform(ctx, ctx.mapping.platform_subscribe, public)
    loop_url = ctx.target["base_url"]
    if ctx.target["embedded"] and ctx.loop is not None:
        triggers = [*RETURN_TRIGGERS]
        subscribe(ctx.loop, f"{base}{RECEIVER_PATH}")
        for topic, trigger in outcome_topics(ctx.mapping):
            subscribe(ctx.loop, f"{base}{RECEIVER_PATH}", topic, (trigger,))
            triggers.append(trigger)
        click.echo(f"sandbox:  {loop_url} (subscribed to {', '.join(triggers)})")
    else:
        click.echo(f"loop:     {loop_url}")
    click.echo(f"state:    {path}")
    for job in process.jobs:
        tasks = getattr(job, "tasks", None)
        if tasks:
            click.echo("schedule: " + ", ".join(_every(t.name, t.every_s) for t in tasks))
    worker = "off (--receive-only)" if process.worker is None else "on"
    click.echo(f"processing {worker}; serving until Ctrl-C or SIGTERM")


def outcome_topics(mapping: Mapping) -> list[tuple[str, str]]:
    """(topic, trigger) of the events the outcomes listen to beyond the return topic's."""
    found = {t for outcome in mapping.outcomes for t in outcome.triggers}
    return [(t.rpartition(".")[0], t) for t in sorted(found) if t not in RETURN_TRIGGERS]


def _subscribe_platform(ctx: Context, spec: PlatformSubscribe | None, public: str) -> None:
    """Subscribe to the platform's change webhooks as the mapping declares; what fails is a
    warning (serve runs on: the scheduled sync still catches those changes)."""
    if spec is None:
        return
    sender = getattr(ctx.connector, "sender", None)  # the http connector's: its auth, retries
    if not isinstance(sender, Sender):
        click.echo("warning: platform_webhooks.subscribe needs an http source; not subscribed",
                   err=True)  # fmt: skip
        return
    done = subscribe_platform(sender, spec, public)
    if done.listing_error:
        click.echo(f"warning: could not list the platform's webhooks: {done.listing_error}",
                   err=True)  # fmt: skip
    for r in done.results:
        if r.status == "failed":
            click.echo(f"warning: could not subscribe {r.topic} -> {r.address}: {r.detail}",
                       err=True)  # fmt: skip
    ok = [f"{r.topic} -> {r.entity}" + (" (already)" if r.status == "exists" else "")
          for r in done.results if r.status != "failed"]  # fmt: skip
    if ok:
        click.echo("subscribed to the platform: " + ", ".join(ok))


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise click.BadParameter(
            f"{value!r} is not an http(s) base URL (e.g. https://etl.example.com)"
        )
    return value.rstrip("/")


def _every(name: str, seconds: float | None) -> str:
    return f"{name} every {seconds:g} s" if seconds else f"{name} once"


COMMANDS = (serve,)
