"""`etl reconcile` end to end: the demo shop and the sandbox on loopback, real HTTP both ways.

After a full `etl run`, differences are made behind the engine's back (records deleted, changed
and created in Loop directly, an ID map row corrupted); reconcile must report exactly those,
--fix must repair them, and extra records are only ever reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.reconcile.compare import differences
from engine.sandbox.server import SandboxHandle, running_sandbox
from engine.state import State
from examples.shopify_like import ShopHandle, running_shopify_like

MAPPING = str(Path(__file__).parents[2] / "mappings" / "shopify-like.yaml")
CATEGORIES = ("missing", "drifted", "extra", "stale_id_map", "unmappable")


@dataclass
class Synced:
    """A demo shop synced into a sandbox by `etl run`, and the state that run left."""

    shop: ShopHandle
    sandbox: SandboxHandle
    state: Path

    def etl(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*args, MAPPING, "--state", str(self.state)])
        return result.exit_code, result.output

    def reconcile(self, *args: str) -> tuple[int, dict[str, Any]]:
        code, output = self.etl("reconcile", "--json", *args)
        return code, json.loads(output)

    def loop(self) -> httpx.Client:
        return self.sandbox.client(timeout=30)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    state = tmp_path_factory.mktemp("reconcile") / "state.duckdb"
    with (
        running_shopify_like(orders=12, seed=3) as shop,
        running_sandbox(api_keys=("sandbox",), rate_limit="6000/min") as sandbox,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("SHOP_URL", shop.api_url)
        env.setenv("LOOP_API_URL", sandbox.base_url)
        env.setenv("LOOP_API_KEY", "sandbox")
        env.setenv("LOOP_RATE_LIMIT", "6000/min")
        here = Synced(shop, sandbox, state)
        code, output = here.etl("run", "--json")
        assert code == 0, output
        yield here


def found(report: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """entity -> category -> keys, for every non-empty category."""
    return {
        name: {c: sorted(e[c]) for c in CATEGORIES if e[c]}
        for name, e in report["entities"].items()
        if any(e[c] for c in CATEGORIES)
    }


def test_reconcile_after_run_everything_matches(synced: Synced) -> None:
    code, report = synced.reconcile()
    assert code == 0, report
    assert report["found"] == 0 and report["remaining"] == 0
    entities = report["entities"]
    assert list(entities) == [
        "locations",
        "customers",
        "products",
        "variants",
        "inventories",
        "collections",
        "orders",
    ]
    for entity in entities.values():
        assert entity["platform"] == entity["loop"] == entity["matching"] > 0, entity
    code, output = synced.etl("reconcile")
    assert code == 0 and "everything matches" in output


def test_reconcile_unknown_entity_is_a_usage_error(synced: Synced) -> None:
    code, output = synced.etl("reconcile", "--entity", "orderz")
    assert code == 2 and "orders" in output


def _pick(synced: Synced) -> dict[str, Any]:
    """A product (with its variants and collections), two orders, a customer: from Loop."""
    with synced.loop() as loop:
        # Loop ids follow the order of a concurrent load: pick by external_id, reproducibly.
        products, orders, customers = (
            sorted(loop.get(f"/{kind}", params={"limit": 250}).json()[kind], key=_external)
            for kind in ("products", "orders", "customers")
        )
        product = min(products, key=lambda p: len(p["collections"]))
        variants = loop.get(f"/products/{product['id']}/product-variants").json()
    with synced.shop.client(timeout=30) as shop:
        shop_product = shop.get(f"/products/{product['external_id']}.json").json()["product"]
    items = {str(v["inventory_item_id"]) for v in shop_product["variants"]}
    with State(synced.state) as state:
        inventories = [k for k in state.id_map("inventories") if k.split("@")[0] in items]
    return {
        "product": product,
        "variants": variants["product_variants"],
        "deleted": orders[0],
        "stale": orders[1],
        "customer": customers[0],
        "inventories": inventories,
        "collections": sorted(c["external_id"] for c in product["collections"]),
        "referencing": sorted(
            o["external_id"]
            for o in orders[1:]
            if any(line["product"]["id"] == product["id"] for line in o["line_items"])
        ),
    }


def _external(record: dict[str, Any]) -> str:
    return str(record["external_id"])


def _make_differences(synced: Synced, picked: dict[str, Any]) -> None:
    with synced.loop() as loop:
        assert loop.delete(f"/products/{picked['product']['id']}").status_code == 200
        assert loop.delete(f"/orders/{picked['deleted']['id']}").status_code == 200
        changed = loop.put(
            f"/customers/{picked['customer']['id']}", json={"email": "someone.else@example.com"}
        )
        assert changed.status_code == 200
        extra = loop.put(
            "/products", json={"external_id": "not-on-the-platform", "name": "Made in Loop by hand"}
        )
        assert extra.status_code == 200, extra.text
    with State(synced.state) as state, state.transaction() as db:
        db.execute(
            "UPDATE id_map SET loop_id = 4242 WHERE entity = 'orders' AND key = ?",
            [picked["stale"]["external_id"]],
        )


def test_reconcile_reports_and_fixes_what_changed_behind_its_back(synced: Synced) -> None:
    picked = _pick(synced)
    _make_differences(synced, picked)
    product, customer = picked["product"]["external_id"], picked["customer"]["external_id"]
    expected = {
        "products": {"missing": [product], "extra": ["not-on-the-platform"]},
        # Loop deletes a product's variants and their inventories with it.
        "variants": {"missing": sorted(v["external_id"] for v in picked["variants"])},
        "inventories": {"missing": sorted(picked["inventories"])},
        "customers": {"drifted": [customer]},
        # ... and takes it out of its collections, which the mapping still puts it in.
        "collections": {"drifted": picked["collections"]},
        "orders": {
            "missing": [picked["deleted"]["external_id"]],
            "stale_id_map": [picked["stale"]["external_id"]],
        },
    }

    code, report = synced.reconcile()
    assert code == 3, report
    expected = {k: v for k, v in expected.items() if v != {"drifted": []}}
    assert found(report) == expected, report
    assert picked["inventories"] and picked["variants"]
    drift = report["entities"]["customers"]["drifted"][customer]
    assert drift == [
        f"email: Loop has 'someone.else@example.com', the mapping makes "
        f"{picked['customer']['email']!r}"
    ]
    stale = report["entities"]["orders"]["stale_id_map"][picked["stale"]["external_id"]]
    assert "4242" in stale and str(picked["stale"]["id"]) in stale

    code, fixed = synced.reconcile("--fix")
    assert code == 3  # the extra product is only reported, never deleted
    # Once the product is back under a new Loop id, the orders that reference it differ too:
    # found and fixed in the same pass (orders are reconciled after products).
    if picked["referencing"]:
        expected["orders"]["drifted"] = picked["referencing"]
    assert found(fixed) == expected, fixed
    assert fixed["remaining"] == 1
    assert not any(e["failed"] for e in fixed["entities"].values()), fixed
    assert fixed["entities"]["products"]["fixed"] == {"missing": [product]}
    assert fixed["entities"]["orders"]["fixed"]["stale_id_map"] == [picked["stale"]["external_id"]]

    code, after = synced.reconcile()
    assert code == 3
    assert found(after) == {"products": {"extra": ["not-on-the-platform"]}}, after
    _assert_repaired(synced, picked)


def _assert_repaired(synced: Synced, picked: dict[str, Any]) -> None:
    with synced.loop() as loop:
        product = loop.get(f"/products/external/{picked['product']['external_id']}").json()
        order = loop.get(f"/orders/external/{picked['deleted']['external_id']}")
        customer = loop.get(f"/customers/{picked['customer']['id']}").json()["customer"]
        assert loop.get("/products/external/not-on-the-platform").status_code == 200
    assert order.status_code == 200
    assert customer["email"] == picked["customer"]["email"]
    with State(synced.state) as state:
        assert (
            state.id_map("products")[picked["product"]["external_id"]] == product["product"]["id"]
        )
        assert state.id_map("orders")[picked["stale"]["external_id"]] == picked["stale"]["id"]
    code, output = synced.etl("run", "--json")  # and a run after it has nothing left to send
    assert code == 0, output
    assert all(e["created"] == e["updated"] == 0 for e in json.loads(output)["entities"])


@pytest.mark.parametrize(
    ("mapped", "stored", "expected"),
    [
        pytest.param(
            {"name": "A", "price": {"amount": 100, "currency_code": "USD"}},
            {
                "id": 1,
                "name": "A",
                "price": {"amount": 100, "currency_code": "USD"},
                "collections": [],
            },
            [],
            id="fields Loop adds are ignored",
        ),
        pytest.param(
            {"price": {"amount": 100}},
            {"price": {"amount": 150}},
            ["price.amount: Loop has 150, the mapping makes 100"],
            id="nested amount",
        ),
        pytest.param(
            {"channel": "web"},
            {"channel": {"id": 7, "name": "web"}},
            [],
            id="a channel name comes back as an object",
        ),
        pytest.param(
            {"tags": None, "address2": None}, {"tags": []}, [], id="null is an empty list or absent"
        ),
        pytest.param(
            {"created_at": "2024-01-01T12:00:00+00:00"},
            {"created_at": "2024-01-01T07:00:00-05:00"},
            [],
            id="the same moment",
        ),
        pytest.param(
            {"postal_code": "07094"}, {"postal_code": 7094}, [], id="a number for a string"
        ),
        pytest.param(
            {"taxable": True},
            {"taxable": 1},
            ["taxable: Loop has 1, the mapping makes True"],
            id="a boolean is not a number",
        ),
        pytest.param(
            {"line_items": [{"external_id": "1", "quantity": 2}]},
            {"line_items": [{"id": 9, "external_id": "1", "quantity": 1}]},
            ["line_items[0].quantity: Loop has 1, the mapping makes 2"],
            id="list items",
        ),
        pytest.param(
            {"line_items": [{"quantity": 2}, {"quantity": 1}]},
            {"line_items": [{"quantity": 2}]},
            ["line_items: 1 item(s) in Loop, the mapping makes 2; not in Loop: {'quantity': 1}"],
            id="list lengths",
        ),
    ],
)
def test_differences_compares_what_loop_echoes(
    mapped: Any, stored: Any, expected: list[str]
) -> None:
    assert differences(mapped, stored) == expected
