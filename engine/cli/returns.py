"""`etl returns`: a mapping's Loop returns from the command line: list, show and notes, and the
return actions (process, flag, cancel, close, note, remove)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from engine.cli.options import json_option, mapping_argument, state_option
from engine.context import open_context, state_path_for
from engine.errors import EngineError
from engine.loop.api import LoopAPI
from engine.loop.returns import STATES, ReturnRecord, Returns, check_note
from engine.mapping.load import load_mapping
from engine.state.closes import ManualCloses, closes_path

DEFAULT_SINCE = timedelta(hours=24)  # Loop's own default range
_AGO = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HEADER = ("id", "state", "created_at", "updated_at", "order", "total")


@contextmanager
def loop_of(mapping: Path) -> Iterator[LoopAPI]:
    """The mapping's Loop client, through the one wiring: `embedded` starts the sandbox (its
    data beside the mapping's state); LOOP_API_URL and LOOP_API_KEY override as for `etl run`.
    The engine's state is not used (these commands neither read nor write it)."""
    model = load_mapping(mapping)
    with open_context(model, state_path_for(model), need_loop=True, need_state=False) as ctx:
        if ctx.loop is None:  # open_context builds one whenever need_loop is set
            raise EngineError("no Loop client for this mapping")
        yield ctx.loop


def moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A time: ISO 8601 (`2026-01-05`, `2026-01-05 10:00:00`, with an offset or `Z`; no offset
    means UTC), or an age: `30m`, `24h`, `7d`, `2w` ago."""
    if value is None:
        return None
    text = value.strip()
    ago = _AGO.match(text)
    if ago:
        return datetime.now(UTC) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither ISO 8601 nor an age such as 24h or 7d", ctx, param
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def loop_id(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A Loop id, or several: digits, checked before anything starts or is sent."""
    for text in value if isinstance(value, tuple) else (value,):
        if not (text.isascii() and text.strip().isdigit()):
            raise click.BadParameter(f"{text!r} is not an id (a whole number)", ctx, param)
    return tuple(v.strip() for v in value) if isinstance(value, tuple) else value.strip()


