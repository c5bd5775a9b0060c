"""The integrator's inner loop: `etl check`, `etl preview`, `etl test`, `etl schemas`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import click
import jmespath

from engine.errors import ConfigError, EngineError
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.mapping.records import RecordResult, map_records
from engine.mapping.suggest import unknown
from engine.mapping.testing import run_tests
from engine.validation import schema_document, schema_names

MAPPING = click.Path(dir_okay=False, path_type=Path)


def compiled_or_exit(path: Path) -> CompiledMapping:
    """Load and compile, or print every problem (file:line:col: path: message) and exit 2."""
    try:
        return load_and_compile(path)
    except ConfigError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        sys.exit(exc.exit_code)


@click.command()
@click.argument("mappings", nargs=-1, required=True, type=MAPPING)
def check(mappings: tuple[Path, ...]) -> None:
    """Check mapping files: exit 0 when valid, 2 with one line per problem otherwise."""
    failed = False
    for path in mappings:
        try:
            load_and_compile(path)
        except ConfigError as exc:
            failed = True
            for line in exc.lines():
                click.echo(line, err=True)
        else:
            click.echo(f"{path}: ok")
    sys.exit(2 if failed else 0)


@click.command()
@click.argument("mapping", type=MAPPING)
@click.option("--entity", "-e", required=True, help="The entity to preview.")
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def preview(
    mapping: Path,
    entity: str,
    input_file: Path | None,
    records_expr: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Source records side by side with their Loop payload and its validation errors."""
    compiled = compiled_or_exit(mapping)
    if entity not in compiled.entities:
        click.echo(unknown("entity", entity, compiled.entities), err=True)
        sys.exit(2)
    target = compiled.entities[entity]
    try:
        if input_file is not None:
            source_entity = compiled.mapping.entities[target.entity.parent or entity]
            expr = records_expr or source_entity.extract.get("records")
            records: Iterator[Any] = read_records(input_file, expr)
            _show(map_records(target, records), limit, as_json)
        else:
            from engine.sources import extract_records

            parent = target.entity.parent or entity
            with extract_records(compiled.mapping, parent, limit) as records:
                _show(map_records(target, records), limit, as_json)
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def read_records(path: Path, records_expr: str | None = None) -> Iterator[Any]:
    """Records from a JSON array, a JSONL file, or a JSON object: the list (or the one object)
    that `records_expr` finds in it, else the object itself as one record."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from json.loads(text)
    elif path.suffix == ".jsonl" or "\n{" in stripped:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: not JSON: {exc.msg}") from None
    else:
        document = json.loads(text)
        found = jmespath.search(records_expr, document) if records_expr else None
        if found is None and isinstance(document, dict) and len(document) == 1:
            found = next(iter(document.values()))  # {"order": {...}}: the wrapped record
        if isinstance(found, list):
            yield from found
        else:
            yield document if found is None else found


def _show(results: Iterator[RecordResult], limit: int, as_json: bool) -> None:
    shown = list(islice(results, limit))
    if as_json:
        for result in shown:
            click.echo(json.dumps(result.as_json(), default=str, ensure_ascii=False))
        return
    from engine.ui import preview_table

    preview_table(shown)


@click.command(name="test")
@click.argument("mapping", type=MAPPING)
def test_cmd(mapping: Path) -> None:
    """Run the mapping's `tests:`; exit 1 when any fails."""
    compiled = compiled_or_exit(mapping)
    results = run_tests(compiled)
    failed = [r for r in results if not r.passed]
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        click.echo(f"{mark} {result.case.entity}: {result.case.name} ({result.where})")
        for diff in result.differences:
            click.echo(f"    {diff}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@click.command()
@click.argument("name", required=False)
def schemas(name: str | None) -> None:
    """List the JSON Schemas (payloads, events, mapping), or print one."""
    try:
        if name is None:
            for known in schema_names():
                title = schema_document(known).get("title", "")
                click.echo(f"{known:<24} {title}")
            return
        click.echo(json.dumps(schema_document(name), indent=2))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


COMMANDS = (check, preview, test_cmd, schemas)
