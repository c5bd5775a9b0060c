"""The `etl` command line: the only place that turns EngineErrors into messages and exit codes."""

from __future__ import annotations

import click

from engine import __version__
from engine.cli_mapping import COMMANDS as MAPPING_COMMANDS
from engine.cli_reconcile import reconcile_command
from engine.cli_run import COMMANDS as RUN_COMMANDS
from engine.sandbox.cli import sandbox
from examples.cli import demo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="etl")
def main() -> None:
    """loop-etl: declarative ETL for Loop Anywhere integrations."""


main.add_command(sandbox)

for _command in (*MAPPING_COMMANDS, *RUN_COMMANDS):
    main.add_command(_command)

main.add_command(demo)
main.add_command(reconcile_command)
