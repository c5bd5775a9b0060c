"""Cursors: read one, read all, forget one or all (--full-refresh)."""

from __future__ import annotations

from pathlib import Path

from engine.state import BatchOutcome, State, Synced


def test_state_forget_cursor_drops_one_or_every_cursor_and_keeps_the_id_map(
    tmp_path: Path,
) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        state.commit(BatchOutcome("orders", synced=[Synced("1", 5, "h")], cursor="o1"), run)
        state.commit(BatchOutcome("products", cursor="p1"), run)
        assert state.cursors() == {"orders": "o1", "products": "p1"}
        state.forget_cursor("orders")
        assert state.cursors() == {"products": "p1"}
        assert state.cursor("orders") is None
        state.forget_cursor()
        assert state.cursors() == {}
        assert state.id_map("orders") == {"1": 5}
