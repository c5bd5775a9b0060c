"""`etl run`, `etl status`, `etl quarantine`: bucket I from the command line."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from connectors.registry import connector_class
from engine.cli_mapping import MAPPING, compiled_or_exit
from engine.embedded import services, state_path_for
from engine.errors import ConfigError, EngineError
from engine.mapping.compile import CompiledMapping
from engine.mapping.suggest import unknown
from engine.pipeline.run import Runner, RunOptions, RunSummary
from engine.state import State
from engine.ui import RunDisplay, summary_table

STATE = click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The state file (default: the mapping's state.path, else .etl/<name>.duckdb).",
)


def _entities_or_exit(compiled: CompiledMapping, names: tuple[str, ...]) -> None:
    for name in names:
        if name not in compiled.entities:
            click.echo(unknown("entity", name, compiled.entities), err=True)
            sys.exit(2)


def execute(
    compiled: CompiledMapping, options: RunOptions, state_path: Path, display: Any = None
) -> RunSummary:
    """Run a compiled mapping with its services; the library entry point of `etl run`."""
    from engine.loop.client import LoopClient

    mapping = compiled.mapping
    with ExitStack() as stack:
        running = stack.enter_context(services(mapping, state_path, need_loop=not options.dry_run))
        # A dry run writes no state: with none yet, it diffs against an empty one in memory.
        fresh = options.dry_run and not state_path.exists()
        state = stack.enter_context(State(":memory:" if fresh else state_path))
        connector = stack.enter_context(
            connector_class(running.source["connector"])(running.source, mapping.base_dir)
        )
        client = None
        if not options.dry_run:
            t = mapping.target
            client = stack.enter_context(
                LoopClient(
                    running.loop_url,
                    t.api_key,
                    api_version=t.api_version,
                    rate_limit=t.rate_limit,
                    timeout_s=t.timeout_s,
                    max_retries=t.max_retries,
                    concurrency=t.concurrency,
                )
            )
        runner = Runner(
            compiled,
            state,
            connector,
            client,
            options,
            progress=display.update if display else None,
        )
        return runner.run()


@click.command()
@click.argument("mapping", type=MAPPING)
@click.option("--entity", "-e", "entities", multiple=True, help="Only these entities (repeat).")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors: extract everything.")
@click.option(
    "--dry-run", is_flag=True, help="Extract, map, validate and diff; send nothing, write no state."
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N source records per entity.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@STATE
def run(
    mapping: Path,
    entities: tuple[str, ...],
    full_refresh: bool,
    dry_run: bool,
    limit: int | None,
    as_json: bool,
    state_path: Path | None,
) -> None:
    """Push the platform's commerce data into Loop: backfill, then only what changed.

    Exit 0 when everything synced, 3 with quarantined or held-back records, 2 for a
    configuration error (nothing ran), 1 for a fatal error.
    """
    compiled = compiled_or_exit(mapping)
    _entities_or_exit(compiled, entities)
    options = RunOptions(entities=entities, full_refresh=full_refresh, dry_run=dry_run, limit=limit)
    _run_and_report(compiled, options, state_path_for(compiled.mapping, state_path), as_json)


def _run_and_report(
    compiled: CompiledMapping, options: RunOptions, path: Path, as_json: bool
) -> None:
    """Run with a progress display, print the summary, exit 0, or 3 with records parked."""
    display = RunDisplay(enabled=not as_json)
    try:
        with display:
            summary = execute(compiled, options, path, display)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        summary_table(summary)
    sys.exit(3 if summary.parked else 0)


@click.command()
@click.argument("mapping", type=MAPPING)
@click.option("--json", "as_json", is_flag=True)
@STATE
def status(mapping: Path, as_json: bool, state_path: Path | None) -> None:
    """Per entity: the cursor, the ID map, quarantine and held counts, and the last runs."""
    compiled = compiled_or_exit(mapping)
    path = state_path_for(compiled.mapping, state_path)
    if not path.exists():
        click.echo(f"no state yet at {path}: run `etl run {mapping}` first", err=True)
        sys.exit(1)
    with State(path) as state:
        counts, cursors, runs = state.counts(), state.cursors(), state.runs()
    report: dict[str, Any] = {
        "state": str(path),
        "entities": {
            name: {
                "cursor": cursors.get(name),
                **counts.get(name, {"synced": 0, "quarantined": 0, "held": 0}),
            }
            for name in compiled.mapping.order
        },
        "runs": runs,
    }
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    click.echo(f"state: {path}")
    click.echo(f"{'entity':<14} {'synced':>8} {'quarantined':>12} {'held':>6}  cursor")
    for name, row in report["entities"].items():
        click.echo(
            f"{name:<14} {row['synced']:>8} {row['quarantined']:>12} {row['held']:>6}  "
            f"{row['cursor'] or '-'}"
        )
    for r in runs:
        click.echo(f"run {r['run_id']}: {r['status']} started {r['started_at']}")


@click.group()
@click.argument("mapping", type=MAPPING)
@STATE
@click.pass_context
def quarantine(ctx: click.Context, mapping: Path, state_path: Path | None) -> None:
    """Records Loop would not take, or the mapping could not make: with every reason.

    etl quarantine MAPPING list|show ID|replay
    """
    ctx.obj = {"mapping": mapping, "state": state_path}


@quarantine.command(name="list")
@click.option("--entity", "-e")
@click.option("--json", "as_json", is_flag=True)
@STATE
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
@STATE
@click.pass_obj
def quarantine_show(obj: dict[str, Any], record_id: str, state_path: Path | None) -> None:
    """One record: ENTITY/KEY (or KEY when unique), its reasons and the record itself."""
    rows = [
        r
        for r in _parked(obj["mapping"], None, state_path or obj["state"])
        if f"{r['entity']}/{r['key']}" == record_id or r["key"] == record_id
    ]
    if len(rows) != 1:
        click.echo(f"{len(rows)} quarantined record(s) match {record_id!r}", err=True)
        sys.exit(1)
    click.echo(json.dumps(rows[0], indent=2, default=str))


@quarantine.command(name="replay")
@click.option("--entity", "-e", "entities", multiple=True)
@click.option("--json", "as_json", is_flag=True)
@STATE
@click.pass_obj
def quarantine_replay(
    obj: dict[str, Any], entities: tuple[str, ...], as_json: bool, state_path: Path | None
) -> None:
    """Send quarantined and held records again (after fixing the mapping or the data).

    Records are taken from the state as they were extracted, mapped with the mapping as it is
    now; the source is also read from the saved cursors, so fixed data there syncs too.
    """
    compiled = compiled_or_exit(obj["mapping"])
    _entities_or_exit(compiled, entities)
    options = RunOptions(entities=entities, replay=True)
    path = state_path_for(compiled.mapping, state_path or obj["state"])
    _run_and_report(compiled, options, path, as_json)


def _parked(mapping: Path, entity: str | None, state_path: Path | None) -> list[dict[str, Any]]:
    compiled = compiled_or_exit(mapping)
    path = state_path_for(compiled.mapping, state_path)
    if not path.exists():
        raise click.ClickException(f"no state yet at {path}")
    try:
        with State(path) as state:
            return state.parked("quarantine", entity) + state.parked("held", entity)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = (run, status, quarantine)
