"""The run display: a live progress bar on a terminal, plain lines otherwise; the summary."""

from __future__ import annotations

import io

from rich.console import Console

from engine.cli.render import RunDisplay, summary_table
from engine.pipeline.run import EntityStats, RunSummary


def _stats() -> EntityStats:
    return EntityStats(
        "orders", extracted=50, created=40, unchanged=10, requests=42, seconds=2.0, total=200
    )


def test_run_display_on_a_terminal_shows_progress_with_total() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RunDisplay(console=console) as display:
        assert display.live
        display.update(_stats())
    text = out.getvalue()
    assert "orders" in text and "50/200" in text and "25 rec/s" in text


def test_run_display_without_a_terminal_prints_plain_lines() -> None:
    out = io.StringIO()
    with RunDisplay(console=Console(file=out, force_terminal=False, width=200)) as display:
        assert not display.live
        display.update(_stats())
    assert out.getvalue().strip() == (
        "orders: 50 extracted, 40 created, 0 updated, "
        "10 unchanged, 0 quarantined, 0 held (25 rec/s)"
    )


def test_summary_table_has_a_row_per_entity_and_every_column() -> None:
    out = io.StringIO()
    summary = RunSummary(7, [_stats()])
    summary_table(summary, Console(file=out, width=160))
    text = out.getvalue()
    for column in (
        "extracted",
        "unchanged",
        "created",
        "updated",
        "quarantined",
        "held",
        "requests",
        "429s",
        "seconds",
    ):
        assert column in text
    assert "run 7" in text and "orders" in text and "42" in text
