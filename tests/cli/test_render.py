"""The run display: a live progress bar on a terminal, plain lines otherwise; the summary."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from engine.cli.render import RunDisplay, summary_table
from engine.pipeline.run import EntityStats, RunSummary


def _stats() -> EntityStats:
    return EntityStats(
        "orders",
        extracted=50,
        created=40,
        unchanged=10,
        requests=42,
        seconds=2.0,
        total=200,
        source_requests=7,
    )


def test_run_display_on_a_terminal_shows_progress_with_total() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RunDisplay(console=console) as display:
        assert display.live
        display.update(_stats())
    text = out.getvalue()
    assert "orders" in text and "50/200" in text and "25 rec/s" in text
    assert "7 source requests" in text


def test_run_display_without_a_terminal_prints_plain_lines() -> None:
    out = io.StringIO()
    with RunDisplay(console=Console(file=out, force_terminal=False, width=200)) as display:
        assert not display.live
        display.update(_stats())
    assert out.getvalue().strip() == (
        "orders: 50 extracted, 40 created, 0 updated, "
        "10 unchanged, 0 quarantined, 0 held, 7 source requests (25 rec/s)"
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
        "to Loop",
        "to source",
        "429s",
        "seconds",
    ):
        assert column in text
    assert "run 7" in text and "orders" in text and "42" in text
    assert "deferred" not in text  # no entity deferred anything: no column


def test_summary_table_shows_deferred_when_an_entity_deferred_records() -> None:
    out = io.StringIO()
    customers = EntityStats("customers", extracted=9, created=2, deferred=7)
    summary_table(RunSummary(7, [customers, _stats()]), Console(file=out, width=200))
    [header] = [line for line in out.getvalue().splitlines() if "extracted" in line]
    [row] = [line for line in out.getvalue().splitlines() if "customers" in line]
    cells = [c.strip() for c in header.split("┃")[1:-1]]
    values = [c.strip() for c in row.split("│")[1:-1]]
    assert dict(zip(cells, values, strict=True))["deferred"] == "7"


@pytest.mark.parametrize(
    ("summary", "title"),
    [
        pytest.param(
            RunSummary(
                3,
                source={"connector": "files", "root": "/data/erp", "embedded": False},
                target={"base_url": "https://api.loopreturns.com", "embedded": False},
            ),
            ["run 3", "from files /data/erp", "to Loop https://api.loopreturns.com"],
            id="real systems",
        ),
        pytest.param(
            RunSummary(
                4,
                source={"connector": "sql", "database": ":memory:", "root": "/d", "embedded": True},
                target={"base_url": "http://127.0.0.1:5000", "embedded": True},
            ),
            [
                "run 4",
                "from sql :memory: /d (embedded demo)",
                "to Loop http://127.0.0.1:5000 (embedded sandbox)",
            ],
            id="embedded",
        ),
        pytest.param(
            RunSummary(
                None,
                dry_run=True,
                source={"connector": "http", "base_url": "https://shop", "embedded": False},
                target={"base_url": "embedded", "embedded": True},
            ),
            [
                "dry run (nothing sent)",
                "from http https://shop",
                "to the embedded Loop sandbox (not started)",
            ],
            id="a dry run starts no sandbox",
        ),
        pytest.param(RunSummary(5), ["run 5"], id="a summary that names nothing"),
    ],
)
def test_summary_table_title_names_source_and_target(summary: RunSummary, title: list[str]) -> None:
    out = io.StringIO()
    summary_table(summary, Console(file=out, width=160))
    lines = [line.strip() for line in out.getvalue().splitlines()]
    assert lines[: len(title)] == title
