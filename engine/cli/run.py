"""`etl run`, `etl status`, `etl quarantine`: bucket I from the command line."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from engine import interrupt
from engine.cli.options import (
    check_entities,
    entity_option,
    json_option,
    mapping_argument,
    state_option,
)
from engine.cli.render import RunDisplay, summary_table
from engine.context import open_context, run_mapping, state_path_for
from engine.errors import EngineError, StateError
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.pipeline.estimate import Estimate, count_records, plan
from engine.pipeline.run import RunOptions
from engine.state import State


@click.command()
@mapping_argument
@entity_option(multiple=True, help="Only these entities (repeat).")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors: extract everything.")
@click.option(
    "--dry-run", is_flag=True, help="Extract, map, validate and diff; send nothing, write no state."
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N source records per entity.")
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the backfill estimate (Loop requests, hours at the target's rate) and exit: "
    "nothing is sent, nothing written.",
)
@json_option("the summary as one object on one line")
@state_option
def run(
    mapping: Path,
    entities: tuple[str, ...],
    full_refresh: bool,
    dry_run: bool,
    limit: int | None,
    estimate: bool,
    as_json: bool,
    state_path: Path | None,
) -> None:
    """Push the platform's commerce data into Loop: backfill, then only what changed.

    Before the first run of an entity, the backfill estimate is printed. Exit 0 when
    everything synced, 3 with quarantined or held-back records, 2 for a configuration error
    (nothing ran), 1 for a fatal error.
    """
    compiled = load_and_compile(mapping)
    check_entities(compiled, entities, sources=True)
    path = state_path_for(compiled.mapping, state_path)
    if estimate:
        _print_estimate(estimate_mapping(compiled, entities, path), as_json)
        return
    options = RunOptions(entities=entities, full_refresh=full_refresh, dry_run=dry_run, limit=limit)
    _run_and_report(compiled, options, path, as_json)


def estimate_mapping(compiled: CompiledMapping, names: tuple[str, ...], path: Path) -> Estimate:
    """`etl run --estimate`: the whole backfill of the entities, cursors aside; nothing is
    sent to Loop and nothing written (a dry run's context: the state only read, if any)."""
    with open_context(compiled.mapping, path, need_loop=False, dry_run=True) as ctx:
        return plan(compiled, count_records(compiled, ctx.connector, names), names)


def _print_estimate(found: Estimate, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(found.as_dict()))
        return
    for line in found.text():
        click.echo(line)


@contextmanager
def terminated_as_exit() -> Iterator[None]:
    """SIGTERM ends the command as Ctrl-C would: SystemExit(143) unwinds the run, so the state
    records it as interrupted and closes the file, instead of the process dying mid-write."""

    def stop(signum: int, frame: object) -> None:
        interrupt.ask(signum)
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding application): leave it alone
        yield
        return
    try:
        yield
    except Exception:  # DuckDB reports a query the handler cut short as RuntimeError
        if (signum := interrupt.asked()) is None:
            raise
        raise SystemExit(128 + signum) from None
    else:  # a cut-short query's error caught on the way (a batch held): still a stop
        if (signum := interrupt.asked()) is not None:
            raise SystemExit(128 + signum)
    finally:
        signal.signal(signal.SIGTERM, previous)
        interrupt.forget()


def _run_and_report(
    compiled: CompiledMapping, options: RunOptions, path: Path, as_json: bool
) -> None:
    """Run with a progress display, print the summary, exit 0, or 3 with records parked."""
    with terminated_as_exit(), RunDisplay(enabled=not as_json) as display:
        summary = run_mapping(compiled, options, path, display.update, display.announce)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        summary_table(summary)
    sys.exit(3 if summary.parked else 0)


