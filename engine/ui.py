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


class RunDisplay:
    """Live progress per entity on a terminal (rich); plain log lines on stderr otherwise."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RunDisplay:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8} rec/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def update(self, stats: Any) -> None:
        if not self.enabled:
            return
        rate = stats.extracted / stats.seconds if stats.seconds > 0 else 0.0
        if self._progress is None:
            self.console.print(
                f"{stats.entity}: {stats.extracted} extracted, {stats.created} created, "
                f"{stats.updated} updated, {stats.unchanged} unchanged, "
                f"{stats.quarantined} quarantined, {stats.held} held ({rate:.0f} rec/s)",
                highlight=False,
                markup=False,
            )
            return
        task = self._tasks.get(stats.entity)
        if task is None:
            task = self._progress.add_task(stats.entity, total=stats.total, rate="0")
            self._tasks[stats.entity] = task
        self._progress.update(
            task, completed=stats.extracted, total=stats.total, rate=f"{rate:.0f}"
        )


SUMMARY_COLUMNS = (
    "extracted",
    "unchanged",
    "created",
    "updated",
    "quarantined",
    "held",
    "requests",
    "rate_limited",
    "seconds",
)


def summary_table(summary: Any, console: Console | None = None) -> None:
    """The end-of-run table: one row per entity."""
    console = console or Console(width=None if _tty() else 120)
    title = "dry run (nothing sent)" if summary.dry_run else f"run {summary.run_id}"
    table = Table(title=title)
    table.add_column("entity")
    for column in SUMMARY_COLUMNS:
        table.add_column("429s" if column == "rate_limited" else column, justify="right")
    for stats in summary.entities:
        row = stats.as_dict()
        table.add_row(stats.entity, *(str(row[c]) for c in SUMMARY_COLUMNS))
    console.print(table)


def _tty() -> bool:
    return Console().is_terminal
