"""The `etl` group: the one EngineError handler (message and exit code), commands found
through entry points, and a start that needs neither the examples nor the sandbox."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import duckdb
import pytest
from click.testing import CliRunner

import engine.cli
from engine.cli import EtlGroup, main
from engine.errors import ConfigError, EngineError, Problem, StateError

REPO = Path(__file__).resolve().parents[2]
SHOPIFY = REPO / "mappings" / "shopify-like.yaml"


def _group_raising(error: EngineError) -> click.Group:
    @click.group(cls=EtlGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise error

    return group


@pytest.mark.parametrize(
    ("error", "code", "lines"),
    [
        pytest.param(EngineError("it broke"), 1, ["error: it broke"], id="an engine error"),
        pytest.param(StateError("locked"), 1, ["error: locked"], id="a state error"),
        pytest.param(ConfigError("bad"), 2, ["error: bad"], id="a config error without places"),
        pytest.param(
            ConfigError(
                "2 problem(s)",
                [Problem("m.yaml", 3, 5, "a.b", "x"), Problem("m.yaml", 4, 1, "", "y")],
            ),
            2,
            ["m.yaml:3:5: a.b: x", "m.yaml:4:1: y"],
            id="a config error shows one line per problem",
        ),
    ],
)
def test_group_shows_an_engine_error_and_exits_with_its_code(
    error: EngineError, code: int, lines: list[str]
) -> None:
    result = CliRunner().invoke(_group_raising(error), ["boom"])
    assert result.exit_code == code
    assert result.stderr.splitlines() == lines and result.stdout == ""


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            ["run", str(SHOPIFY), "-e", "order"],
            2,
            "error: unknown entity 'order' (did you mean 'orders'?)",
            id="run",
        ),
        pytest.param(
            ["reconcile", str(SHOPIFY), "-e", "prodcts"],
            2,
            "error: unknown entity 'prodcts' (did you mean 'products'?)",
            id="reconcile",
        ),
        pytest.param(
            ["quarantine", str(SHOPIFY), "replay", "-e", "x"],
            2,
            "error: unknown entity 'x'",
            id="quarantine replay",
        ),
        pytest.param(["schemas", "nope"], 2, "error: unknown schema 'nope'", id="schemas"),
    ],
)
def test_commands_report_errors_through_the_group(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code
    assert result.stderr.startswith(message), result.stderr


def test_status_without_state_exits_1(tmp_path: Path) -> None:
    state = tmp_path / "none.duckdb"
    result = CliRunner().invoke(main, ["status", str(SHOPIFY), "--state", str(state)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no state yet at {state}: run `etl run")


def test_plugin_commands_are_listed_and_loaded_when_named() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.stdout and "sandbox" in result.stdout
    assert CliRunner().invoke(main, ["demo", "--help"]).exit_code == 0


def test_a_broken_plugin_command_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    found = engine.cli._installed()
    broken = EntryPoint("broken", "no_such_module:command", engine.cli.COMMAND_GROUP)
    monkeypatch.setattr(engine.cli, "_installed", lambda: {**found, "broken": broken})

    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    result = CliRunner().invoke(main, ["broken", "x"])
    assert result.exit_code == 1
    assert "command 'broken': no_such_module:command could not be loaded" in result.stderr


def test_etl_starts_without_the_examples_or_the_sandbox() -> None:
    probe = "import sys, engine.cli; print(*sorted(m for m in sys.modules if m.startswith(NAMES)))"
    probe = probe.replace("NAMES", repr(("examples", "engine.sandbox")))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        pytest.param(
            OSError(28, "No space left on device", ".etl/s.duckdb"),
            "error: No space left on device: .etl/s.duckdb",
            id="full disk",
        ),
        pytest.param(
            duckdb.IOException("IO Error: No space left on device"),
            "error: the state database failed: IO Error: No space left on device",
            id="duckdb full disk",
        ),
    ],
)
def test_operating_system_and_database_errors_are_one_line_exit_1(
    error: Exception, shown: str
) -> None:
    group = EtlGroup(name="etl")

    @group.command()
    def boom() -> None:
        raise error

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == 1
    assert result.output.strip() == shown