@click.command()
@mapping_argument
@json_option("the status as one object on one line")
@state_option
def status(mapping: Path, as_json: bool, state_path: Path | None) -> None:
    """Per entity: the cursor, the ID map, quarantined, held and deferred counts, and the last
    runs."""
    compiled = load_and_compile(mapping)
    path = state_path_for(compiled.mapping, state_path)
    if not path.exists():
        raise StateError(f"no state yet at {path}: run `etl run {mapping}` first")
    with State(path) as state:
        counts, cursors, runs = state.counts(), state.cursors(), state.runs()
    report: dict[str, Any] = {
        "state": str(path),
        "entities": {
            name: {
                "cursor": cursors.get(name),
                **counts.get(name, {"synced": 0, "quarantined": 0, "held": 0, "deferred": 0}),
            }
            for name in compiled.mapping.order
        },
        "runs": runs,
    }
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    click.echo(f"state: {path}")
    click.echo(
        f"{'entity':<14} {'synced':>8} {'quarantined':>12} {'held':>6} {'deferred':>8}  cursor"
    )
    for name, row in report["entities"].items():
        click.echo(
            f"{name:<14} {row['synced']:>8} {row['quarantined']:>12} {row['held']:>6} "
            f"{row['deferred']:>8}  "
            f"{row['cursor'] or '-'}"
        )
    for r in runs:
        click.echo(f"run {r['run_id']}: {r['status']} started {r['started_at']}")


@click.group()
@mapping_argument
@state_option
@click.pass_context
def quarantine(ctx: click.Context, mapping: Path, state_path: Path | None) -> None:
    """Records Loop would not take, or the mapping could not make: with every reason.

    etl quarantine MAPPING list|show ID|replay [--sync]
    """
    ctx.obj = {"mapping": mapping, "state": state_path}


@quarantine.command(name="list")
@entity_option()
@json_option("one object per record")
@state_option
@click.pass_obj
def quarantine_list(
    obj: dict[str, Any], entity: str | None, as_json: bool, state_path: Path | None
) -> None:
    """Every quarantined and held-back record, with its reasons."""
    rows = _parked(obj["mapping"], entity, state_path or obj["state"])
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    for row in rows:
        click.echo(f"{row['entity']}/{row['key']} [{row['stage']}]")
        for reason in row["reasons"]:
            click.echo(f"    {reason}")
    click.echo(f"{len(rows)} record(s)")


@quarantine.command(name="show")
@click.argument("record_id")
@state_option
@click.pass_obj
def quarantine_show(obj: dict[str, Any], record_id: str, state_path: Path | None) -> None:
    """One record: ENTITY/KEY (or KEY when unique), its reasons and the record itself."""
    rows = [
        r
        for r in _parked(obj["mapping"], None, state_path or obj["state"])
        if f"{r['entity']}/{r['key']}" == record_id or r["key"] == record_id
    ]
    if len(rows) != 1:
        raise EngineError(f"{len(rows)} quarantined record(s) match {record_id!r}")
    click.echo(json.dumps(rows[0], indent=2, default=str))


@quarantine.command(name="replay")
@entity_option(multiple=True, help="Only these entities (repeat).")
@click.option(
    "--sync",
    is_flag=True,
    help="Also read the source from the saved cursors (an incremental run of the entities), "
    "so records fixed at the source sync too.",
)
@json_option("the summary as one object on one line")
@state_option
@click.pass_obj
def quarantine_replay(
    obj: dict[str, Any],
    entities: tuple[str, ...],
    sync: bool,
    as_json: bool,
    state_path: Path | None,
) -> None:
    """Send quarantined and held records again (after fixing the mapping or the data).

    Records are taken from the state as they were extracted, mapped with the mapping as it is
    now; only entities with parked records are touched and the source is not read. With
    --sync, the entities' source is also read from the saved cursors, so fixed data there
    syncs too.
    """
    compiled = load_and_compile(obj["mapping"])
    check_entities(compiled, entities, sources=True)
    options = RunOptions(entities=entities, replay=True, sync=sync)
    path = state_path_for(compiled.mapping, state_path or obj["state"])
    _run_and_report(compiled, options, path, as_json)


def _parked(mapping: Path, entity: str | None, state_path: Path | None) -> list[dict[str, Any]]:
    compiled = load_and_compile(mapping)
    check_entities(compiled, [entity], sources=True)
    path = state_path_for(compiled.mapping, state_path)
    if not path.exists():
        raise StateError(f"no state yet at {path}")
    with State(path) as state:
        return state.parked("quarantine", entity) + state.parked("held", entity)


COMMANDS = (run, status, quarantine)