def _details(values: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--detail")
        found[key.strip()] = text
    return found


def _line(record: ReturnRecord) -> str:
    total = f"{record.get('total') or ''} {record.get('currency') or ''}".strip()
    cells = [
        record.id,
        record.state or "-",
        str(record.get("created_at") or "-"),
        str(record.get("updated_at") or "-"),
        str(record.get("order_name") or "-"),
        total or "-",
    ]
    return "  ".join(cells)


@click.group(name="returns")
@mapping_argument
@click.pass_context
def returns_group(ctx: click.Context, mapping: Path) -> None:
    """Loop's returns for the mapping's Loop (its target, or LOOP_API_URL): list and read them,
    and act on them as a warehouse would.

    \b
    etl returns MAPPING list [--state S] [--since TIME] [--json]
    etl returns MAPPING show|notes|process|flag|cancel|close ID
    etl returns MAPPING note ID TEXT
    etl returns MAPPING remove ID --line LINE_ID...

    Loop refusing an action prints its message and code (`error: ...`) and exits 1.
    """
    ctx.obj = {"mapping": mapping}


@returns_group.command(name="list")
@click.option(
    "--state",
    "state",
    type=click.Choice([*STATES, "needs review"]),
    help="Only returns in this state (default: Loop's open, closed and expired).",
)
@click.option(
    "--since",
    callback=moment,
    metavar="TIME",
    help="Updated at or after this time: ISO 8601 (UTC when no offset) or an age such as "
    "7d (default: 24h).",
)
@click.option(
    "--until",
    callback=moment,
    metavar="TIME",
    help="Updated at or before this time (default: now).",
)
@json_option("one object per return")
@click.pass_obj
def list_command(
    obj: dict[str, Any],
    state: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Returns updated in a time range (Loop's Detailed Returns List, filter updated_at): long
    ranges are read in windows under 120 days, page by page."""
    start = since or datetime.now(UTC) - DEFAULT_SINCE
    if start > (until or datetime.now(UTC)):
        raise click.BadParameter("--since is after --until (or in the future)")
    count = 0
    if not as_json:
        click.echo("  ".join(HEADER))
    with loop_of(obj["mapping"]) as loop:
        for record in Returns(loop).list_returns(start, until, state=state):
            count += 1
            click.echo(json.dumps(record.data, default=str) if as_json else _line(record))
    if not as_json:
        click.echo(f"{count} return(s)")


@returns_group.command(name="show")
@click.argument("return_id", callback=loop_id)
@click.pass_obj
def show_command(obj: dict[str, Any], return_id: str) -> None:
    """One return in full (Loop's Get Return Details), as JSON."""
    with loop_of(obj["mapping"]) as loop:
        record = Returns(loop).details(return_id)
    click.echo(json.dumps(record.data, indent=2, default=str))


@returns_group.command(name="notes")
@click.argument("return_id", callback=loop_id)
@json_option("one object per note")
@click.pass_obj
def notes_command(obj: dict[str, Any], return_id: str, as_json: bool) -> None:
    """The return's notes, oldest first."""
    with loop_of(obj["mapping"]) as loop:
        notes = Returns(loop).notes(return_id)
    for note in notes:
        if as_json:
            click.echo(json.dumps(note.__dict__))
        else:
            click.echo(f"{note.created_at or '-'}  {note.content}")
    if not as_json:
        click.echo(f"{len(notes)} note(s)")


@returns_group.command(name="process")
@click.argument("return_id", callback=loop_id)
@click.option(
    "--detail",
    "details",
    multiple=True,
    metavar="KEY=VALUE",
    help="Additional details for the platform orders the processing makes (repeat).",
)
@click.pass_obj
def process_command(obj: dict[str, Any], return_id: str, details: tuple[str, ...]) -> None:
    """Process the return: Loop fulfils its outcomes (refund, exchange order, gift card).

    Loop only queues the processing; a failure later comes as a return.processing.failed
    webhook, not as this command's exit code.
    """
    extra = _details(details)
    with loop_of(obj["mapping"]) as loop:
        result = Returns(loop).process(return_id, extra or None)
    click.echo(result.summary)


@returns_group.command(name="flag")
@click.argument("return_id", callback=loop_id)
@click.option("--note", "note", help="Then add this note (say why), under 255 characters.")
@click.pass_obj
def flag_command(obj: dict[str, Any], return_id: str, note: str | None) -> None:
    """Flag the return for review: automatic processing stops until a person acts."""
    if note is not None:
        check_note(note)  # before flagging: a note Loop would refuse must not half-do the job
    with loop_of(obj["mapping"]) as loop:
        actions = Returns(loop)
        click.echo(actions.flag(return_id).summary)
        if note is not None:
            click.echo(actions.note(return_id, note).summary)


@returns_group.command(name="cancel")
@click.argument("return_id", callback=loop_id)
@click.pass_obj
def cancel_command(obj: dict[str, Any], return_id: str) -> None:
    """Cancel the return: the shopper may return the same items again."""
    with loop_of(obj["mapping"]) as loop:
        click.echo(Returns(loop).cancel(return_id).summary)


@returns_group.command(name="close")
@click.argument("return_id", callback=loop_id)
@state_option
@click.pass_obj
def close_command(obj: dict[str, Any], return_id: str, state_path: Path | None) -> None:
    """Close the return without fulfilling any outcome (its return.closed then runs none of the
    mapping's outcomes: the close is recorded beside the state file first, even while
    `etl serve` holds it)."""
    model = load_mapping(obj["mapping"])
    ManualCloses(closes_path(state_path_for(model, state_path))).add(return_id)
    with loop_of(obj["mapping"]) as loop:
        click.echo(Returns(loop).close(return_id).summary)


@returns_group.command(name="note")
@click.argument("return_id", callback=loop_id)
@click.argument("text")
@click.pass_obj
def note_command(obj: dict[str, Any], return_id: str, text: str) -> None:
    """Add a note to the return's timeline (under 255 characters)."""
    check_note(text)
    with loop_of(obj["mapping"]) as loop:
        click.echo(Returns(loop).note(return_id, text).summary)


@returns_group.command(name="remove")
@click.argument("return_id", callback=loop_id)
@click.option(
    "--line",
    "lines",
    multiple=True,
    required=True,
    callback=loop_id,
    metavar="LINE_ID",
    help="A return line item id to remove (repeat); only refund or store-credit lines.",
)
@click.pass_obj
def remove_command(obj: dict[str, Any], return_id: str, lines: tuple[str, ...]) -> None:
    """Remove line items from the return, then process it (queued, as `process`)."""
    with loop_of(obj["mapping"]) as loop:
        click.echo(Returns(loop).remove(return_id, lines).summary)


COMMANDS = (returns_group,)
