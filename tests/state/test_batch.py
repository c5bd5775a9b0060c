"""A batch's outcome: ID map, aliases, parked rows and cursor, written in one transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from engine.state import BatchOutcome, Parked, State, Synced


def test_state_commit_writes_id_map_aliases_parked_and_cursor_together(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with State(path) as state:
        run = state.start_run("run")
        state.commit(
            BatchOutcome(
                "variants",
                synced=[Synced("v1", 2**60 + 1, "h1")],
                aliases=[("item", "i9", "v1")],
                quarantined=[Parked("v2", ["bad price '1x'"], {"id": 2}, stage="transform")],
                held=[Parked("v3", ["<products:7> is not in Loop yet"], {"id": 3}, {"id": 7})],
                cursor="2024-01-01",
                cursor_entity="products",
            ),
            run,
        )
    with State(path) as state:  # durable across a reopen
        assert state.lookup("variants", ["v1", "v2"]) == {"v1": (2**60 + 1, "h1", None)}
        assert state.lookup_alias("variants", "item", ["i9"]) == {"i9": 2**60 + 1}
        assert state.cursor("products") == "2024-01-01"
        assert state.cursor("variants") is None
        (q,) = state.parked("quarantine")
        (h,) = state.parked("held")
        assert (q["key"], q["stage"], q["reasons"]) == ("v2", "transform", ["bad price '1x'"])
        assert (h["key"], h["parent"]) == ("v3", {"id": 7})
        assert state.parked_by_run(run) == {
            "variants": {"quarantined": 1, "held": 1, "deferred": 0}
        }


def test_state_sync_and_settle_clear_parked_rows(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        state.commit(
            BatchOutcome(
                "orders", quarantined=[Parked("1", ["x"], {})], held=[Parked("2", ["y"], {})]
            ),
            run,
        )
        state.commit(BatchOutcome("orders", synced=[Synced("1", 5, "h")], settled=["2"]), run)
        assert state.counts() == {
            "orders": {"synced": 1, "quarantined": 0, "held": 0, "deferred": 0}
        }


def test_state_batch_is_all_or_nothing(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        # The id_map rows are written first; the quarantine row (no key) then fails.
        broken = BatchOutcome(
            "orders",
            synced=[Synced("1", 5, "h")],
            quarantined=[Parked(None, ["x"], {})],  # type: ignore[arg-type]
            cursor="c",
        )
        with pytest.raises(duckdb.ConstraintException):
            state.commit(broken, run)
        assert state.lookup("orders", ["1"]) == {}
        assert state.cursor("orders") is None


def test_state_commit_moves_a_key_between_quarantine_and_held(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        state.commit(BatchOutcome("orders", held=[Parked("1", ["waits"], {"v": 1})]), run)
        state.commit(
            BatchOutcome("orders", quarantined=[Parked("1", ["bad"], {"v": 2}, stage="map")]),
            run,
        )
        assert state.parked("held") == []
        (q,) = state.parked("quarantine")
        assert (q["key"], q["stage"], q["reasons"], q["record"]) == ("1", "map", ["bad"], {"v": 2})
        state.commit(BatchOutcome("orders", held=[Parked("1", ["waits again"], {"v": 3})]), run)
        assert state.parked("quarantine") == []
        assert [h["reasons"] for h in state.parked("held")] == [["waits again"]]


def test_state_commit_moves_the_batch_entity_cursor_by_default(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        state.commit(BatchOutcome("orders", cursor="c1"), run)
        state.commit(BatchOutcome("orders", cursor="c2"), run)
        state.commit(BatchOutcome("orders"), run)  # no cursor: it stays
        assert state.cursors() == {"orders": "c2"}


def test_state_an_empty_outcome_writes_nothing(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        state.commit(BatchOutcome("orders"), state.start_run("run"))
        assert (state.counts(), state.cursors()) == ({}, {})
