"""Bucket IV for the ERP and the OMS, end to end through `etl serve`: a processed return becomes
rows in the OMS's tables (refund lines in the order's own currency, a removed line left out)
and import files in the ERP's folder that its import job applies; then Loop's order learns the
refund."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from engine.sandbox.server import SandboxHandle
from examples.erp_like import apply_imports
from examples.oms_like import generate_oms_db
from tests.cli.serve_support import sandbox_handle, start_serve
from tests.e2e.conftest import MAPPINGS
from tests.outcomes.test_execute import _order, _wait
from tests.sandbox.support import flush


def _two_unit_order(sandbox: SandboxHandle, currency: str) -> dict[str, Any]:
    """A fulfilled order in `currency` with at least two units on its lines."""
    for order in sandbox.admin.records("order"):
        units = sum(line.get("quantity") or 1 for line in order["line_items"])
        fits = order["total_price"]["currency_code"] == currency and units >= 2
        if fits and order.get("fulfillments") and not order.get("refunds"):
            return dict(order)
    raise AssertionError(f"no fulfilled {currency} order with two units")


def _units(order: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for line in order["line_items"]:
        out += [line] * (line.get("quantity") or 1)
    return out[:2]


def test_oms_refunds_the_lines_left_in_a_yen_return_and_loop_learns_it(tmp_path: Path) -> None:
    database = generate_oms_db(tmp_path / "oms.sqlite", orders=12, seed=3)
    with sqlite3.connect(database) as db:  # one order in yen: amounts are whole yen
        db.execute("UPDATE orders SET currency = 'JPY' WHERE status IN ('shipped', 'completed')")
    state = tmp_path / "state.duckdb"
    served = start_serve(
        MAPPINGS / "oms-like.yaml", state, OMS_DATABASE=str(database),
        LOOP_RATE_LIMIT="0/min", LOOP_WEBHOOK_SECRET="",
    )  # fmt: skip
    try:
        sandbox = sandbox_handle(served.urls["sandbox"])
        served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
        order = _two_unit_order(sandbox, "JPY")
        first, second = _units(order)
        body = {"order_id": order["id"], "line_items": [
            {"line_item_id": first["id"], "quantity": 1, "outcome": "refund"},
            {"line_item_id": second["id"], "quantity": 1, "outcome": "refund"}]}  # fmt: skip
        created = sandbox.admin.post("/returns", json=body)
        assert created.status_code == 201, created.text
        rid, lines = str(created.json()["id"]), created.json()["line_items"]
        removed, kept = lines[1], lines[0]
        with sandbox.client() as api:  # the second unit never arrived: removed, then processed
            answer = api.post(f"/warehouse/return/{rid}/remove",
                              params={"line_item_id": removed["line_item_id"]})  # fmt: skip
            assert answer.status_code == 200, answer.text
        flush(sandbox)
        _wait(lambda: _rows(database, rid))
        _wait(lambda: _order(sandbox, order["id"]).get("refunds"))
        synced = _order(sandbox, order["id"])
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    [(refund_id, amount, reason)] = _rows(database, rid)
    with sqlite3.connect(database) as db:
        lines_written = db.execute(
            "SELECT order_line_id, amount_cents, tax_cents FROM refund_lines WHERE refund_id = ?",
            [refund_id],
        ).fetchall()
    # yen have no minor unit: Loop's "1742" is 1742 yen, not 17.42
    expected_item, expected_tax = int(kept["refund_item"]), int(kept["refund_tax"])
    assert reason == "return" and amount == int(kept["refund"]) == expected_item + expected_tax
    assert lines_written == [(int(first["external_id"]), expected_item, expected_tax)]
    [loop_refund] = synced["refunds"]
    assert loop_refund["amount"] == {"amount": expected_item, "currency_code": "JPY"}
    assert loop_refund["line_item"]["id"] == first["id"]


def _rows(database: Path, rid: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT id, amount_cents, reason FROM refunds WHERE reference = ?", [rid]
        ).fetchall()


def test_erp_gets_a_credit_memo_file_once_and_its_next_export_carries_the_refund(
    tmp_path: Path,
) -> None:
    from examples.erp_like import generate_erp_csv

    folder = tmp_path / "erp"
    generate_erp_csv(folder, orders=12, seed=3)
    state = tmp_path / "state.duckdb"
    env = {"ERP_DATA_DIR": str(folder), "LOOP_RATE_LIMIT": "0/min", "LOOP_WEBHOOK_SECRET": ""}
    served = start_serve(MAPPINGS / "erp-like.yaml", state, **env)
    try:
        sandbox = sandbox_handle(served.urls["sandbox"])
        served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
        order = _two_unit_order(sandbox, "USD")
        first, _ = _units(order)
        body = {"order_id": order["id"], "line_items": [
            {"line_item_id": first["id"], "quantity": 1, "outcome": "refund"}]}  # fmt: skip
        created = sandbox.admin.post("/returns", json=body)
        assert created.status_code == 201, created.text
        rid, [line] = str(created.json()["id"]), created.json()["line_items"]
        with sandbox.client() as api:
            assert api.post(f"/warehouse/return/{rid}/process").status_code == 200
        flush(sandbox)
        memo = folder / "imports" / f"credit_memos_loop_{rid}.csv"
        _wait(lambda: memo.exists())
        text = memo.read_text()
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    header, row = text.splitlines()
    fields = dict(zip(header.split(";"), row.split(";"), strict=True))
    assert fields["CM_NO"] == f"CM-{rid}" and fields["SO_NO"] == order["external_id"]
    assert fields["LINE_NO"] == first["external_id"].rsplit("-", 1)[1]
    assert fields["AMOUNT"] == line["refund_item"] and fields["REFERENCE"] == rid
    report = apply_imports(folder)  # the ERP's import job
    assert not report.errors, report.errors
    credit_notes = (folder / "credit_notes.csv").read_text()
    assert f"CM-{rid}" in credit_notes
    # the next sync sends the order with its new credit note: Loop learns the refund
    from click.testing import CliRunner

    from engine.cli import main

    run = CliRunner().invoke(
        main, ["run", str(MAPPINGS / "erp-like.yaml"), "--entity", "orders", "--json",
               "--state", str(state)], env=env,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    [orders] = json.loads(run.output)["entities"]
    assert orders["updated"] >= 1
    refunds = _sandbox_order(state, order["external_id"])["refunds"]
    assert [r["external_id"] for r in refunds] == [f"CM-{rid}-{fields['LINE_NO']}"]
    assert refunds[0]["amount"]["amount"] == round(float(line["refund_item"]) * 100)


def _sandbox_order(state: Path, external_id: str) -> dict[str, Any]:
    """The embedded sandbox's stored order (its database lies beside the state file)."""
    import duckdb

    path = state.with_name(f"{state.stem}.sandbox.duckdb")
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute("SELECT body FROM commerce_records WHERE kind = 'order'").fetchall()
    orders = [json.loads(r[0]) for r in rows]
    return next(o for o in orders if o["external_id"] == external_id)


