"""`etl check`, `etl preview`, `etl test`, `etl schemas` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

REPO = Path(__file__).resolve().parents[2]
SHOPIFY = REPO / "mappings" / "shopify-like.yaml"
FIXTURES = REPO.parent / "shared" / "fixtures" / "shopify-rest"

BROKEN = """\
version: 1
name: broken
source: {connector: files, root: data}
entities:
  orders:
    extract: {path: o.json}
    depends_on: [prodcts]
    map:
      status: "{{ status | cent }}"
      name: 'foo(('
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_ok_exits_zero() -> None:
    code, out, _ = run("check", str(SHOPIFY))
    assert code == 0
    assert out.strip().endswith("shopify-like.yaml: ok")


def test_check_prints_one_line_per_problem_and_exits_two(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    code, _, err = run("check", str(path), str(SHOPIFY))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert (
        lines[0]
        == f"{path}:7:18: entities.orders.depends_on[0]: unknown entity 'prodcts' (known: orders)"
    )
    assert lines[1].startswith(
        f"{path}:9:15: entities.orders.map.status: unknown filter 'cent' (did you mean 'cents'?)"
    )
    assert lines[2].startswith(f"{path}:10:13: entities.orders.map.name: JMESPath syntax error")


def test_test_command_passes_shipped_mapping() -> None:
    code, out, _ = run("test", str(SHOPIFY))
    assert code == 0
    assert out.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_test_command_shows_a_readable_diff(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nname: m\nsource: {connector: files, root: d}\n"
        "entities:\n  products:\n    extract: {path: p.json}\n"
        "    map: {name: title, price: {amount: '{{ price | cents }}'}}\n"
        "tests:\n"
        "  - {name: good, entity: products, validate: false, input: {title: A, price: '1.00'}, expect: {price: {amount: 100}}}\n"
        "  - {name: bad, entity: products, validate: false, input: {title: A, price: '1.00'}, expect: {name: B, price: {amount: 99}}}\n"
        "  - {name: err, entity: products, validate: false, input: {title: A, price: 'x'}, expect_error: \"'x'\"}\n"
        "  - {name: noerr, entity: products, validate: false, input: {title: A, price: '1'}, expect_error: boom}\n"
    )
    code, out, _ = run("test", str(path))
    assert code == 1
    assert f"FAIL products: bad ({path}:10:5)" in out
    assert "    name: expected 'B', got 'A'" in out
    assert "    price.amount: expected 99, got 100" in out
    assert "PASS products: err" in out
    assert "    expected an error containing 'boom'" in out
    assert out.strip().splitlines()[-1] == "2 passed, 2 failed"


def test_preview_json_from_input_file(tmp_path: Path) -> None:
    records = tmp_path / "products.jsonl"
    records.write_text(
        json.dumps(
            {
                "id": 1,
                "title": "T",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
                "variants": [{"price": "2.50"}],
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": 2,
                "title": "U",
                "created_at": "bad",
                "updated_at": "2024-01-01T00:00:00Z",
                "variants": [{"price": "1"}],
            }
        )
        + "\n"
    )
    code, out, _ = run(
        "preview", str(SHOPIFY), "--entity", "products", "--input", str(records), "--json"
    )
    assert code == 0
    first, second = (json.loads(line) for line in out.strip().splitlines())
    assert first["payload"]["price"] == {"amount": 250, "currency_code": "USD"}
    assert first["errors"] == []
    assert first["input"]["id"] == 1
    assert any("created_at" in e and "'bad'" in e for e in second["errors"])


def test_preview_table_shows_input_payload_and_errors(tmp_path: Path) -> None:
    records = tmp_path / "c.json"
    records.write_text(json.dumps([{"id": 5, "email": "a@b.co", "first_name": "Ann"}]))
    code, out, _ = run("preview", str(SHOPIFY), "-e", "customers", "--input", str(records))
    assert code == 0
    assert "Loop payload" in out and '"external_id": "5"' in out and "valid" in out


def test_preview_unknown_entity_suggests(tmp_path: Path) -> None:
    code, _, err = run("preview", str(SHOPIFY), "-e", "order", "--input", str(SHOPIFY))
    assert code == 2
    assert "unknown entity 'order' (did you mean 'orders'?)" in err


def test_schemas_lists_and_prints() -> None:
    code, out, _ = run("schemas")
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    for name in ("loop/order", "loop/product", "loop/variant", "events/return", "mapping"):
        assert name in names
    for connector in ("http", "files", "sql"):
        assert f"connectors/{connector}.source" in names
        assert f"connectors/{connector}.extract" in names
    code, out, _ = run("schemas", "connectors/http.source")
    assert code == 0 and json.loads(out)["title"] == "http source"
    code, out, _ = run("schemas", "order")
    assert code == 0 and json.loads(out)["title"]
    code, _, err = run("schemas", "nope")
    assert code == 2 and "unknown schema 'nope'" in err


def test_shopify_fixtures_preview_to_valid_payloads() -> None:
    """The real Shopify examples map to payloads that validate (orders.json has no lines)."""
    if not FIXTURES.is_dir():
        import pytest

        pytest.skip("shared Shopify fixtures are not beside the repository")
    cases = [
        ("orders", "order.json"),
        ("products", "products.json"),
        ("variants", "products.json"),
        ("customers", "customer.json"),
        ("locations", "locations.json"),
        ("inventories", "inventory_levels.json"),
    ]
    for entity, name in cases:
        code, out, err = run(
            "preview",
            str(SHOPIFY),
            "-e",
            entity,
            "--input",
            str(FIXTURES / name),
            "--json",
            "--limit",
            "100",
        )
        assert code == 0, err
        results = [json.loads(line) for line in out.strip().splitlines()]
        assert results, entity
        for result in results:
            assert result["errors"] == [], (entity, result["errors"])
    # The list fixture's order carries no line items: Loop requires them, so it must not pass.
    code, out, _ = run(
        "preview", str(SHOPIFY), "-e", "orders", "--input", str(FIXTURES / "orders.json"), "--json"
    )
    (result,) = [json.loads(line) for line in out.strip().splitlines()]
    assert result["errors"] == ['schema $: "line_items" is a required property']


def test_preview_reads_the_mappings_own_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --input, preview extracts through the connector (the embedded demo shop)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ETL_DEMO_ORDERS", "20")
    code, out, err = run("preview", str(SHOPIFY), "-e", "orders", "--limit", "3", "--json")
    assert code == 0, err
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert len(results) == 3
    for result in results:
        assert result["errors"] == []
        assert result["payload"]["external_id"] == str(result["input"]["id"])
        assert result["payload"]["line_items"][0]["product"]["id"].startswith("<products:")


FIXTURE_MAPPING = """\
version: 1
name: m
source: {connector: files, root: d}
entities:
  orders:
    extract: {path: lines.csv, group: {by: doc}}
    map: {external_id: doc, line_items: {each: lines, map: {sku: sku}}}
tests:
  - name: lines grouped
    entity: orders
    validate: false
    files: {lines.csv: "doc,sku\\nSO1,A\\nSO2,C\\n"}
    expect: [{external_id: SO1, line_items: [{sku: A}, {sku: B}]}, {external_id: SO2}]
  - name: a file the test lacks
    entity: orders
    validate: false
    files: {line.csv: "doc,sku\\n"}
    expect: []
"""


def test_test_command_runs_a_fixture_case_through_the_extract(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(FIXTURE_MAPPING, encoding="utf-8")
    code, out, _ = run("test", str(path))
    assert code == 1
    assert f"FAIL orders: lines grouped ({path}:9:5)" in out
    assert "    [0].line_items: expected 2 item(s), got 1" in out
    assert f"FAIL orders: a file the test lacks ({path}:14:5)" in out
    assert "    error: fixture: extract.path 'lines.csv' is not among the test's files " in out
    fixed = FIXTURE_MAPPING.replace("SO1,A\\n", "SO1,A\\nSO1,B\\n").replace(
        "line.csv:", "lines.csv:"
    )
    path.write_text(fixed, encoding="utf-8")
    code, out, _ = run("test", str(path))
    assert (code, out.strip().splitlines()[-1]) == (0, "2 passed, 0 failed")


def test_check_reports_a_response_body_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nname: m\nsource: {connector: http, base_url: 'https://shop.invalid'}\n"
        "entities:\n  orders:\n    extract: {path: /orders}\n    map: {external_id: id}\n"
        "tests:\n  - name: bad body\n    entity: orders\n"
        "    responses: {/orders: '[{id: 1}]'}\n    expect: {external_id: '1'}\n",
        encoding="utf-8",
    )
    code, _, err = run("check", str(path))
    assert code == 2
    assert f"{path}:11:" in err
    assert "tests[0].responses./orders: the body is not JSON" in err
