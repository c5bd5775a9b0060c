"""Parked records: the typed table name, reading them back, and counts per entity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.state import BatchOutcome, Parked, ParkedTable, State, Synced


@pytest.fixture
def state(tmp_path: Path) -> Any:
    with State(tmp_path / "s.duckdb") as opened:
        run = opened.start_run("run")
        opened.commit(
            BatchOutcome(
                "variants",
                quarantined=[Parked("v2", ["bad"], {"id": 2}, stage="validate")],
                held=[Parked("v1", ["waits"], {"id": 1}, {"id": 7})],
            ),
            run,
        )
        opened.commit(
            BatchOutcome(
                "orders",
                synced=[Synced("o9", 9, "h")],
                quarantined=[Parked("o2", ["x"], [1]), Parked("o1", ["y"], "text")],
            ),
            run,
        )
        yield opened


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(ParkedTable.QUARANTINE, id="enum"),
        pytest.param("quarantine", id="string callers pass today"),
    ],
)
def test_state_parked_takes_the_typed_table_or_its_name(state: State, table: Any) -> None:
    rows = state.parked(table)
    assert [(r["entity"], r["key"]) for r in rows] == [
        ("orders", "o1"),
        ("orders", "o2"),
        ("variants", "v2"),
    ]
    assert ParkedTable.HELD == "held" and state.parked(ParkedTable.HELD) == state.parked("held")


@pytest.mark.parametrize("table", ["raw_records", "id_map", "Held", ""])
def test_state_parked_refuses_an_unknown_table(state: State, table: str) -> None:
    with pytest.raises(ValueError, match=repr(table)):
        state.parked(table)


def test_state_parked_rows_read_back_as_written(state: State) -> None:
    (q,) = state.parked("quarantine", "variants")
    (h,) = state.parked("held", "variants")
    assert {k: v for k, v in q.items() if k != "created_at"} == {
        "entity": "variants",
        "key": "v2",
        "stage": "validate",
        "reasons": ["bad"],
        "record": {"id": 2},
        "parent": None,
        "run_id": 1,
    }
    assert (h["stage"], h["parent"], h["record"]) == ("held", {"id": 7}, {"id": 1})
    assert "T" in h["created_at"]  # ISO 8601
    assert [r["record"] for r in state.parked("quarantine", "orders")] == ["text", [1]]
    assert state.parked("held", "orders") == []


def test_state_counts_per_entity_across_id_map_and_parked(state: State) -> None:
    assert state.counts() == {
        "orders": {"synced": 1, "quarantined": 2, "held": 0, "deferred": 0},
        "variants": {"synced": 0, "quarantined": 1, "held": 1, "deferred": 0},
    }


def test_state_parked_by_run_counts_only_that_runs_rows(state: State) -> None:
    later = state.start_run("run")
    state.commit(BatchOutcome("variants", held=[Parked("v9", ["waits"], {})]), later)
    assert state.parked_by_run(1) == {
        "orders": {"quarantined": 2, "held": 0, "deferred": 0},
        "variants": {"quarantined": 1, "held": 1, "deferred": 0},
    }
    assert state.parked_by_run(later) == {"variants": {"quarantined": 0, "held": 1, "deferred": 0}}
    assert state.parked_by_run(99) == {}
