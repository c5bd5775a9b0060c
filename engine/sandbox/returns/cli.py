"""`etl sandbox return ...`: create and list returns on a running sandbox through its admin API."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx

DEFAULT_URL = "http://127.0.0.1:8787"
OUTCOMES = ("refund", "exchange", "store_credit")


def parse_line(text: str) -> dict[str, Any]:
    """'LINE_ID[:outcome[:exchange_variant_id]]' -> one admin `line_items` entry."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or not parts[0].isdigit():
        raise click.BadParameter(f"{text!r} is not LINE_ID[:outcome[:exchange_variant_id]]")
    line: dict[str, Any] = {"line_item_id": int(parts[0]), "quantity": 1}
    outcome = parts[1] if len(parts) > 1 and parts[1] else "refund"
    if outcome not in OUTCOMES:
        raise click.BadParameter(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    line["outcome"] = outcome
    if outcome == "exchange":
        if len(parts) < 3 or not parts[2].isdigit():
            raise click.BadParameter(f"{text!r}: an exchange needs an exchange variant id")
        line["exchange_variant_id"] = int(parts[2])
    return line


def _base_url(ctx: click.Context, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    obj = ctx.find_root().obj
    return str(obj.get("base_url", DEFAULT_URL)) if isinstance(obj, dict) else DEFAULT_URL


def _admin(base: str, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, f"{base}/_sandbox{path}", timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the sandbox at {base}: {exc}") from exc
    if response.status_code >= 400:
        raise click.ClickException(f"the sandbox answered {response.status_code}: {response.text}")
    return response.json()


@click.group("return")
def return_group() -> None:
    """Create and list returns on a running sandbox (sandbox-only admin API)."""


@return_group.command("create")
@click.option("--url", default=None, help=f"Sandbox base URL. [default: {DEFAULT_URL}]")
@click.option("--order-id", type=int, default=None, help="The order's Loop id.")
@click.option("--order-external-id", default=None, help="The order's external_id.")
@click.option(
    "--line",
    "lines",
    multiple=True,
    required=True,
    metavar="LINE_ID[:OUTCOME[:VARIANT_ID]]",
    help="An order line (Loop id) to return; repeatable. Outcome refund (default), "
    "exchange (then the exchange variant's Loop id) or store_credit.",
)
@click.option("--reason", default=None, help="Return reason for every line.")
@click.option(
    "--state",
    type=click.Choice(["open", "review", "closed", "cancelled", "expired"]),
    default="open",
    show_default=True,
)
@click.pass_context
def create(
    ctx: click.Context,
    url: str | None,
    order_id: int | None,
    order_external_id: str | None,
    lines: tuple[str, ...],
    reason: str | None,
    state: str,
) -> None:
    """Create a return on a synced order and print its id."""
    if (order_id is None) == (order_external_id is None):
        raise click.UsageError("give exactly one of --order-id and --order-external-id")
    items = [parse_line(text) for text in lines]
    for item in items:
        item["return_reason"] = reason
    body: dict[str, Any] = {"line_items": items, "state": state}
    if order_id is not None:
        body["order_id"] = order_id
    else:
        body["order_external_id"] = order_external_id
    created = _admin(_base_url(ctx, url), "POST", "/returns", json=body)
    click.echo(created["id"])


@return_group.command("list")
@click.option("--url", default=None, help=f"Sandbox base URL. [default: {DEFAULT_URL}]")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one object per return, in full.")
@click.pass_context
def list_returns(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """List the sandbox's returns: id, state, order, outcome, total."""
    found = _admin(_base_url(ctx, url), "GET", "/returns")["returns"]
    if as_json:
        for item in found:  # JSON lines, as every `etl` command's --json
            click.echo(json.dumps(item))
        return
    for item in found:
        click.echo(
            f"{item['id']}\t{item['state']}\t{item['order_name']}\t{item['outcome']}\t"
            f"{item['total']} {item['currency']}"
        )
