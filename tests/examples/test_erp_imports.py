"""erp-like import files: `etl demo erp-like apply` on a generated folder changes the next
export, once, and a bad file changes nothing."""

from __future__ import annotations

import csv
import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.cli import main
from engine.mapping.load import load_mapping
from engine.resources import mappings_dir
from examples.erp_like import ApplyReport, apply_imports, generate_erp_csv, watch_imports

ORDERS, SEED = 40, 3
NOW = 1_767_225_600  # 2026-01-01 00:00:00 UTC = 2025-12-31 19:00:00 at the shop
STAMP = "2025-12-31 19:00:00"
MEMO = "CM_NO;SO_NO;LINE_NO;ITEM_NO;QTY;AMOUNT;TAX_AMOUNT;CURRENCY;REASON;REFERENCE;CREATED\r\n"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _digest(folder: Path) -> str:
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(folder.glob("*.csv")))
    ).hexdigest()


@pytest.fixture
def erp(tmp_path: Path) -> Path:
    out = tmp_path / "erp"
    generate_erp_csv(out, orders=ORDERS, seed=SEED)
    return out


def _shipped_line(erp: Path) -> dict[str, str]:
    """A shipped order line with nothing returned yet."""
    lines = _rows(erp / "sales_order_lines.csv")
    return next(li for li in lines if li["QTY_SHIPPED"] != "0" and li["QTY_RETURNED"] == "0")


def _memo(erp: Path, name: str, number: str, line: dict[str, str], qty: int = 1) -> None:
    row = f"{number};{line['SO_NO']};{line['LINE_NO']};{line['ITEM_NO']};{qty};12.50;1.00;USD;"
    (erp / "imports" / name).write_text(MEMO + row + "RETURN;ret_1;\r\n", encoding="utf-8")


def _apply(erp: Path) -> Any:
    return CliRunner().invoke(main, ["demo", "erp-like", "apply", "--out", str(erp)])


def test_erp_apply_credit_memo_changes_credit_notes_and_the_order(erp: Path) -> None:
    line = _shipped_line(erp)
    _memo(erp, "credit_memos_ret_1.csv", "CM-ret_1", line)
    report = apply_imports(erp, now=NOW)
    assert report.applied == ["credit_memos_ret_1.csv"] and report.ok and report.documents == 1
    credits = [c for c in _rows(erp / "credit_notes.csv") if c["CN_NO"] == "CM-ret_1"]
    assert credits == [{"CN_NO": "CM-ret_1", "SO_NO": line["SO_NO"], "LINE_NO": line["LINE_NO"],
                        "ITEM_NO": line["ITEM_NO"], "QTY": "1", "AMOUNT": "12.50",
                        "TAX_AMOUNT": "1.00", "CN_DATE": STAMP, "REASON": "RETURN",
                        "MODIFIED": STAMP, "REFERENCE": "ret_1"}]  # fmt: skip
    order = next(o for o in _rows(erp / "sales_orders.csv") if o["SO_NO"] == line["SO_NO"])
    after = next(
        li for li in _rows(erp / "sales_order_lines.csv")
        if (li["SO_NO"], li["LINE_NO"]) == (line["SO_NO"], line["LINE_NO"])
    )  # fmt: skip
    assert order["MODIFIED"] == STAMP and (after["QTY_RETURNED"], after["MODIFIED"]) == ("1", STAMP)
    assert (erp / "imports" / "applied" / "credit_memos_ret_1.csv").is_file()
    assert not (erp / "imports" / "credit_memos_ret_1.csv").exists()


def test_erp_apply_sales_order_and_stock_adjustment(erp: Path) -> None:
    stock = _rows(erp / "stock.csv")[0]
    (erp / "imports" / "sales_orders_ret_2.csv").write_text(
        "SO_NO;CUST_NO;CURRENCY;ITEM_NO;QTY;UNIT_PRICE;SHIP_CITY;REFERENCE\r\n"
        f"EX-ret_2;C000001;USD;{stock['ITEM_NO']};2;1,000.00;Austin;ret_2\r\n"
        f"EX-ret_2;C000001;USD;{stock['ITEM_NO']};1;0.00;Austin;ret_2\r\n",
        encoding="utf-8",
    )
    (erp / "imports" / "inventory_adjustments_ret_2.csv").write_text(
        "ADJ_NO;ITEM_NO;WHS_CODE;QTY_DELTA;REFERENCE\r\n"
        f"ADJ-ret_2;{stock['ITEM_NO']};{stock['WHS_CODE']};3;ret_2\r\n",
        encoding="utf-8",
    )
    assert apply_imports(erp, now=NOW).documents == 2
    order = _rows(erp / "sales_orders.csv")[-1]
    assert (order["SO_NO"], order["CUST_NO"], order["STATUS"], order["GROSS_AMOUNT"],
            order["ORDER_DATE"], order["REFERENCE"]) == (
        "EX-ret_2", "C000001", "O", "2,000.00", STAMP, "ret_2")  # fmt: skip
    lines = [li for li in _rows(erp / "sales_order_lines.csv") if li["SO_NO"] == "EX-ret_2"]
    assert [(li["LINE_NO"], li["QTY"], li["LINE_AMOUNT"]) for li in lines] == [
        ("10", "2", "2,000.00"), ("20", "1", "0.00")]  # fmt: skip
    after = next(
        s for s in _rows(erp / "stock.csv")
        if (s["ITEM_NO"], s["WHS_CODE"]) == (stock["ITEM_NO"], stock["WHS_CODE"])
    )  # fmt: skip
    assert int(after["QTY_ON_HAND"]) == int(stock["QTY_ON_HAND"]) + 3
    assert after["MODIFIED"] == STAMP


