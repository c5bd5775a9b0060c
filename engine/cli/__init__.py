"""The `etl` command line: the click group, and the only place that turns an EngineError into a
message and an exit code.

Commands beyond the engine's own (`etl demo`, `etl sandbox`, any plugin's) are found in the
entry-point group `loop_etl.commands` and loaded only when named, so `etl check` starts
without them and a broken plugin does not stop `etl`.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click
import duckdb

from engine import __version__
from engine.cli.inbox import COMMANDS as INBOX_COMMANDS
from engine.cli.mapping import COMMANDS as MAPPING_COMMANDS
from engine.cli.outbox import COMMANDS as OUTBOX_COMMANDS
from engine.cli.poll import COMMANDS as POLL_COMMANDS
from engine.cli.reconcile import COMMANDS as RECONCILE_COMMANDS
from engine.cli.render import error_lines, os_error_text
from engine.cli.returns import COMMANDS as RETURNS_COMMANDS
from engine.cli.run import COMMANDS as RUN_COMMANDS
from engine.cli.schemas import COMMANDS as SCHEMAS_COMMANDS
from engine.cli.serve import COMMANDS as SERVE_COMMANDS
from engine.cli.webhooks import COMMANDS as WEBHOOKS_COMMANDS
from engine.errors import EngineError

COMMAND_GROUP = "loop_etl.commands"


class EtlGroup(click.Group):
    """The root group: the engine's commands, plus those installed under `loop_etl.commands`;
    an EngineError raised by any of them is shown on stderr and exits with its exit code. An
    operating system error (a full disk, a folder that cannot be created, a file that cannot
    be read) is shown the same way, exit 1, never as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            for line in error_lines(exc):
                click.echo(line, err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            for line in error_lines(EngineError(os_error_text(exc))):
                click.echo(line, err=True)
            ctx.exit(1)
        except duckdb.Error as exc:  # a full disk, a corrupt file: the state's database
            for line in error_lines(EngineError(f"the state database failed: {exc}")):
                click.echo(line, err=True)
            ctx.exit(1)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_installed()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in _installed():
            command = _load(cmd_name)
        return command


def _installed() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}


def _load(name: str) -> click.Command:
    ep = _installed()[name]
    try:
        command = ep.load()
    except Exception as exc:  # a broken plugin: say so when it is used, keep `etl` working
        return _unavailable(name, f"{ep.value} could not be loaded: {exc}")
    if not isinstance(command, click.Command):
        return _unavailable(name, f"{ep.value} is not a click command")
    return command


def _unavailable(name: str, why: str) -> click.Command:
    def fail() -> None:
        raise click.ClickException(f"command {name!r}: {why}")

    settings = {"ignore_unknown_options": True, "allow_extra_args": True}
    return click.Command(
        name, callback=fail, help=f"(unavailable: {why})", context_settings=settings
    )


@click.group(cls=EtlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="etl")
def main() -> None:
    """loop-etl: declarative ETL for Loop Anywhere integrations."""


for _command in (
    *MAPPING_COMMANDS,
    *SCHEMAS_COMMANDS,
    *RUN_COMMANDS,
    *RECONCILE_COMMANDS,
    *RETURNS_COMMANDS,
    *WEBHOOKS_COMMANDS,
    *SERVE_COMMANDS,
    *INBOX_COMMANDS,
    *OUTBOX_COMMANDS,
    *POLL_COMMANDS,
):
    main.add_command(_command)
