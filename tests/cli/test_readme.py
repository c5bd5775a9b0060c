"""The README's CLI table against the click commands: every command is documented, and every
command and option the table names exists (plugins' `etl demo` and `etl sandbox` included)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from engine.cli import main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
ROWS = [line for line in README.splitlines() if line.startswith("| `etl ")]


def _commands(group: click.Group, prefix: tuple[str, ...] = ("etl",)) -> dict[str, click.Command]:
    """Every command by its words ("etl quarantine list"), the lazily loaded ones too."""
    ctx = click.Context(group)
    out: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        out[" ".join((*prefix, name))] = command
        if isinstance(command, click.Group):
            out.update(_commands(command, (*prefix, name)))
    return out


COMMANDS = _commands(main)


def _documented(row: str) -> tuple[str, list[str]]:
    """The command a table row documents (its words before the first argument or option),
    and every --option the row names."""
    usage = row.split("`")[1]
    words = [w for w in usage.split() if re.fullmatch(r"[a-z][a-z-]*", w)]
    while " ".join(words) not in COMMANDS:
        words.pop()
    return " ".join(words), sorted(set(re.findall(r"(--[a-z][a-z-]*)", row)))


def test_readme_documents_every_cli_command() -> None:
    missing = []
    for command in COMMANDS:
        words = command.split()
        # `etl quarantine MAPPING list` puts the mapping between group and subcommand
        pattern = r"\s+(?:[A-Z]+\s+)?".join(re.escape(w) for w in words)
        if not re.search(pattern, README):
            missing.append(command)
    assert not missing, f"commands missing from the README: {missing}"


def test_readme_lists_the_plugin_commands() -> None:
    assert {"etl demo shopify-like", "etl sandbox return create"} <= set(COMMANDS)


@pytest.mark.parametrize("row", ROWS, ids=[row.split("`")[1] for row in ROWS])
def test_readme_cli_row_names_only_real_options(row: str) -> None:
    name, options = _documented(row)
    command = COMMANDS[name]
    known = {opt for param in command.params for opt in param.opts}
    assert set(options) <= known, f"{name}: {sorted(set(options) - known)} do not exist"
