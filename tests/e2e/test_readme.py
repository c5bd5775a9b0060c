"""The README's main command, with nothing set: the demo shop and the Loop sandbox start
in-process, the run completes over real HTTP and prints its summary; a second run meets the Loop
the first one filled (kept beside the state) and sends nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.e2e.conftest import MAPPINGS, Etl, Result, clean_env

COLUMNS = ("extracted", "unchanged", "created", "updated", "quarantined", "held", "requests")
ENTITIES = {"locations", "customers", "products", "variants", "inventories", "collections",
            "orders"}  # fmt: skip


def _table(result: Result) -> dict[str, dict[str, int]]:
    """The summary table's rows: entity -> the numbers in its columns."""
    rows: dict[str, dict[str, int]] = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│")]
        cells = [c for c in cells if c]
        if cells and cells[0] in ENTITIES:
            rows[cells[0]] = dict(zip(COLUMNS, (int(c) for c in cells[1:8]), strict=True))
    return rows


def _writes(sandbox_db: Path) -> int:
    with duckdb.connect(str(sandbox_db), read_only=True) as db:
        row = db.execute(
            "SELECT count(*) FROM sandbox_requests "
            "WHERE method IN ('PUT', 'POST', 'PATCH', 'DELETE')"
        ).fetchone()
    return int(row[0]) if row else 0


def test_readme_main_command_runs_embedded_and_a_second_run_sends_nothing(
        tmp_path: Path) -> None:  # fmt: skip
    # only the pace and the demo size are set, so that the test is quick
    env = clean_env(LOOP_RATE_LIMIT="0/min", ETL_DEMO_ORDERS="20")
    etl = Etl(MAPPINGS / "shopify-like.yaml", tmp_path / "unused", env, cwd=tmp_path)

    first = etl("run", str(etl.mapping), state=False)

    assert first.code == 0, first
    table = _table(first)
    assert set(table) == ENTITIES, first.stdout
    assert all(row["created"] == row["extracted"] > 0 for row in table.values()), table
    assert (tmp_path / ".etl" / "shopify-like.duckdb").exists()
    sandbox_db = tmp_path / ".etl" / "shopify-like.sandbox.duckdb"
    sent = _writes(sandbox_db)
    assert sent == sum(row["requests"] for row in table.values())
    # not a terminal: progress comes as plain log lines on stderr, one per page at least
    progress = [line for line in first.stderr.splitlines() if " extracted, " in line]
    assert any(line.startswith("orders: ") and " created, " in line for line in progress), (
        first.stderr
    )

    second = etl("run", str(etl.mapping), state=False)

    assert second.code == 0, second
    table = _table(second)
    assert set(table) == ENTITIES, second.stdout
    for row in table.values():
        assert row["created"] == row["updated"] == row["requests"] == 0, table
        assert row["unchanged"] == row["extracted"], table
    assert _writes(sandbox_db) == sent
