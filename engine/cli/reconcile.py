"""`etl reconcile`: the daily check of the platform, the ID map and Loop, with --fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.cli.options import (
    check_entities,
    entity_option,
    json_option,
    mapping_argument,
    state_option,
)
from engine.cli.render import report_table
from engine.context import state_path_for
from engine.mapping.compile import load_and_compile
from engine.reconcile import ReconcileOptions, reconcile


@click.command(name="reconcile")
@mapping_argument
@entity_option(
    multiple=True, help="Only these entities (repeat); a child entity brings its parent."
)
@click.option(
    "--fix",
    is_flag=True,
    help="Push missing and drifted records, repair stale ID "
    "map rows. Extra records in Loop are only reported, never deleted.",
)
@json_option("the report as one object on one line")
@state_option
def reconcile_command(
    mapping: Path, entities: tuple[str, ...], fix: bool, as_json: bool, state_path: Path | None
) -> None:
    """Compare the platform (everything, cursors ignored), the ID map and Loop's records.

    Per entity: missing (on the platform, not in Loop), extra (in Loop only), drifted (Loop's
    stored fields differ from what the mapping makes now), stale ID map rows, and records the
    mapping cannot make. Exit 0 when everything matches (after fixing, with --fix), 3 when
    differences remain, 2 for a configuration error, 1 for a fatal error.
    """
    compiled = load_and_compile(mapping)
    check_entities(compiled, entities)
    path = state_path_for(compiled.mapping, state_path)
    report = reconcile(compiled, ReconcileOptions(entities=entities, fix=fix), path)
    if as_json:
        click.echo(json.dumps(report.as_dict(), default=str))
    else:
        report_table(report)
    sys.exit(3 if report.remaining else 0)


COMMANDS = (reconcile_command,)