def test_erp_exchange_store_credit_and_restock_files_are_ones_its_import_job_takes(
    tmp_path: Path,
) -> None:
    from examples.erp_like import generate_erp_csv

    folder = tmp_path / "erp"
    generate_erp_csv(folder, orders=12, seed=3)
    state = tmp_path / "state.duckdb"
    env = {"ERP_DATA_DIR": str(folder), "LOOP_RATE_LIMIT": "0/min", "LOOP_WEBHOOK_SECRET": ""}
    served = start_serve(MAPPINGS / "erp-like.yaml", state, **env)
    try:
        rid = _exchange_and_store_credit(served)
        imports = folder / "imports"
        names = {
            f"sales_orders_loop_{rid}.csv",
            f"credit_memos_loop_{rid}_credit.csv",
            f"inventory_adjustments_loop_{rid}.csv",
        }
        _wait(lambda: names <= {p.name for p in imports.iterdir()})
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    report = apply_imports(folder)
    assert not report.errors, report.errors
    assert f"EX-{rid}" in (folder / "sales_orders.csv").read_text()
    assert f"SC-{rid}" in (folder / "credit_notes.csv").read_text()
    assert not {p.name for p in imports.iterdir() if p.suffix == ".csv"}  # all applied


def test_oms_exchange_store_credit_and_restock_become_rows(tmp_path: Path) -> None:
    database = generate_oms_db(tmp_path / "oms.sqlite", orders=12, seed=3)
    with sqlite3.connect(database) as db:
        stock_before = db.execute("SELECT sum(on_hand) FROM stock_levels").fetchone()[0]
    state = tmp_path / "state.duckdb"
    served = start_serve(
        MAPPINGS / "oms-like.yaml", state, OMS_DATABASE=str(database),
        LOOP_RATE_LIMIT="0/min", LOOP_WEBHOOK_SECRET="",
    )  # fmt: skip
    try:
        rid = _exchange_and_store_credit(served)

        def written() -> bool:
            with sqlite3.connect(database) as db:
                orders = db.execute("SELECT count(*) FROM orders WHERE reference = ?", [rid])
                credits = db.execute(
                    "SELECT count(*) FROM refunds WHERE reference = ? AND reason = 'goodwill'",
                    [rid],
                )
                stock = db.execute("SELECT sum(on_hand) FROM stock_levels").fetchone()[0]
                return (
                    orders.fetchone()[0] == 1
                    and credits.fetchone()[0] == 1
                    and stock > stock_before
                )

        _wait(written)
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    with sqlite3.connect(database) as db:
        [(order_ref, lines)] = db.execute(
            "SELECT o.order_ref, (SELECT count(*) FROM order_lines WHERE order_id = o.id) "
            "FROM orders o WHERE o.reference = ?",
            [rid],
        ).fetchall()
        [(credit,)] = db.execute(
            "SELECT amount_cents FROM refunds WHERE reference = ? AND reason = 'goodwill'", [rid]
        ).fetchall()
        stock_after = db.execute("SELECT sum(on_hand) FROM stock_levels").fetchone()[0]
    assert order_ref == f"EX-{rid}" and lines == 1
    assert credit > 0
    assert stock_after == stock_before + 2  # both returned units back on hand


def _exchange_and_store_credit(served: Any) -> str:
    """Once the first sync is in: a processed return of two units of an order, one exchanged,
    one for store credit (its restock follows); the return's id."""
    sandbox = sandbox_handle(served.urls["sandbox"])
    served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
    order = _two_unit_order(sandbox, "USD")
    first, second = _units(order)
    swap = next(v["id"] for v in sandbox.admin.records("variant"))
    body = {"order_id": order["id"], "line_items": [
        {"line_item_id": first["id"], "quantity": 1, "outcome": "exchange",
         "exchange_variant_id": swap},
        {"line_item_id": second["id"], "quantity": 1, "outcome": "store_credit"}]}  # fmt: skip
    created = sandbox.admin.post("/returns", json=body)
    assert created.status_code == 201, created.text
    rid = str(created.json()["id"])
    with sandbox.client() as api:
        assert api.post(f"/warehouse/return/{rid}/process").status_code == 200
    flush(sandbox)
    return rid
