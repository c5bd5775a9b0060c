"""The README documents every CLI command, every mapping key and every filter, and keeps the
two commands a new user copies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from engine.cli import main
from engine.mapping.filters import FILTER_NAMES

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _keys(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.get("properties", {}).items():
            found.add(key)
            found |= _keys(value)
        for sub in schema.get("$defs", {}).values():
            found |= _keys(sub)
    return found


def test_readme_keeps_the_two_commands_on_their_own_lines() -> None:
    lines = README.splitlines()
    assert "python -m pip install . && etl run mappings/shopify-like.yaml" in lines
    assert 'python -m pip install -e ".[test]" && python -m pytest' in lines


def test_readme_documents_every_mapping_key() -> None:
    schema = json.loads((REPO / "schemas" / "mapping.schema.json").read_text())
    missing = sorted(k for k in _keys(schema) if f"`{k}`" not in README)
    assert not missing, f"mapping keys missing from the README: {missing}"


def test_readme_documents_every_filter() -> None:
    missing = [name for name in FILTER_NAMES if f"`{name}`" not in README]
    assert not missing, f"filters missing from the README: {missing}"


def _commands(group: click.Group, prefix: str = "etl") -> list[str]:
    out = []
    for name, command in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
    return out


def test_readme_documents_every_cli_command() -> None:
    missing = []
    for command in _commands(main):
        words = command.split()
        # `etl quarantine MAPPING list` puts the mapping between group and subcommand
        pattern = r"\s+(?:[A-Z]+\s+)?".join(re.escape(w) for w in words)
        if not re.search(pattern, README):
            missing.append(command)
    assert not missing, f"commands missing from the README: {missing}"
