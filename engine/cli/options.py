"""Options and arguments shared by the commands: the mapping, --state, --entity, --json; and
the one check that every --entity names an entity of the mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from engine.context import state_path_for
from engine.errors import ConfigError, StateError
from engine.mapping.compile import CompiledMapping
from engine.mapping.model import Mapping
from engine.mapping.suggest import unknown

F = TypeVar("F", bound=Callable[..., Any])

MAPPING = click.Path(dir_okay=False, path_type=Path)
"""A mapping file's path (`etl check` takes several)."""


def mapping_argument(fn: F) -> F:
    """The MAPPING argument: one mapping file."""
    return click.argument("mapping", type=MAPPING)(fn)


def state_option(fn: F) -> F:
    """--state PATH (`state_path`)."""
    return click.option(
        "--state",
        "state_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The state file (default: the mapping's state.path, else .etl/<name>.duckdb).",
    )(fn)


def json_option(what: str) -> Callable[[F], F]:
    """--json (`as_json`). Every command's --json prints JSON lines, one compact object per
    line, so that one parser reads them all; `what` says what a line is."""
    return click.option("--json", "as_json", is_flag=True, help=f"JSON lines: {what}.")


def entity_option(
    *, multiple: bool = False, required: bool = False, help: str | None = None
) -> Callable[[F], F]:
    """--entity / -e: one entity (`entity`), or repeated (`entities`). Check the names with
    `check_entities` once the mapping is compiled."""
    dest = "entities" if multiple else "entity"
    return click.option("--entity", "-e", dest, multiple=multiple, required=required, help=help)


def check_entities(
    compiled: CompiledMapping, names: Iterable[str | None], *, sources: bool = False
) -> None:
    """Every name is an entity of the mapping (or, with `sources`, also a `return_actions`
    source: `etl run` and `etl quarantine` take them), else a ConfigError suggesting the
    nearest."""
    known = list(compiled.entities)
    if sources:
        known += [source.name for source in compiled.return_actions]
    for name in names:
        if name is not None and name not in known:
            raise ConfigError(unknown("entity", name, known))


def existing_state(mapping: Mapping, given: Path | None, hint: str) -> Path:
    """The mapping's state file (`--state`, else its default), which must exist already;
    StateError with `hint` (what makes one) when it does not."""
    path = state_path_for(mapping, given)
    if not path.exists():
        raise StateError(f"no state yet at {path}: {hint}")
    return path
