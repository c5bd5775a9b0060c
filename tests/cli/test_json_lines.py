"""Every `--json` of every `etl` command prints JSON lines: one compact object per line, so one
parser reads them all (engine/cli/options.py json_option; the README's convention)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from engine.cli import main
from engine.sandbox.server import SandboxHandle
from tests.cli.loop_support import etl
from tests.sandbox.support import create_return, sync_order

MAPPING = """\
version: 1
name: json-lines
source: {connector: files, root: data}
target: {base_url: "${LOOP_API_URL:-embedded}", api_key: "${LOOP_API_KEY:-sandbox}"}
entities:
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email}
"""
# one customer Loop takes, one the mapping cannot make (no id): something to list everywhere
CUSTOMERS = [{"id": 1, "email": "ann@example.com"}, {"email": "no-id@example.com"}]


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> set[str]:
    """The paths (`quarantine list`) of every command, plugins too, that has --json."""
    found = set()
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found |= _commands(command, ctx, (*path, name))
        elif command is not None and any("--json" in p.opts for p in command.params):
            found.add(" ".join((*path, name)))
    return found


def _lines(output: str) -> list[dict[str, Any]]:
    """The convention: every non-empty line is one JSON object on its own."""
    parsed = [json.loads(line) for line in output.splitlines()]
    assert all(isinstance(p, dict) for p in parsed), output
    return parsed


def test_json_lines_every_command_with_json_prints_one_object_per_line(
    sb: SandboxHandle, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.json").write_text(json.dumps(CUSTOMERS))
    mapping = tmp_path / "json-lines.yaml"
    mapping.write_text(MAPPING)
    m, state = str(mapping), ["--state", str(tmp_path / "state.duckdb")]
    order = sync_order(sb, tag="9700", quantities=(2,))
    rid = str(create_return(sb, order, {"line_item_id": order.lines[0], "quantity": 1,
                                        "outcome": "refund"})["id"])  # fmt: skip
    # something in every list: a note, a subscription, the return polled into the inbox
    for argv in (["returns", m, "note", rid, "checked"], ["webhooks", m, "subscribe"],
                 ["poll", m, "--no-process", *state]):  # fmt: skip
        assert etl(sb, *argv).exit_code == 0, argv
    # (argv, expected exit code, how many lines: None for "one per item, at least one")
    runs: dict[str, tuple[list[str], int, int | None]] = {
        "run": (["run", m, "--json", *state], 3, 1),
        "status": (["status", m, "--json", *state], 0, 1),
        "preview": (["preview", m, "-e", "customers", "--json"], 0, 2),
        "quarantine list": (["quarantine", m, "list", "--json", *state], 0, 1),
        "quarantine replay": (["quarantine", m, "replay", "--json", *state], 3, 1),
        "reconcile": (["reconcile", m, "--json", *state], 3, 1),
        "inbox list": (["inbox", m, "list", "--json", *state], 0, 1),
        "outbox list": (["outbox", m, "list", "--json", *state], 0, 0),
        "returns list": (["returns", m, "list", "--json"], 0, None),
        "returns notes": (["returns", m, "notes", rid, "--json"], 0, None),
        "webhooks list": (["webhooks", m, "list", "--json"], 0, None),
        "sandbox return list": (
            ["sandbox", "return", "list", "--url", sb.base_url, "--json"],
            0,
            None,
        ),
    }

    with click.Context(main) as ctx:
        assert _commands(main, ctx) == set(runs), "a command with --json is not checked here"
    for name, (argv, code, count) in runs.items():
        result = etl(sb, *argv) if argv[0] != "sandbox" else CliRunner().invoke(main, argv)
        assert result.exit_code == code, f"{name}: {result.output}"
        lines = _lines(result.stdout)
        assert len(lines) == count if count is not None else lines, f"{name}: {result.stdout}"
