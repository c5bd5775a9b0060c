"""An orders mapping over JSON files for the loader's tests: products, then orders with two
lines each and, for some, a refund of their first line (`lookup: line_items`)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.sandbox.server import SandboxHandle
from tests.pipeline.conftest import Pipeline

ENTITIES = """\
  products:
    extract: {path: products.json}
    map:
      external_id: to_string(id)
      name: title
      price: {amount: to_int(price), currency_code: "'USD'"}
  orders:
    extract: {path: orders.json}
    map:
      external_id: to_string(id)
      name: name
      status: "'active'"
      taxes_included: "`false`"
      total_price: {amount: to_int(total), currency_code: "'USD'"}
      created_at: "'2024-03-01T15:00:00+00:00'"
      line_items:
        each: lines
        map:
          external_id: to_string(id)
          product: {external_id: to_string(product)}
          unit_price: {amount: to_int(price), currency_code: "'USD'"}
          taxable: "`true`"
          quantity: "`1`"
      refunds:
        each: refunds
        map:
          external_id: to_string(id)
          type: "'line_item'"
          amount: {amount: to_int(amount), currency_code: "'USD'"}
          line_item:
            id: {lookup: line_items, key: to_string(line)}
            quantity: "`1`"
            restock: "`false`"
"""
ORDERS = 40
REFUNDED = (3, 17)  # orders with a refund from the start: two writes each, never in bulk


def orders(bad: int | None = None) -> list[dict[str, Any]]:
    orders = []
    for n in range(1, ORDERS + 1):
        lines = [{"id": n * 10 + i, "product": 1 + (n + i) % 3, "price": 500 + i} for i in (1, 2)]
        if n == bad:
            lines[0]["product"] = 99  # not in Loop: a 422 from Loop, not from validation
        refunds = [{"id": n * 100, "line": n * 10 + 1, "amount": 501}] if n in REFUNDED else []
        orders.append({"id": n, "name": f"#{n}", "total": 1003, "lines": lines, "refunds": refunds})
    return orders


def setup(pipeline: Pipeline, bulk: str | None, orders: list[dict[str, Any]]) -> CompiledMapping:
    products = [{"id": i, "title": f"P{i}", "price": 500} for i in (1, 2, 3)]
    pipeline.write("products.json", json.dumps(products))
    pipeline.write("orders.json", json.dumps(orders))
    return write_mapping(pipeline, "bulk-test", bulk, ENTITIES)


def write_mapping(
    pipeline: Pipeline, name: str, bulk: str | None, entities: str
) -> CompiledMapping:
    """A files mapping of `entities` over the pipeline's folder into its sandbox, compiled;
    `bulk` is the `target.bulk` block (YAML flow text) or None."""
    extra = f", bulk: {bulk}" if bulk else ""
    (pipeline.folder / "mapping.yaml").write_text(
        f"version: 1\nname: {name}\n"
        f"source: {{connector: files, root: {pipeline.folder}}}\n"
        f"target: {{base_url: {pipeline.sandbox.base_url}, api_key: sandbox{extra}}}\n"
        "entities:\n" + entities
    )
    return load_and_compile(pipeline.folder / "mapping.yaml")


def order_requests(sandbox: SandboxHandle) -> Counter[str]:
    return Counter(
        f"{r['method']} {r['path'].split('/', 3)[3].split('/')[0]}"
        for r in sandbox.admin.requests()
        if "/products" not in r["path"]
    )
