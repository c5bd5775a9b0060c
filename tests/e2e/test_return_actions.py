"""Bucket III from the merchant's systems, with the shipped mappings: a receipt row in the ERP's
export processes the matching return; a failed inspection in the OMS flags it with the note.
Real HTTP to the sandbox, `etl run` in a subprocess, the demo data as generated."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from examples.erp_like import generate_erp_csv
from examples.oms_like import generate_oms_db
from tests.e2e.conftest import MAPPINGS, UNLIMITED, Etl, Loop, clean_env
from tests.sandbox.support import flush

ORDERS = 12


def _return_on_some_order(loop: Loop) -> tuple[str, dict[str, Any]]:
    """A return of one unit of a line, made in the sandbox (as a shopper) on the first order
    that has a fulfilled line to return: its order's external id and the return."""
    for order in loop.records("order"):
        for line in order["line_items"]:
            body = {
                "order_id": order["id"],
                "line_items": [{"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}],
            }
            created = loop.admin.post("/returns", json=body)
            if created.status_code == 201:
                return str(order["external_id"]), dict(created.json())
    raise AssertionError("no order of the demo data has a returnable line")


def _details(loop: Loop, return_id: Any) -> dict[str, Any]:
    flush(loop.handle)
    with loop.handle.client() as api:
        body = dict(
            api.get("/warehouse/return/details", params={"return_id": str(return_id)}).json()
        )
        notes = api.get(f"/warehouse/return/{return_id}/notes")
    body["notes"] = (
        [n["content"] for n in notes.json()["notes"]] if notes.status_code == 200 else []
    )
    return body


def test_a_receipt_in_the_erp_export_processes_the_matching_return(
    loop: Loop, tmp_path: Path
) -> None:
    data = tmp_path / "erp"
    generate_erp_csv(data, orders=ORDERS, seed=3)
    env = clean_env(ERP_DATA_DIR=str(data), LOOP_API_URL=loop.base_url, LOOP_RATE_LIMIT=UNLIMITED)
    etl = Etl(MAPPINGS / "erp-like.yaml", tmp_path / "state.duckdb", env, cwd=tmp_path)
    first = etl.run_json()
    assert first.code == 0, first
    so_no, created = _return_on_some_order(loop)
    with (data / "return_receipts.csv").open("a", newline="") as fh:
        fh.write(f"RCV-1;{so_no};RECEIVED;all items back;2026-12-01 10:00:00\r\n")

    second = etl.run_json()

    assert second.code == 0, second
    assert second.summary["receipts"]["created"] == 1
    assert _details(loop, created["id"])["state"] == "closed"
    third = etl.run_json()
    assert third.summary["receipts"]["created"] == 0, "a receipt acts once"


def test_a_failed_inspection_in_the_oms_flags_the_return_with_its_note(
    loop: Loop, tmp_path: Path
) -> None:
    database = generate_oms_db(tmp_path / "oms.sqlite", orders=ORDERS, seed=3)
    env = clean_env(
        OMS_DATABASE=str(database), LOOP_API_URL=loop.base_url, LOOP_RATE_LIMIT=UNLIMITED
    )
    etl = Etl(MAPPINGS / "oms-like.yaml", tmp_path / "state.duckdb", env, cwd=tmp_path)
    assert etl.run_json().code == 0
    order_id, created = _return_on_some_order(loop)
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO return_inspections VALUES (1, ?, 'failed', 'scuffed sole', 1764583200)",
            [int(order_id)],
        )
    db.close()

    run = etl.run_json()

    assert run.code == 0, run
    after = _details(loop, created["id"])
    assert after["state"] == "review"
    assert after["notes"] == ["Inspection 1 failed: scuffed sole"]
