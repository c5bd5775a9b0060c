"""The ID map: lookups by key and by alias, extras, and every key of an entity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.state import BatchOutcome, State, Synced


@pytest.fixture
def state(tmp_path: Path) -> Any:
    with State(tmp_path / "s.duckdb") as opened:
        yield opened


def test_state_lookup_returns_only_known_keys_with_hash_and_extra(state: State) -> None:
    run = state.start_run("run")
    state.commit(
        BatchOutcome(
            "orders",
            synced=[Synced("1", 2**64 - 1, "h1", {"lines": {"a": 11}}), Synced("2", 2, "h2")],
        ),
        run,
    )
    assert state.lookup("orders", ["1", "2", "3", "1"]) == {
        "1": (2**64 - 1, "h1", {"lines": {"a": 11}}),
        "2": (2, "h2", None),
    }
    assert state.lookup("orders", []) == {}
    assert state.lookup("variants", ["1"]) == {}  # keys are per entity


def test_state_resync_updates_the_id_map_but_keeps_a_known_extra(state: State) -> None:
    run = state.start_run("run")
    state.commit(BatchOutcome("orders", synced=[Synced("1", 5, "h1", {"lines": [1]})]), run)
    state.commit(BatchOutcome("orders", synced=[Synced("1", 6, "h2")]), run)
    assert state.lookup("orders", ["1"]) == {"1": (6, "h2", {"lines": [1]})}
    state.commit(BatchOutcome("orders", synced=[Synced("1", 6, "h3", {"lines": [2]})]), run)
    assert state.lookup("orders", ["1"]) == {"1": (6, "h3", {"lines": [2]})}


def test_state_lookup_alias_follows_the_alias_to_the_current_loop_id(state: State) -> None:
    run = state.start_run("run")
    state.commit(
        BatchOutcome(
            "variants",
            synced=[Synced("v1", 10, "h"), Synced("v2", 20, "h")],
            aliases=[("sku", "S-1", "v1"), ("barcode", "B-1", "v2")],
        ),
        run,
    )
    assert state.lookup_alias("variants", "sku", ["S-1", "S-2"]) == {"S-1": 10}
    assert state.lookup_alias("variants", "barcode", ["S-1"]) == {}  # aliases are per name
    assert state.lookup_alias("variants", "sku", []) == {}
    state.commit(BatchOutcome("variants", aliases=[("sku", "S-1", "v2")]), run)  # re-pointed
    assert state.lookup_alias("variants", "sku", ["S-1"]) == {"S-1": 20}


def test_state_id_map_lists_every_key_of_one_entity(state: State) -> None:
    run = state.start_run("run")
    state.commit(BatchOutcome("orders", synced=[Synced("1", 5, "h"), Synced("2", 6, "h")]), run)
    state.commit(BatchOutcome("products", synced=[Synced("1", 7, "h")]), run)
    assert state.id_map("orders") == {"1": 5, "2": 6}
    assert state.id_map("customers") == {}


def test_state_an_alias_two_unchanged_records_share_stays_with_its_owner(state: State) -> None:
    run = state.start_run("run")
    shared = [("email", "same@example.com", "c1"), ("email", "same@example.com", "c2")]
    state.commit(
        BatchOutcome("customers", synced=[Synced("c1", 10, "h"), Synced("c2", 20, "h")]), run
    )
    state.commit(BatchOutcome("customers", aliases=[shared[0]]), run)  # c1 was sent last
    for rows in (shared, shared[::-1]):  # unchanged runs record only what the state lacks
        state.commit(BatchOutcome("customers", unchanged_aliases=rows), run)
        assert state.lookup_alias("customers", "email", ["same@example.com"]) == {
            "same@example.com": 10
        }
    state.commit(
        BatchOutcome("customers", unchanged_aliases=[("email", "new@example.com", "c2")]), run
    )
    assert state.lookup_alias("customers", "email", ["new@example.com"]) == {"new@example.com": 20}
    state.commit(BatchOutcome("customers", aliases=[shared[1]]), run)  # c2 is sent: it takes it
    assert state.lookup_alias("customers", "email", ["same@example.com"]) == {
        "same@example.com": 20
    }
