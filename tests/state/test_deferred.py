"""Deferred records (`send: referenced`): kept by key, the newest record winning, released when
the key is sent, parked or settled, in the same transaction as the rest of the batch."""

from __future__ import annotations

from pathlib import Path

from engine.state import BatchOutcome, Parked, State, Synced


def deferred(key: str, version: int) -> Parked:
    return Parked(key, ["waiting"], {"id": key, "v": version}, {"parent": 1}, "deferred")


def test_deferred_rows_keep_the_newest_record_per_key_and_count_per_run(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        first, second = state.start_run("run"), state.start_run("run")
        state.commit(
            BatchOutcome("customers", deferred=[deferred("1", 1), deferred("2", 1)]), first
        )
        state.commit(BatchOutcome("customers", deferred=[deferred("2", 2)]), second)
        assert state.deferred_rows("customers", ["2", "1", "9"]) == [
            ("1", {"id": "1", "v": 1}, {"parent": 1}),
            ("2", {"id": "2", "v": 2}, {"parent": 1}),
        ]
        assert state.counts()["customers"]["deferred"] == 2
        assert state.parked_by_run(second)["customers"]["deferred"] == 1
        assert state.deferred_rows("orders", ["1"]) == []


def test_deferred_rows_leave_when_their_key_is_sent_quarantined_or_held(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        rows = [deferred(k, 1) for k in ("1", "2", "3", "4")]
        state.commit(BatchOutcome("customers", deferred=rows), run)
        outcome = BatchOutcome(
            "customers",
            synced=[Synced("1", 10**16, "h")],
            quarantined=[Parked("2", ["bad"], {"id": "2"}, None, "validate")],
            held=[Parked("3", ["waits"], {"id": "3"}, None, "held")],
        )
        state.commit(outcome, run)
        assert [k for k, _, _ in state.deferred_rows("customers", ["1", "2", "3", "4"])] == ["4"]
        assert state.counts()["customers"] == {
            "synced": 1,
            "quarantined": 1,
            "held": 1,
            "deferred": 1,
        }


def with_email(key: str, email: str) -> Parked:
    record = {"id": key, "email": email}
    return Parked(key, ["waiting"], record, None, "deferred", (("email", email),))


def test_deferred_aliases_follow_the_newest_record_and_leave_with_it(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        run = state.start_run("run")
        rows = [with_email("1", "a@x"), with_email("2", "b@x")]
        state.commit(BatchOutcome("customers", deferred=rows), run)
        assert state.deferred_by_alias("customers", "email", ["a@x", "b@x", "c@x"]) == {
            "a@x": "1",
            "b@x": "2",
        }
        # 1 changed its email while deferred: the old one finds nothing any more
        state.commit(BatchOutcome("customers", deferred=[with_email("1", "c@x")]), run)
        assert state.deferred_by_alias("customers", "email", ["a@x", "c@x"]) == {"c@x": "1"}
        assert state.deferred_by_alias("customers", "phone", ["c@x"]) == {}
        state.commit(BatchOutcome("customers", synced=[Synced("1", 10**16, "h")]), run)
        assert state.deferred_by_alias("customers", "email", ["b@x", "c@x"]) == {"b@x": "2"}
