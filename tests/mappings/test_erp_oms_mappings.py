"""erp-like.yaml and oms-like.yaml against generated demo data, through the real connectors.

Every entity is extracted with the mapping's own connector and queries, every record mapped by
the compiled mapping and validated against Loop's schemas (lookups stand in as placeholders);
the counts must match what the generators wrote, and each file's own `tests:` must pass.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.cli import main
from engine.mapping.compile import CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.records import RecordResult, map_records
from engine.resources import mappings_dir
from examples.erp_like import generate_erp_csv
from examples.oms_like import generate_oms_db

ORDERS, SEED = 40, 7
ERP = mappings_dir() / "erp-like.yaml"
OMS = mappings_dir() / "oms-like.yaml"


@pytest.fixture(scope="module")
def erp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("erp") / "exports"
    generate_erp_csv(out, orders=ORDERS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def oms_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_oms_db(tmp_path_factory.mktemp("oms") / "oms.sqlite", orders=ORDERS, seed=SEED)


def _extract(compiled: CompiledMapping, entity: str) -> Iterator[dict[str, Any]]:
    mapping = compiled.mapping
    base_dir = mapping.file.parent
    source_entity = compiled.entities[entity].entity.parent or entity
    connector = connector_class(mapping.source["connector"])(mapping.source, base_dir)
    with connector:
        config = mapping.entities[source_entity].extract
        request = ExtractRequest(entity=source_entity, config=config, base_dir=base_dir)
        for page in connector.extract(request):
            yield from page.records


def _map_all(compiled: CompiledMapping) -> dict[str, list[RecordResult]]:
    out = {}
    for name, entity in compiled.entities.items():
        out[name] = list(map_records(entity, _extract(compiled, name)))
    return out


def _assert_valid(results: dict[str, list[RecordResult]]) -> None:
    bad = [(name, r.errors, r.input) for name, rs in results.items() for r in rs if r.errors]
    assert not bad, f"{len(bad)} record(s) with errors, first: {bad[0]!r:.2000}"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_erp_every_entity_maps_and_validates(erp_dir: Path) -> None:
    compiled = compile_mapping(load_mapping(ERP, env={"ERP_DATA_DIR": str(erp_dir)}))
    assert set(compiled.entities) == {
        "locations",
        "customers",
        "products",
        "variants",
        "inventories",
        "orders",
    }
    results = _map_all(compiled)
    _assert_valid(results)

    items = _csv_rows(erp_dir / "items.csv")
    lines = _csv_rows(erp_dir / "sales_order_lines.csv")
    credits = _csv_rows(erp_dir / "credit_notes.csv")
    orders = _csv_rows(erp_dir / "sales_orders.csv")
    counts = {name: len(rs) for name, rs in results.items()}
    assert counts == {
        "locations": len(_csv_rows(erp_dir / "warehouses.csv")),
        "customers": len(_csv_rows(erp_dir / "customers.csv")),
        "products": sum(1 for i in items if i["ITEM_TYPE"] == "P"),
        "variants": sum(1 for i in items if i["ITEM_TYPE"] == "V"),
        "inventories": len(_csv_rows(erp_dir / "stock.csv")),
        "orders": ORDERS,
    }
    payloads = [r.payload for r in results["orders"]]
    assert sum(len(p["line_items"]) for p in payloads) == len(lines)
    assert sum(len(p.get("refunds", [])) for p in payloads) == len(credits)
    assert sum(len(p.get("fulfillments", [])) for p in payloads) == sum(
        1 for o in orders if o["SHIP_DATE"]
    )
    by_id = {p["external_id"]: p for p in payloads}
    for order in orders:  # every amount is exact cents of the export's "1,299.00"
        gross = order["GROSS_AMOUNT"].replace(",", "").replace(".", "")
        assert by_id[order["SO_NO"]]["total_price"]["amount"] == int(gross)
    statuses = {p["status"] for p in payloads}
    assert statuses <= {"active", "archived", "cancelled"} and "archived" in statuses
    _assert_options_match(compiled, results["products"])


def test_erp_reads_latin1_exports(tmp_path: Path) -> None:
    out = tmp_path / "latin1"
    generate_erp_csv(out, orders=30, seed=3, encoding="latin-1")
    env = {"ERP_DATA_DIR": str(out), "ERP_ENCODING": "latin-1"}
    compiled = compile_mapping(load_mapping(ERP, env=env))
    results = _map_all(compiled)
    _assert_valid(results)
    names = {r.payload.get("first_name") for r in results["customers"]}
    with (out / "customers.csv").open(encoding="latin-1", newline="") as fh:
        expected = {row["FIRST_NAME"] for row in csv.DictReader(fh, delimiter=";")}
    assert names == expected and any(not name.isascii() for name in names)


def test_oms_every_entity_maps_and_validates(oms_db: Path) -> None:
    compiled = compile_mapping(load_mapping(OMS, env={"OMS_DATABASE": str(oms_db)}))
    assert set(compiled.entities) == {
        "locations",
        "customers",
        "products",
        "variants",
        "collections",
        "inventories",
        "orders",
    }
    results = _map_all(compiled)
    _assert_valid(results)

    db = sqlite3.connect(oms_db)
    try:

        def count(sql: str) -> int:
            return int(db.execute(sql).fetchone()[0])

        assert {name: len(rs) for name, rs in results.items()} == {
            "locations": count("SELECT count(*) FROM stores"),
            "customers": count("SELECT count(*) FROM customers"),
            "products": count("SELECT count(*) FROM products"),
            "variants": count("SELECT count(*) FROM skus"),
            "collections": count("SELECT count(*) FROM collections"),
            "inventories": count("SELECT count(*) FROM stock_levels"),
            "orders": ORDERS,
        }
        payloads = [r.payload for r in results["orders"]]
        assert sum(len(p["line_items"]) for p in payloads) == count(
            "SELECT count(*) FROM order_lines"
        )
        assert sum(len(p.get("refunds", [])) for p in payloads) == count(
            "SELECT count(*) FROM refund_lines"
        )
        assert sum(len(p.get("fulfillments", [])) for p in payloads) == count(
            "SELECT count(*) FROM shipments"
        )
        assert sum(len(r.payload.get("products", [])) for r in results["collections"]) == count(
            "SELECT count(*) FROM product_collections"
        )
        totals = dict(db.execute("SELECT CAST(id AS TEXT), total_cents FROM orders").fetchall())
    finally:
        db.close()
    assert {p["external_id"]: p["total_price"]["amount"] for p in payloads} == totals
    _assert_options_match(compiled, results["products"])


def _assert_options_match(compiled: CompiledMapping, products: list[RecordResult]) -> None:
    """Loop matches exchanges by a variant's option value at the product's axis position."""
    variants = compiled.entities["variants"]
    for product in products:
        axes = {o["position"]: o["values"] for o in product.payload["options"]}
        for variant in map_records(variants, iter([product.input])):
            for option in variant.payload["options"]:
                assert option["value"] in axes[option["position"]], variant.payload


@pytest.mark.parametrize("path", [ERP, OMS], ids=["erp-like", "oms-like"])
def test_check_and_mapping_tests_pass(path: Path) -> None:
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(path)])
    assert checked.exit_code == 0, checked.output
    tested = runner.invoke(main, ["test", str(path)])
    assert tested.exit_code == 0, tested.output
    assert " 0 failed" in tested.output
