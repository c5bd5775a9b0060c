"""Guest orders: a buyer who is no customer record rides inline on the order, and `etl test`
and `etl preview` refuse an incomplete profile as Loop's sandbox does (loop-api.md §2.2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli import main

MAPPING = """\
entities:
  orders:
    extract: {path: orders.json}
    map:
      external_id: to_string(id)
      name: name
      created_at: created_at
      taxes_included: "`false`"
      total_price: {amount: to_int(total_cents), currency_code: "'USD'"}
      customer:
        external_id: "join('', ['guest-', email])"
        first_name: first_name
        last_name: last_name
        email: email
        phone: phone
      line_items:
        each: lines
        map:
          external_id: to_string(id)
          product: {id: "`9007199254741001`"}
          unit_price: {amount: to_int(cents)}
          taxable: "`true`"
tests:
  - name: a guest order with the whole profile
    entity: orders
    input: &guest {id: 1, name: "#1", created_at: "2024-03-01T10:00:00+00:00", total_cents: 500,
                   email: ada@example.com, first_name: Ada, last_name: Lovelace, phone: "555-0100",
                   lines: [{id: 11, cents: 500}]}
    expect: {customer: {external_id: guest-ada@example.com, phone: "555-0100"}}
  - name: a guest order without a phone
    entity: orders
    input: {<<: *guest, phone: null}
    expect: {name: "#1"}
"""


def _guest(**changes: Any) -> dict[str, Any]:
    order = {
        "id": 1,
        "name": "#1",
        "created_at": "2024-03-01T10:00:00+00:00",
        "total_cents": 500,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "555-0100",
        "lines": [{"id": 11, "cents": 500}],
    }
    return {k: v for k, v in {**order, **changes}.items() if v is not None}


def test_etl_test_reports_a_guest_order_missing_a_phone(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(MAPPING)
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exit_code == 1, result.output
    assert "PASS orders: a guest order with the whole profile" in result.stdout
    assert "FAIL orders: a guest order without a phone" in result.stdout
    assert 'error: schema $.customer: "phone" is a required property' in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_preview_reports_a_guest_order_missing_a_phone(
    write_mapping: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_mapping(MAPPING)
    records = tmp_path / "orders.jsonl"
    lines = [_guest(), _guest(id=2, phone=None), _guest(id=3, phone="")]
    records.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["preview", str(path), "-e", "orders", "--input", str(records), "--json"]
    )
    assert result.exit_code == 0, result.output
    full, no_phone, blank = (json.loads(line) for line in result.stdout.splitlines())
    assert full["errors"] == []
    assert full["payload"]["customer"]["phone"] == "555-0100"
    assert no_phone["errors"] == ['schema $.customer: "phone" is a required property']
    assert blank["errors"] == ['schema $.customer.phone: "" is shorter than 1 character']
