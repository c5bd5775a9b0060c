"""The in-memory copy of commerce_records: what a transaction wrote goes when it rolls back, a
restart loads what the file holds, and lookups answer as the table's SQL did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.sandbox.commerce.common import Store
from engine.sandbox.core import Sandbox, SandboxConfig
from tests.sandbox.conftest import Maker


class Boom(Exception):
    pass


def _write(sb: Sandbox, *bodies: dict[str, Any], parent_id: int | None = None) -> None:
    with sb.transaction() as db:
        store = Store(sb, db)
        for body in bodies:
            store.put("customer", body, parent_id=parent_id)


def test_records_rollback_forgets_writes_updates_and_deletes() -> None:
    sb = Sandbox(SandboxConfig())
    try:
        _write(sb, {"id": 1, "external_id": "a", "name": "old"}, {"id": 2, "external_id": "b"})
        with pytest.raises(Boom), sb.transaction() as db:
            store = Store(sb, db)
            store.put("customer", {"id": 1, "external_id": "a2", "name": "new"})
            store.delete("customer", 2)
            store.put("customer", {"id": 3, "external_id": "c"})
            raise Boom
        with sb.transaction() as db:
            store = Store(sb, db)
            assert store.get("customer", 1) == {"id": 1, "external_id": "a", "name": "old"}
            assert store.by_external("customer", "a2") is None
            assert store.get("customer", 2) == {"id": 2, "external_id": "b"}
            assert store.get("customer", 3) is None
            assert [c["id"] for c in store.of_kind("customer")] == [1, 2]
    finally:
        sb.close()


def test_records_a_restart_loads_what_the_file_holds(tmp_path: Path) -> None:
    db_path = str(tmp_path / "sandbox.duckdb")
    sb = Sandbox(SandboxConfig(db_path=db_path))
    _write(sb, {"id": 7, "external_id": "x"}, {"id": 5, "external_id": "y"}, parent_id=70)
    sb.close()
    again = Sandbox(SandboxConfig(db_path=db_path))
    try:
        with again.transaction() as db:
            store = Store(again, db)
            assert store.by_external("customer", "x") == {"id": 7, "external_id": "x"}
            assert [c["id"] for c in store.children("customer", 70)] == [5, 7]
        assert again.get_record("customer", 5) == {"id": 5, "external_id": "y"}
    finally:
        again.close()


def test_records_lookups_answer_as_the_tables_sql() -> None:
    """by_external: the lowest id first, optionally under one parent; children by id; a
    record that changes parent or external id is found only under the new ones."""
    sb = Sandbox(SandboxConfig())
    try:
        _write(sb, {"id": 9, "external_id": "k"}, parent_id=1)
        _write(sb, {"id": 4, "external_id": "k"}, parent_id=2)
        _write(sb, {"id": 6, "external_id": "m"}, parent_id=1)
        _write(sb, {"id": 6, "external_id": "n"}, parent_id=2)
        with sb.transaction() as db:
            store = Store(sb, db)
            assert store.by_external("customer", "k") == {"id": 4, "external_id": "k"}
            assert store.by_external("customer", "k", parent_id=1) == {"id": 9, "external_id": "k"}
            assert store.by_external("customer", "m") is None
            assert [c["id"] for c in store.children("customer", 1)] == [9]
            assert [c["id"] for c in store.children("customer", 2)] == [4, 6]
            for sql, cached in (
                ("parent_id = 2", store.children("customer", 2)),
                ("TRUE", store.of_kind("customer")),
            ):
                assert store.where("customer", sql, []) == cached
    finally:
        sb.close()


def test_records_a_refused_order_leaves_no_inline_customer(api: httpx.Client, make: Maker) -> None:
    """The inline customer is written before the order's lines are checked; the 422 rolls the
    whole request back, in the table and in its copy alike."""
    product = make.product()
    profile = {"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "phone": "1"}
    payload = make.order_payload(product["id"], customer={"external_id": "c1", **profile})
    payload["line_items"][0]["product"] = {"external_id": "no-such-product"}
    answer = api.put("/orders", json=payload)
    assert answer.status_code == 422, answer.text
    assert api.get("/customers/external/c1").status_code == 404
    assert api.get("/customers").json()["customers"] == []
