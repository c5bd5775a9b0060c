"""`etl reconcile`: the daily check of the platform, the ID map and Loop, with --fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from engine.cli_mapping import MAPPING, compiled_or_exit
from engine.cli_run import STATE
from engine.embedded import state_path_for
from engine.errors import EngineError
from engine.mapping.suggest import unknown
from engine.reconcile import EntityReport, ReconcileOptions, ReconcileReport, reconcile

SHOWN_KEYS = 3  # keys shown per category in the table
CATEGORIES = ("missing", "drifted", "extra", "stale_id_map", "unmappable")


@click.command(name="reconcile")
@click.argument("mapping", type=MAPPING)
@click.option(
    "--entity",
    "-e",
    "entities",
    multiple=True,
    help="Only these entities (repeat); a child entity brings its parent.",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Push missing and drifted records, repair stale ID "
    "map rows. Extra records in Loop are only reported, never deleted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@STATE
def reconcile_command(
    mapping: Path, entities: tuple[str, ...], fix: bool, as_json: bool, state_path: Path | None
) -> None:
    """Compare the platform (everything, cursors ignored), the ID map and Loop's records.

    Per entity: missing (on the platform, not in Loop), extra (in Loop only), drifted (Loop's
    stored fields differ from what the mapping makes now), stale ID map rows, and records the
    mapping cannot make. Exit 0 when everything matches (after fixing, with --fix), 3 when
    differences remain, 2 for a configuration error, 1 for a fatal error.
    """
    compiled = compiled_or_exit(mapping)
    for name in entities:
        if name not in compiled.entities:
            click.echo(unknown("entity", name, compiled.entities), err=True)
            sys.exit(2)
    path = state_path_for(compiled.mapping, state_path)
    try:
        report = reconcile(compiled, ReconcileOptions(entities=entities, fix=fix), path)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps(report.as_dict(), default=str))
    else:
        report_table(report)
    sys.exit(3 if report.remaining else 0)


def report_table(report: ReconcileReport, console: Console | None = None) -> None:
    """Counts per entity, then the first keys of each category found."""
    console = console or Console(width=None if Console().is_terminal else 140)
    table = Table(title="reconcile" + (" --fix" if report.fix else ""))
    table.add_column("entity", no_wrap=True)
    for column in (
        "platform",
        "loop",
        "id map",
        "matching",
        "missing",
        "drifted",
        "extra",
        "stale id map",
        "unmappable",
        "fixed",
    ):
        table.add_column(column, justify="right")
    for e in report.entities:
        counts = [str(len(getattr(e, c))) for c in CATEGORIES]
        fixed = sum(len(keys) for keys in e.fixed.values())
        table.add_row(
            e.entity,
            str(e.platform),
            str(e.loop),
            str(e.id_map),
            str(e.matching),
            *counts,
            str(fixed) if report.fix else "-",
        )
    console.print(table)
    for e in report.entities:
        for line in _details(e):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    verdict = (
        "everything matches" if not report.remaining else f"{report.remaining} difference(s) remain"
    )
    console.print(verdict, highlight=False)


def _details(e: EntityReport) -> list[str]:
    lines = [f"{e.entity}: skipped: {e.skipped}"] if e.skipped else []
    for category in CATEGORIES:
        found = getattr(e, category)
        if not found:
            continue
        keys = list(found)[:SHOWN_KEYS]
        more = f" (+{len(found) - SHOWN_KEYS} more)" if len(found) > SHOWN_KEYS else ""
        lines.append(f"{e.entity} {category.replace('_', ' ')}: {', '.join(keys)}{more}")
        if isinstance(found, dict):
            for key in keys:
                why = found[key]
                for reason in why if isinstance(why, list) else [why]:
                    lines.append(f"    {key}: {reason}")
    for key, reasons in list(e.failed.items())[:SHOWN_KEYS]:
        lines.append(f"{e.entity} not fixed: {key}: {'; '.join(reasons)}")
    return lines


COMMANDS = (reconcile_command,)
