"""Terminal rendering (rich): previews and summaries. Plain text when not on a terminal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def preview_table(results: Sequence[Any], console: Console | None = None) -> None:
    """Each record: its input beside its payload, then its errors."""
    console = console or Console(soft_wrap=False)
    for n, result in enumerate(results, 1):
        table = Table(title=f"record {n}", show_lines=False, expand=True)
        table.add_column("input", overflow="fold")
        table.add_column("Loop payload", overflow="fold")
        table.add_row(_pretty(result.input), _pretty(result.payload))
        console.print(table)
        if result.errors:
            for error in result.errors:
                console.print(f"  [red]error[/red] {error}", highlight=False, markup=True)
        else:
            console.print("  [green]valid[/green]")
    if not results:
        console.print("no records")
