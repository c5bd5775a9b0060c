"""`etl demo ...`: serve or generate the demo platforms from the command line (added to `etl`
through the `loop_etl.commands` entry point)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def demo() -> None:
    """Demo platforms to run mappings against without anyone's account."""


@demo.command("shopify-like")
@click.option("--port", type=int, default=8765, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--orders", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--token", default="demo", show_default=True, help="Accepted X-Shopify-Access-Token.")
@click.option(
    "--webhook-secret",
    default="demo-webhook-secret",
    show_default=True,
    help="Signs the shop's change webhooks (X-Shopify-Hmac-Sha256).",
)
def shopify_like(
    port: int, host: str, orders: int, seed: int, token: str, webhook_secret: str
) -> None:
    """Serve a Shopify-shaped REST Admin API with generated data until Ctrl-C; it sends its
    change webhooks to whoever subscribes (POST webhooks.json)."""
    from examples.shopify_like.server import serve

    def ready(url: str) -> None:
        click.echo(f"shopify-like demo: {url}/admin/api/2024-01 (token {token!r}, {orders} orders, "
                   f"seed {seed}); admin at {url}/_demo/; Ctrl-C stops", err=False)  # fmt: skip

    serve(port=port, orders=orders, seed=seed, token=token, host=host, on_ready=ready,
          webhook_secret=webhook_secret)  # fmt: skip


@demo.group("erp-like", invoke_without_command=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--orders", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--encoding", type=click.Choice(["utf-8", "latin-1"]), default="utf-8", show_default=True
)
@click.pass_context
def erp_like(
    ctx: click.Context, out_dir: Path | None, orders: int, seed: int, encoding: str
) -> None:
    """Write an ERP's CSV exports (items, customers, stock, sales orders, ...) to --out.

    Imports already applied in --out are kept (replayed over the generated shop).
    """
    if ctx.invoked_subcommand is not None:
        return
    if out_dir is None:
        raise click.UsageError("Missing option '--out'.")
    from examples.erp_like import generate_erp_csv

    try:
        paths = generate_erp_csv(out_dir, orders=orders, seed=seed, encoding=encoding)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"erp-like demo: {len(paths)} CSV files in {out_dir}, imports read from "
               f"{out_dir / 'imports'}")  # fmt: skip


@erp_like.command("apply")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The folder `etl demo erp-like --out` wrote.")  # fmt: skip
@click.option("--watch", is_flag=True, help="Keep applying new files until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between looks at the folder with --watch.")  # fmt: skip
def erp_like_apply(out_dir: Path, watch: bool, interval: float) -> None:
    """Apply the import files waiting in --out/imports (credit memos, sales orders, inventory
    adjustments) once each, in name order, and regenerate the exports. Exit 1 when a file has
    a bad row: that file is reported (file:line: reason) and left in place, nothing of it applied."""
    from examples.erp_like import ApplyReport, apply_imports, watch_imports
    from examples.erp_like.journal import read_settings

    try:
        read_settings(out_dir)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None

    def show(report: ApplyReport) -> None:
        for name in report.applied:
            click.echo(f"applied {name}")
        for line in report.skipped:
            click.echo(line)
        for line in report.errors:
            click.echo(f"error: {line}", err=True)

    if watch:
        click.echo(f"erp-like demo: applying imports from {out_dir / 'imports'} every "
                   f"{interval:g}s; Ctrl-C stops")  # fmt: skip
        try:
            watch_imports(out_dir, interval, on_report=show)
        except KeyboardInterrupt:
            return
    report = apply_imports(out_dir)
    show(report)
    click.echo(f"erp-like demo: {len(report.applied)} file(s) applied, {report.documents} new "
               f"document(s), {len(report.skipped)} skipped, {len(report.errors)} error(s)")  # fmt: skip
    if report.errors:
        raise SystemExit(1)


@demo.command("oms-like")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--orders", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def oms_like(out_path: Path, orders: int, seed: int) -> None:
    """Write an OMS's SQLite database to --out (replacing it)."""
    from examples.oms_like import generate_oms_db

    generate_oms_db(out_path, orders=orders, seed=seed)
    click.echo(f"oms-like demo: SQLite database {out_path}")
