"""The integrator's inner loop: `etl check`, `etl preview`, `etl test` (`etl schemas` is
engine/cli/schemas.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import click

from engine.cli.options import (
    MAPPING,
    check_entities,
    entity_option,
    json_option,
    mapping_argument,
)
from engine.cli.render import error_lines, preview_table
from engine.errors import ConfigError
from engine.mapping.compile import load_and_compile
from engine.mapping.records import RecordResult, map_records
from engine.mapping.testing import run_tests
from engine.sources import extract_records, read_records


@click.command()
@click.argument("mappings", nargs=-1, required=True, type=MAPPING)
def check(mappings: tuple[Path, ...]) -> None:
    """Check mapping files: exit 0 when valid, 2 with one line per problem otherwise."""
    failed = False
    for path in mappings:
        try:
            load_and_compile(path)
        except ConfigError as exc:  # every file is checked: the problems of each are shown
            failed = True
            for line in error_lines(exc):
                click.echo(line, err=True)
        else:
            click.echo(f"{path}: ok")
    sys.exit(2 if failed else 0)


@click.command()
@mapping_argument
@entity_option(required=True, help="The entity to preview.")
@click.option(
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A JSON (array or object) or JSONL file of source records.",
)
@click.option(
    "--records",
    "records_expr",
    help="JMESPath to the records in an --input file "
    "holding an object (default: the entity's extract.records).",
)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=5, show_default=True)
@json_option("one {input, payload, errors} object per record")
def preview(
    mapping: Path,
    entity: str,
    input_file: Path | None,
    records_expr: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Source records side by side with their Loop payload and its validation errors."""
    compiled = load_and_compile(mapping)
    check_entities(compiled, [entity])
    target = compiled.entities[entity]
    parent = target.entity.parent or entity  # a child's records come inside its parent's
    if input_file is not None:
        expr = records_expr or compiled.mapping.entities[parent].extract.get("records")
        _show(map_records(target, read_records(input_file, expr)), limit, as_json)
        return
    with extract_records(compiled.mapping, parent, limit) as records:
        _show(map_records(target, records), limit, as_json)


def _show(results: Iterator[RecordResult], limit: int, as_json: bool) -> None:
    shown = list(islice(results, limit))
    if as_json:
        for result in shown:
            click.echo(json.dumps(result.as_json(), default=str, ensure_ascii=False))
        return
    preview_table(shown)


@click.command(name="test")
@mapping_argument
def test_cmd(mapping: Path) -> None:
    """Run the mapping's `tests:`; exit 1 when any fails."""
    results = run_tests(load_and_compile(mapping))
    failed = [r for r in results if not r.passed]
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        click.echo(f"{mark} {result.case.entity}: {result.case.name} ({result.where})")
        for diff in result.differences:
            click.echo(f"    {diff}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


COMMANDS = (check, preview, test_cmd)
