"""`etl webhooks`: the mapping's Loop webhook subscriptions: subscribe a receiver, list, and
unsubscribe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from engine.cli.options import json_option, mapping_argument
from engine.cli.render import error_lines
from engine.cli.returns import loop_id, loop_of
from engine.errors import EngineError
from engine.loop.subscriptions import (
    DEFAULT_TOPICS,
    TOPICS,
    Subscription,
    Subscriptions,
    check_url,
    triggers_for,
)

RECEIVER_URL = "http://127.0.0.1:8080/webhooks/loop"
"""Where `etl serve` listens for Loop's webhooks by default."""


def _line(subscription: Subscription) -> str:
    return (
        f"{subscription.id}  {subscription.topic}/{subscription.trigger}  "
        f"{subscription.status}  {subscription.url}"
    )


@click.group(name="webhooks")
@mapping_argument
@click.pass_context
def webhooks_group(ctx: click.Context, mapping: Path) -> None:
    """Webhook subscriptions of the mapping's Loop (its target, or LOOP_API_URL).

    \b
    etl webhooks MAPPING subscribe [--url URL] [--topic T]...|list|unsubscribe ID
    """
    ctx.obj = {"mapping": mapping}


@webhooks_group.command(name="subscribe")
@click.option(
    "--url",
    default=RECEIVER_URL,
    show_default=True,
    help="The receiver Loop delivers to. The default is where `etl serve` listens; Loop "
    "itself can only reach a public URL, the local sandbox reaches loopback.",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="T",
    help="A topic (all its triggers) or one trigger (repeat). Default: "
    f"{', '.join(DEFAULT_TOPICS)}. Known topics: {', '.join(TOPICS)}.",
)
@click.pass_obj
def subscribe_command(obj: dict[str, Any], url: str, topics: tuple[str, ...]) -> None:
    """Subscribe the receiver to each trigger, active (Loop's default is inactive).

    A trigger the URL is already subscribed to is kept (an inactive one is switched on), so
    running it again creates no duplicates. One refused trigger does not stop the others; the
    command then exits 1.
    """
    pairs = triggers_for(topics)
    check_url(url)
    with loop_of(obj["mapping"]) as loop:
        done = Subscriptions(loop).ensure(url, pairs)
    failed = 0
    for item in done:
        if item.error is not None:
            failed += 1
            for line in error_lines(item.error):
                click.echo(line, err=True)
        elif item.subscription is not None:
            click.echo(f"{item.outcome:<9}  {_line(item.subscription)}")
    if failed:
        raise EngineError(f"{failed} of {len(done)} subscriptions failed")


@webhooks_group.command(name="list")
@json_option("one object per subscription")
@click.pass_obj
def list_command(obj: dict[str, Any], as_json: bool) -> None:
    """Every subscription of the shop (those made in Loop's admin too)."""
    with loop_of(obj["mapping"]) as loop:
        found = Subscriptions(loop).list()
    for subscription in found:
        click.echo(json.dumps(subscription.as_dict()) if as_json else _line(subscription))
    if not as_json:
        click.echo(f"{len(found)} subscription(s)")


@webhooks_group.command(name="unsubscribe")
@click.argument("subscription_id", callback=loop_id)
@click.pass_obj
def unsubscribe_command(obj: dict[str, Any], subscription_id: str) -> None:
    """Delete a subscription."""
    with loop_of(obj["mapping"]) as loop:
        Subscriptions(loop).unsubscribe(subscription_id)
    click.echo(f"unsubscribed {subscription_id}")


COMMANDS = (webhooks_group,)