def test_erp_apply_twice_changes_nothing_and_a_repeated_memo_is_skipped(erp: Path) -> None:
    line = _shipped_line(erp)
    _memo(erp, "credit_memos_a.csv", "CM-ret_1", line)
    apply_imports(erp, now=NOW)
    before = _digest(erp)
    assert apply_imports(erp, now=NOW + 60) == ApplyReport()
    _memo(erp, "credit_memos_b.csv", "CM-ret_1", line)  # the same memo, written again
    result = _apply(erp)
    assert result.exit_code == 0, result.output
    assert "credit_memos_b.csv:2: CM_NO CM-ret_1 already applied, skipped" in result.output
    assert _digest(erp) == before
    assert sum(c["CN_NO"] == "CM-ret_1" for c in _rows(erp / "credit_notes.csv")) == 1
    assert (erp / "imports" / "applied" / "credit_memos_b.csv").is_file()


def test_erp_apply_bad_row_exits_1_and_applies_nothing_of_the_file(erp: Path) -> None:
    line, before = _shipped_line(erp), _digest(erp)
    good = f"CM-1;{line['SO_NO']};{line['LINE_NO']};{line['ITEM_NO']};1;1.00;0.00;USD;RETURN;;\r\n"
    bad = (
        f"CM-2;{line['SO_NO']};{line['LINE_NO']};{line['ITEM_NO']};1;1.299,00;0.00;USD;RETURN;;\r\n"
    )
    path = erp / "imports" / "credit_memos_bad.csv"
    path.write_text(MEMO + good + bad, encoding="utf-8")
    (erp / "imports" / "credit_memos_next.csv.tmp").write_text(MEMO + good, encoding="utf-8")
    result = _apply(erp)
    assert result.exit_code == 1
    assert (
        "credit_memos_bad.csv:3: AMOUNT '1.299,00' is not an amount like 1,299.00" in result.output
    )
    assert path.is_file() and _digest(erp) == before
    assert not (erp / "imports" / "applied").exists()  # the .tmp file was not read either


def test_erp_apply_refuses_more_units_than_the_line_has(erp: Path) -> None:
    line = _shipped_line(erp)
    _memo(erp, "credit_memos_x.csv", "CM-x", line, qty=int(line["QTY"]) + 1)
    report = apply_imports(erp, now=NOW)
    assert report.applied == [] and report.errors == [
        f"credit_memos_x.csv:2: QTY {int(line['QTY']) + 1} is more than the {line['QTY']} left "
        f"to credit on line {line['LINE_NO']}"
    ]


def test_erp_regenerating_keeps_what_was_applied(erp: Path) -> None:
    _memo(erp, "credit_memos_a.csv", "CM-ret_1", _shipped_line(erp))
    apply_imports(erp, now=NOW)
    applied = _digest(erp)
    generate_erp_csv(erp, orders=ORDERS, seed=SEED)
    assert _digest(erp) == applied
    result = CliRunner().invoke(main, ["demo", "erp-like", "--out", str(erp), "--orders", "41"])
    assert result.exit_code == 1 and "imports applied to the shop of 40 orders" in result.output


def _extract_orders(erp: Path, cursor: str) -> list[dict[str, Any]]:
    mapping = load_mapping(mappings_dir() / "erp-like.yaml", env={"ERP_DATA_DIR": str(erp)})
    connector = connector_class(mapping.source["connector"])(mapping.source, mapping.base_dir)
    request = ExtractRequest("orders", mapping.entities["orders"].extract, cursor, mapping.base_dir)
    with connector:
        return [r for page in connector.extract(request) for r in page.records]


def test_erp_next_incremental_export_sends_the_changed_orders(erp: Path) -> None:
    """The erp-like mapping's own orders extract, from the cursor a full sync left."""
    line = _shipped_line(erp)
    cursor = max(o["MODIFIED"] for o in _rows(erp / "sales_orders.csv"))
    assert _extract_orders(erp, cursor) == []
    _memo(erp, "credit_memos_a.csv", "CM-ret_1", line)
    (erp / "imports" / "sales_orders_b.csv").write_text(
        f"SO_NO;CUST_NO;CURRENCY;ITEM_NO;QTY;UNIT_PRICE\r\nEX-1;C000002;USD;{line['ITEM_NO']};1;0.00\r\n",
        encoding="utf-8",
    )
    apply_imports(erp, now=NOW)
    records = _extract_orders(erp, cursor)
    assert sorted(r["SO_NO"] for r in records) == sorted([line["SO_NO"], "EX-1"])
    credited = next(r for r in records if r["SO_NO"] == line["SO_NO"])
    assert "CM-ret_1" in [c["CN_NO"] for c in credited["CREDIT_NOTES"]]


def test_erp_watch_applies_files_as_they_come(erp: Path) -> None:
    reports: list[ApplyReport] = []
    done = threading.Event()

    def seen(report: ApplyReport) -> None:
        reports.append(report)
        done.set()

    thread = threading.Thread(
        target=watch_imports, args=(erp, 0.05, done.is_set, seen), daemon=True
    )
    thread.start()
    _memo(erp, "credit_memos_w.csv.tmp", "CM-w", _shipped_line(erp))  # complete, then renamed
    (erp / "imports" / "credit_memos_w.csv.tmp").rename(erp / "imports" / "credit_memos_w.csv")
    thread.join(timeout=20)
    assert not thread.is_alive() and reports[0].applied == ["credit_memos_w.csv"]
    assert any(c["CN_NO"] == "CM-w" for c in _rows(erp / "credit_notes.csv"))
