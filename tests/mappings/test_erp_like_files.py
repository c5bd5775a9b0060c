"""mappings/erp-like.yaml (files connector, group and joins) gives the same payloads as the SQL
mapping it replaced (tests/mappings/fixtures/erp_like_sql.yaml), over the same generated exports.

Both are extracted with their real connectors (files; DuckDB) and mapped by the compiled mapping;
every entity's payloads are compared keyed by external_id, and counted against the CSV files so
a record, a line or a credit note missing from both would fail too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.mapping.compile import CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.records import map_records
from engine.resources import mappings_dir
from examples.erp_like import generate_erp_csv

FILES = mappings_dir() / "erp-like.yaml"
SQL = Path(__file__).parent / "fixtures" / "erp_like_sql.yaml"
Payloads = dict[str, dict[str, dict[str, Any]]]


def _extract(compiled: CompiledMapping, entity: str, cursor: str | None = None) -> list[Any]:
    """(records, the cursor after them) of one entity's extract, with the mapping's connector."""
    mapping = compiled.mapping
    source = compiled.entities[entity].entity.parent or entity
    base = mapping.file.parent
    request = ExtractRequest(source, mapping.entities[source].extract, cursor, base)
    with connector_class(mapping.source["connector"])(mapping.source, base) as connector:
        pages = list(connector.extract(request))
    return [[r for p in pages for r in p.records], pages[-1].cursor if pages else None]


def _key(payload: dict[str, Any]) -> str:
    found = payload.get("external_id")
    return str(found) if found else f"{payload['product_variant_id']}@{payload['location_id']}"


def _payloads(path: Path, env: dict[str, str]) -> Payloads:
    """Entity -> external_id -> payload (an inventory by variant@location); errors refused."""
    compiled = compile_mapping(load_mapping(path, env=env))
    out: Payloads = {}
    for name, entity in compiled.entities.items():
        results = list(map_records(entity, iter(_extract(compiled, name)[0])))
        bad = [(r.errors, r.input) for r in results if r.errors]
        assert not bad, f"{path.name} {name}: {bad[0]!r:.1500}"
        out[name] = {_key(r.payload): r.payload for r in results}
        assert len(out[name]) == len(results), f"{name}: repeated keys"
    return out


def _rows(folder: Path, name: str, encoding: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def _counts(payloads: Payloads) -> Iterator[tuple[str, int]]:
    orders = payloads["orders"].values()
    yield from ((name, len(found)) for name, found in payloads.items())
    yield "line_items", sum(len(o["line_items"]) for o in orders)
    yield "refunds", sum(len(o.get("refunds", [])) for o in orders)
    yield (
        "freight refunds",
        sum(r["type"] == "shipping" for o in orders for r in o.get("refunds", [])),
    )


@pytest.mark.parametrize(
    ("encoding", "orders", "seed"),
    [("utf-8", 400, 11), ("latin-1", 300, 3)],
    ids=["utf8", "latin1"],
)
def test_erp_like_files_mapping_gives_the_sql_mappings_payloads(
    tmp_path: Path, encoding: str, orders: int, seed: int
) -> None:
    folder = tmp_path / "erp"
    generate_erp_csv(folder, orders=orders, seed=seed, encoding=encoding)
    env = {"ERP_DATA_DIR": str(folder), "ERP_ENCODING": encoding}
    files, sql = _payloads(FILES, env), _payloads(SQL, env)

    items = _rows(folder, "items.csv", encoding)
    credits = _rows(folder, "credit_notes.csv", encoding)
    expected = {
        "locations": len(_rows(folder, "warehouses.csv", encoding)),
        "customers": len(_rows(folder, "customers.csv", encoding)),
        "products": sum(i["ITEM_TYPE"] == "P" for i in items),
        "variants": sum(i["ITEM_TYPE"] == "V" for i in items),
        "inventories": len(_rows(folder, "stock.csv", encoding)),
        "orders": orders,
        "line_items": len(_rows(folder, "sales_order_lines.csv", encoding)),
        "refunds": len(credits),
        "freight refunds": sum(c["ITEM_NO"] == "FREIGHT" for c in credits),
    }
    assert dict(_counts(files)) == expected
    # the shapes that need grouping and joins are in the data
    assert expected["freight refunds"] > 0 and expected["variants"] > expected["products"]
    customers = _rows(folder, "customers.csv", encoding)
    assert any(i["OPTION2"] for i in items) and any(not c["STREET2"] for c in customers)
    for name in sql:
        assert files[name] == sql[name], name


def test_erp_like_files_changed_variant_brings_its_product_again(tmp_path: Path) -> None:
    folder = tmp_path / "erp"
    generate_erp_csv(folder, orders=60, seed=5)
    env = {"ERP_DATA_DIR": str(folder)}
    files = compile_mapping(load_mapping(FILES, env=env))
    first, cursor = _extract(files, "products")
    assert cursor and len(first) > 1 and _extract(files, "products", cursor)[0] == []

    lines = (folder / "items.csv").read_bytes().decode("utf-8").split("\r\n")
    at = next(n for n, line in enumerate(lines) if ";V;" in line and n > len(lines) // 2)
    variant = lines[at].split(";")
    variant[-1] = "2031-01-01 00:00:00"  # MODIFIED, after every other row's
    lines[at] = ";".join(variant)
    (folder / "items.csv").write_bytes("\r\n".join(lines).encode("utf-8"))

    again, after = _extract(files, "products", cursor)
    assert [r["ITEM_NO"] for r in again] == [variant[1]]  # its parent, with every variant
    assert after == "2031-01-01 00:00:00" and variant[0] in [
        v["ITEM_NO"] for v in again[0]["VARIANTS"]
    ]
    [payload] = [r.payload for r in map_records(files.entities["products"], iter(again))]
    sql = compile_mapping(load_mapping(SQL, env=env))
    sql_again = _extract(sql, "products", cursor)[0]
    [expected] = [r.payload for r in map_records(sql.entities["products"], iter(sql_again))]
    assert payload == expected and payload["updated_at"] == "2031-01-01T05:00:00+00:00"
