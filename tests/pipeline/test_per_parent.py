"""Per-parent extraction with YAML only, against a WooCommerce-shaped fixture platform whose
variations are listed only per product (`/products/{id}/variations`): `include` fetches them
for the products that have some (`when`), `fan_out` makes each a record with its product as
`parent`, and an incremental run asks again only for the products that changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.cli import main
from engine.sandbox.server import running_sandbox
from engine.serve.server import running_server

MAPPING = """\
version: 1
name: woo
source: {connector: http, base_url: "SHOP"}
target: {base_url: "LOOP", api_key: sandbox, rate_limit: 0/min}
entities:
  customers:   # one Loop customer per variation: a kind with no references, to keep it short
    extract:
      path: /products
      cursor: {field: modified, param: modified_after}
      include:
        - {field: variations, path: "/products/{id}/variations", when: "type == 'variable'"}
    fan_out: variations
    map:
      external_id: "join('-', [to_string(parent.id), to_string(id)])"
      email: "join('', ['v', to_string(id), '@shop.test'])"
      tags: "[parent.name, to_string(stock_quantity)]"
"""


class Woo:
    """Products (simple and variable) and their variations, with a request log."""

    def __init__(self) -> None:
        self.products = [
            {"id": 1, "name": "Tee", "type": "variable", "modified": "2024-01-01T00:00:00"},
            {"id": 2, "name": "Mug", "type": "simple", "modified": "2024-01-01T00:00:00"},
            {"id": 3, "name": "Hoodie", "type": "variable", "modified": "2024-01-02T00:00:00"},
        ]
        self.variations = {1: [{"id": 11, "stock_quantity": 4}, {"id": 12, "stock_quantity": 0}],
                           3: [{"id": 31, "stock_quantity": 7}]}  # fmt: skip
        self.log: list[str] = []

    def app(self) -> Starlette:
        async def products(request: Request) -> JSONResponse:
            self.log.append(request.url.path)
            since = request.query_params.get("modified_after")
            found = [p for p in self.products if since is None or p["modified"] > since]
            return JSONResponse(found)

        async def variations(request: Request) -> JSONResponse:
            self.log.append(request.url.path)
            return JSONResponse(self.variations.get(int(request.path_params["id"]), []))

        return Starlette(routes=[Route("/products", products),
                                 Route("/products/{id:int}/variations", variations)])  # fmt: skip


def _run(mapping: Path, state: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["run", str(mapping), "--json", "--state", str(state)])
    assert result.exit_code == 0, result.output
    [entity] = json.loads(result.output)["entities"]
    return dict(entity)


def test_per_parent_variations_are_fetched_for_variable_products_only_and_synced(
    tmp_path: Path,
) -> None:
    woo = Woo()
    with running_server(woo.app()) as shop, running_sandbox() as sandbox:
        mapping = tmp_path / "woo.yaml"
        mapping.write_text(MAPPING.replace("SHOP", shop).replace("LOOP", sandbox.base_url))
        state = tmp_path / "s.duckdb"
        first = _run(mapping, state)
        first_log = list(woo.log)
        stored = {c["external_id"]: c["tags"] for c in sandbox.admin.records("customer")}
        woo.log.clear()
        woo.variations[3][0]["stock_quantity"] = 6  # a sale of a Hoodie...
        woo.products[2]["modified"] = "2024-01-03T00:00:00"  # ...changes its product
        second = _run(mapping, state)
        second_log = list(woo.log)
        after = {c["external_id"]: c["tags"] for c in sandbox.admin.records("customer")}
    assert first_log == ["/products", "/products/1/variations", "/products/3/variations"]
    assert first["created"] == 3
    assert first["source_requests"] == 3  # the listing and two includes, in the summary
    assert stored == {"1-11": ["Tee", "4"], "1-12": ["Tee", "0"], "3-31": ["Hoodie", "7"]}
    assert second_log == ["/products", "/products/3/variations"]  # only the changed product
    assert second["updated"] == 1 and second["created"] == 0
    assert second["source_requests"] == 2
    assert after["3-31"] == ["Hoodie", "6"]
