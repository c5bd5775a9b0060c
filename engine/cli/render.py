"""Terminal rendering (rich): previews, run progress, the run summary and the reconcile report.
Plain text when not on a terminal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine import redaction
from engine.errors import ConfigError, EngineError
from engine.mapping.records import RecordResult
from engine.pipeline.estimate import Estimate
from engine.pipeline.run import EntityStats, RunSummary
from engine.reconcile import EntityReport, ReconcileReport

SUMMARY_COLUMNS = (
    "extracted",
    "unchanged",
    "created",
    "updated",
    "quarantined",
    "held",
    "deferred",
    "requests",
    "rate_limited",
    "source_requests",
    "seconds",
)
HEADERS = {"requests": "to Loop", "rate_limited": "429s", "source_requests": "to source"}
SHOWN_KEYS = 3  # keys shown per category in the reconcile table
CATEGORIES = ("missing", "drifted", "extra", "stale_id_map", "unmappable")
RECONCILE_COLUMNS = (
    *("platform", "loop", "id map", "matching"),
    *("missing", "drifted", "extra", "stale id map", "unmappable", "fixed", "expected extra"),
)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def _tty() -> bool:
    return Console().is_terminal


def preview_table(results: Sequence[RecordResult], console: Console | None = None) -> None:
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
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RunDisplay:
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8} rec/s"),
                TextColumn("{task.fields[asked]:>6} source requests"),
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

    def announce(self, estimate: Estimate) -> None:
        """The backfill estimate, before the run's progress (stderr; not with --json)."""
        if self.enabled:
            for line in estimate.text():
                self.console.print(line, highlight=False, markup=False)

    def update(self, stats: EntityStats) -> None:
        if not self.enabled:
            return
        rate = stats.extracted / stats.seconds if stats.seconds > 0 else 0.0
        if self._progress is None:
            self.console.print(
                f"{stats.entity}: {stats.extracted} extracted, {stats.created} created, "
                f"{stats.updated} updated, {stats.unchanged} unchanged, "
                f"{stats.quarantined} quarantined, {stats.held} held, "
                f"{stats.source_requests} source requests ({rate:.0f} rec/s)",
                highlight=False,
                markup=False,
            )
            return
        task = self._tasks.get(stats.entity)
        if task is None:
            task = self._progress.add_task(stats.entity, total=stats.total, rate="0", asked=0)
            self._tasks[stats.entity] = task
        self._progress.update(
            task,
            completed=stats.extracted,
            total=stats.total,
            rate=f"{rate:.0f}",
            asked=stats.source_requests,
        )


def summary_table(summary: RunSummary, console: Console | None = None) -> None:
    """The end-of-run table: where the data came from and went in its title, then one row per
    entity."""
    console = console or Console(width=None if _tty() else 120)
    title = "dry run (nothing sent)" if summary.dry_run else f"run {summary.run_id}"
    table = Table(title="\n".join([title, *route_lines(summary)]))
    table.add_column("entity")
    # `deferred` only matters to a mapping with `send: referenced`: shown when not all 0
    deferring = any(stats.deferred for stats in summary.entities)
    columns = [c for c in SUMMARY_COLUMNS if c != "deferred" or deferring]
    for column in columns:
        table.add_column(HEADERS.get(column, column), justify="right")
    for stats in summary.entities:
        row = stats.as_dict()
        table.add_row(stats.entity, *(str(row[c]) for c in columns))
    console.print(table)


def route_lines(summary: RunSummary) -> list[str]:
    """`from http http://shop/admin/api (embedded demo)`, `to Loop https://api...`: the
    summary's source and target as they were used (never a credential)."""
    lines = []
    if summary.source:
        source = dict(summary.source)
        embedded = source.pop("embedded", False)
        where = " ".join(str(value) for value in source.values())
        lines.append(f"from {where}" + (" (embedded demo)" if embedded else ""))
    if summary.target:
        url = str(summary.target.get("base_url"))
        if not summary.target.get("embedded"):
            lines.append(f"to Loop {url}")
        elif url.startswith("embedded"):  # a dry run does not start the sandbox
            lines.append("to the embedded Loop sandbox (not started)")
        else:
            lines.append(f"to Loop {url} (embedded sandbox)")
    return lines


def report_table(report: ReconcileReport, console: Console | None = None) -> None:
    """Counts per entity, then the first keys of each category found."""
    console = console or Console(width=None if _tty() else 140)
    table = Table(title="reconcile" + (" --fix" if report.fix else ""))
    table.add_column("entity", no_wrap=True)
    for column in RECONCILE_COLUMNS:
        table.add_column(column, justify="right")
    for e in report.entities:
        counts = [str(len(getattr(e, c))) for c in CATEGORIES]
        fixed = sum(len(keys) for keys in e.fixed.values())
        sizes = [str(n) for n in (e.platform, e.loop, e.id_map, e.matching)]
        fixed_text = str(fixed) if report.fix else "-"
        table.add_row(e.entity, *sizes, *counts, fixed_text, str(len(e.expected_extra)))
    console.print(table)
    for e in report.entities:
        for line in _details(e):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    remaining = report.remaining
    verdict = f"{remaining} difference(s) remain" if remaining else "everything matches"
    console.print(verdict, highlight=False)


def _details(e: EntityReport) -> list[str]:
    lines = [f"{e.entity}: skipped: {e.skipped}"] if e.skipped else []
    for category in (*CATEGORIES, "expected_extra"):  # expected extras: listed, not counted
        found = getattr(e, category)
        if not found:
            continue
        keys = list(found)[:SHOWN_KEYS]
        more = f" (+{len(found) - SHOWN_KEYS} more)" if len(found) > SHOWN_KEYS else ""
        lines.append(f"{e.entity} {category.replace('_', ' ')}: {', '.join(keys)}{more}")
        if isinstance(found, dict):
            for key in keys:
                why = found[key]
                for reason in why if isinstance(why, list) else [why]:
                    lines.append(f"    {key}: {reason}")
    for key, reasons in list(e.failed.items())[:SHOWN_KEYS]:
        lines.append(f"{e.entity} not fixed: {key}: {'; '.join(reasons)}")
    return lines


def error_lines(error: EngineError) -> list[str]:
    """How an EngineError is shown: the `file:line:col` problem lines of a ConfigError that
    has them, else `error: <message>`."""
    if isinstance(error, ConfigError) and error.problems:
        return [redaction.scrub(str(problem)) for problem in error.problems]
    return [redaction.scrub(f"error: {error}")]


def os_error_text(exc: OSError) -> str:
    """'No space left on device: .etl/shop.duckdb' rather than a traceback."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename if exc.filename is not None else ""
    return f"{what}: {where}" if where else str(what)
