"""`etl sandbox`: serve the local Loop emulator (and, through returns.cli, drive its returns)."""

from __future__ import annotations

import click

from engine.sandbox.admin import PREFIX
from engine.sandbox.core import API_VERSIONS, DEFAULT_API_KEY, SandboxConfig, parse_rate
from engine.sandbox.returns.cli import return_group
from engine.sandbox.server import listen, serve


def _rate(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_rate(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    "db_path",
    default=":memory:",
    show_default=True,
    help="DuckDB file for the sandbox state (survives restarts), or :memory:.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help=f"Accepted X-Authorization key; repeatable. [default: {DEFAULT_API_KEY}]",
)
@click.option(
    "--webhook-secret",
    envvar="LOOP_WEBHOOK_SECRET",
    show_envvar=True,
    default="sandbox-webhook-secret",
    show_default=False,
    help="Secret that signs webhook deliveries (never printed).",
)
@click.option(
    "--rate-limit",
    default="300/min",
    show_default=True,
    callback=_rate,
    help="Requests per API key, as N/s, N/min or N/hour; 0/min disables it.",
)
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of API requests that fail (half 500s, half dropped connections).",
)
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Delay added to every API request.",
)
@click.option("--seed", type=int, default=None, help="Seed that makes fault injection repeatable.")
@click.option(
    "--webhook-time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Multiplies every wait of the webhook retry schedule (backoff, Retry-After).",
)
@click.option(
    "--webhook-debug-headers",
    is_flag=True,
    help="Add X-Loop-Webhook-Id, X-Loop-Event-Id and X-Loop-Webhook-Attempt to deliveries "
    "(Loop sends none of them).",
)
@click.option(
    "--integer-ids",
    is_flag=True,
    help="Returns data and webhooks carry ids as integers (Loop's are strings).",
)
@click.pass_context
def sandbox(
    ctx: click.Context,
    host: str,
    port: int,
    db_path: str,
    api_keys: tuple[str, ...],
    webhook_secret: str,
    rate_limit: str,
    fail_rate: float,
    latency_ms: int,
    seed: int | None,
    webhook_time_scale: float,
    webhook_debug_headers: bool,
    integer_ids: bool,
) -> None:
    """Run a local emulator of Loop's API (commerce data, returns, webhooks).

    Without a subcommand it serves until interrupted; the admin API is under /_sandbox.
    """
    config = SandboxConfig(
        db_path=db_path,
        api_keys=api_keys or (DEFAULT_API_KEY,),
        webhook_secret=webhook_secret,
        rate_limit=rate_limit,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        seed=seed,
        webhook_time_scale=webhook_time_scale,
        webhook_debug_headers=webhook_debug_headers,
        integer_ids=integer_ids,
    )
    # Subcommands (e.g. `etl sandbox return ...`) find the settings and the URL here.
    ctx.obj = {"config": config, "host": host, "port": port, "base_url": _url(host, port)}
    if ctx.invoked_subcommand is not None:
        return
    _serve_until_interrupted(config, host, port)


def _serve_until_interrupted(config: SandboxConfig, host: str, port: int) -> None:
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    # The bound port, not the one asked for: --port 0 picks a free one.
    base = _url(host, sock.getsockname()[1])
    api = f"{base}/api/{API_VERSIONS[0]}"
    click.echo(f"Loop sandbox on {api} (admin: {base}{PREFIX}, db: {config.db_path})")
    serve(config, sock)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


sandbox.add_command(return_group)
