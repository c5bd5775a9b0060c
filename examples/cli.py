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


@demo.command("erp-like")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--orders", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--encoding", type=click.Choice(["utf-8", "latin-1"]), default="utf-8", show_default=True
)
def erp_like(out_dir: Path, orders: int, seed: int, encoding: str) -> None:
    """Write an ERP's CSV exports (items, customers, stock, sales orders, ...) to --out."""
    from examples.erp_like import generate_erp_csv

    paths = generate_erp_csv(out_dir, orders=orders, seed=seed, encoding=encoding)
    click.echo(f"erp-like demo: {len(paths)} CSV files in {out_dir}")


@demo.command("oms-like")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--orders", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def oms_like(out_path: Path, orders: int, seed: int) -> None:
    """Write an OMS's SQLite database to --out (replacing it)."""
    from examples.oms_like import generate_oms_db

    generate_oms_db(out_path, orders=orders, seed=seed)
    click.echo(f"oms-like demo: SQLite database {out_path}")
