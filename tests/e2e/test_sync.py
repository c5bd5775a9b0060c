"""Every mapping syncs its demo platform into the sandbox: each record once, with the right values,
and a second run sends nothing. Then the incremental sync of the shopify-like shop.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.server import running_sandbox
from engine.state import State
from examples.shopify_like import ShopHandle, running_shopify_like
from tests.e2e.conftest import (
    DEMO_ORDERS,
    DEMO_SEED,
    MAPPINGS,
    UNLIMITED,
    Etl,
    Loop,
    Result,
    clean_env,
    shop_inventory,
    shop_records,
    shopify_etl,
    write_counts,
)

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00|Z)$")
KINDS = {"locations": "location", "customers": "customer", "products": "product",
         "variants": "variant", "inventories": "inventory", "collections": "collection",
         "orders": "order"}  # fmt: skip


@dataclass
class Synced:
    """A mapping synced twice into its own sandbox: both runs' results and the request marks."""

    etl: Etl
    loop: Loop
    first: Result
    second: Result
    after_first: int  # sandbox request number after the first run
    after_second: int
    shop: ShopHandle | None = None


def _sync_twice(etl: Etl, loop: Loop, shop: ShopHandle | None = None) -> Synced:
    first = etl.run_json()
    after_first = loop.last_seq()
    second = etl.run_json()
    return Synced(etl, loop, first, second, after_first, loop.last_seq(), shop)


@pytest.fixture(scope="module")
def shopify(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with (running_shopify_like(orders=DEMO_ORDERS, seed=DEMO_SEED) as shop,
          running_sandbox(rate_limit=UNLIMITED) as handle):  # fmt: skip
        loop = Loop(handle)
        etl = shopify_etl(shop, loop, tmp_path_factory.mktemp("shopify") / "state.duckdb")
        yield _sync_twice(etl, loop, shop)


def _file_mapping(name: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    """The mapping file and the environment naming its generated demo data."""
    mapping = MAPPINGS / f"{name}.yaml"
    if not mapping.exists():
        pytest.skip(f"{mapping.name} is not written yet")
    if name == "erp-like":
        from examples.erp_like import generate_erp_csv

        generate_erp_csv(tmp / "erp", orders=DEMO_ORDERS, seed=DEMO_SEED)
        return mapping, {"ERP_DATA_DIR": str(tmp / "erp")}
    from examples.oms_like import generate_oms_db

    generate_oms_db(tmp / "oms.sqlite", orders=DEMO_ORDERS, seed=DEMO_SEED)
    return mapping, {"OMS_DATABASE": str(tmp / "oms.sqlite")}


@pytest.fixture(scope="module", params=["erp-like", "oms-like"])
def file_synced(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:  # fmt: skip
    tmp = tmp_path_factory.mktemp(request.param)
    mapping, source_env = _file_mapping(request.param, tmp)
    with running_sandbox(rate_limit=UNLIMITED) as handle:
        loop = Loop(handle)
        env = clean_env(LOOP_API_URL=loop.base_url, LOOP_RATE_LIMIT=UNLIMITED, **source_env)
        yield _sync_twice(Etl(mapping, tmp / "state.duckdb", env, cwd=tmp), loop)


# -- what every mapping must get right ------------------------------------------------------


def _expected_counts() -> dict[str, int]:
    """The demo shop's size: the three demo platforms describe the same shop."""
    from examples.shopify_like import generate
    from examples.shopify_like.ids import MAX_VARIANTS

    data = generate(orders=DEMO_ORDERS, seed=DEMO_SEED)
    variants = sum(data.shape(p).variants for p in range(data.n_products))
    inventories = sum(1 for p in range(data.n_inventory_positions) if data.inventory_exists(p))
    assert inventories == variants * data.n_locations
    assert all(data.shape(p).variants <= MAX_VARIANTS for p in range(data.n_products))
    return {"locations": data.n_locations, "customers": data.n_customers,
            "products": data.n_products, "variants": variants, "inventories": inventories,
            "collections": data.n_collections, "orders": data.n_orders}  # fmt: skip


def _check_synced(s: Synced) -> dict[str, int]:
    """Exit 0, every record once, counts as generated, references by Loop id; the second run
    sent no write and found everything unchanged. Returns the counts."""
    assert s.first.code == 0, s.first
    summary = s.first.summary
    expected = _expected_counts()
    # return action sources (receipts, inspections) are empty in the demo exports
    actions = {e: stats for e, stats in summary.items() if e not in KINDS}
    assert all(stats["extracted"] == 0 for stats in actions.values()), actions
    summary = {e: stats for e, stats in summary.items() if e in KINDS}
    for entity, stats in summary.items():
        kind = KINDS[entity]
        if kind == "inventory":
            stored = len(s.loop.inventory_pairs())
        else:
            stored = len(s.loop.by_external_id(kind))
        assert stored == expected[entity], f"{entity}: {stored} in Loop, {expected[entity]} made"
        assert stats["created"] == expected[entity], stats
        assert stats["quarantined"] == stats["held"] == 0, stats
    _check_references(s.loop)
    _check_orders(s.loop)
    _check_second_run(s)
    return {e: expected[e] for e in summary}


def _check_references(loop: Loop) -> None:
    products = {p["id"]: p for p in loop.records("product")}
    variants = {v["id"]: v for v in loop.records("variant")}
    customers = {c["id"] for c in loop.records("customer")}
    for order in loop.records("order"):
        assert order["customer"] is None or order["customer"]["id"] in customers
        for line in order["line_items"]:
            assert line["product"]["id"] in products, line
            variant = variants[line["product_variant"]["id"]]
            assert (
                _ref_id(variant.get("product") or variant.get("product_id"))
                == line["product"]["id"]
            ), (line, variant)
    locations = {loc["id"] for loc in loop.records("location")}
    for variant_id, location_id in loop.inventory_pairs():
        assert variant_id in variants and location_id in locations


def _ref_id(value: Any) -> int:
    if isinstance(value, list):
        (value,) = value
    return int(value["id"] if isinstance(value, dict) else value)


def _check_orders(loop: Loop) -> None:
    for order in loop.records("order"):
        for stamp in ("created_at", "updated_at"):
            assert RFC3339_UTC.match(order[stamp]), (order["external_id"], stamp, order[stamp])
        assert order["status"] in ("active", "archived", "cancelled"), order["status"]


def _check_second_run(s: Synced) -> None:
    assert s.second.code == 0, s.second
    assert s.loop.writes(after=s.after_first) == [], "the second run wrote to Loop"
    for stats in s.second.summary.values():
        assert stats["created"] == stats["updated"] == stats["requests"] == 0, stats
        assert stats["unchanged"] == stats["extracted"], stats


def _figures(loop: Loop) -> dict[str, Counter[Any]]:
    """Values that do not depend on the platform's ids: the same shop gives the same figures."""
    # (not product prices: the ERP gives an item its own list price, Shopify only variants have
    # one, so the mapping takes the first variant's)
    return {
        "variant prices": Counter(v["price"]["amount"] for v in loop.records("variant")),
        "order totals": Counter(o["total_price"]["amount"] for o in loop.records("order")),
        "order statuses": Counter(o["status"] for o in loop.records("order")),
        "order created_at": Counter(o["created_at"] for o in loop.records("order")),
        "stock": Counter(i["available_count"] for i in loop.records("inventory")),
        "emails": Counter(c["email"] for c in loop.records("customer")),
    }


# -- the tests ------------------------------------------------------------------------------


def test_shopify_like_syncs_every_record_once_with_its_values(shopify: Synced) -> None:
    _check_synced(shopify)
    assert shopify.shop is not None
    _check_shopify_values(shopify.loop, shopify.shop)


def test_file_mappings_sync_the_same_shop_as_shopify_like(file_synced: Synced,
                                                           shopify: Synced) -> None:  # fmt: skip
    counts = _check_synced(file_synced)
    mine, theirs = _figures(file_synced.loop), _figures(shopify.loop)
    # shopify_like's touch test may have run first: compare figures of untouched shops only
    touched = shopify.shop is not None and bool(shopify.shop.store.table("products").overrides)
    for name, figure in mine.items():
        if touched and name == "variant prices":
            continue
        if name == "emails" and "customers" not in counts:
            continue
        assert figure == theirs[name], f"{file_synced.etl.mapping.name}: {name} differ"


def _check_shopify_values(loop: Loop, shop: ShopHandle) -> None:
    products = loop.by_external_id("product")
    variants = loop.by_external_id("variant")
    for product in shop_records(shop, "products"):
        mine = products[str(product["id"])]
        price = Decimal(product["variants"][0]["price"]) * 100
        assert mine["price"] == {"amount": int(price), "currency_code": "USD"}, mine["price"]
        assert mine["name"] == product["title"]
        for variant in product["variants"]:
            theirs = variants[str(variant["id"])]
            assert theirs["price"]["amount"] == int(Decimal(variant["price"]) * 100)
            assert theirs["sku"] == variant["sku"]
            assert _ref_id(theirs.get("product") or theirs.get("product_id")) == mine["id"]
    _check_shopify_orders(loop, shop, products, variants)
    _check_shopify_people_and_places(loop, shop, products, variants)


def _check_shopify_orders(loop: Loop, shop: ShopHandle, products: dict[str, Any],
                          variants: dict[str, Any]) -> None:  # fmt: skip
    orders = loop.by_external_id("order")
    customers = loop.by_external_id("customer")
    for order in shop_records(shop, "orders"):
        mine = orders[str(order["id"])]
        expected_status = ("cancelled" if order["cancelled_at"] else
                           "archived" if order["closed_at"] else "active")  # fmt: skip
        assert mine["status"] == expected_status, (order["id"], mine["status"])
        created = datetime.fromisoformat(order["created_at"]).astimezone(UTC)
        assert mine["created_at"] == created.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        assert mine["total_price"]["amount"] == int(Decimal(order["total_price"]) * 100)
        assert mine["customer"]["id"] == customers[str(order["customer"]["id"])]["id"]
        lines = {line["external_id"]: line for line in mine["line_items"]}
        assert len(lines) == len(order["line_items"])
        for line in order["line_items"]:
            theirs = lines[str(line["id"])]
            assert theirs["product"]["id"] == products[str(line["product_id"])]["id"]
            assert theirs["product_variant"]["id"] == variants[str(line["variant_id"])]["id"]
            assert theirs["unit_price"]["amount"] == int(Decimal(line["price"]) * 100)
        refunded = [r["line_item"]["id"] for r in mine.get("refunds") or []]
        assert set(refunded) <= {line["id"] for line in mine["line_items"]}, refunded


def _check_shopify_people_and_places(loop: Loop, shop: ShopHandle, products: dict[str, Any],
                                     variants: dict[str, Any]) -> None:  # fmt: skip
    customers = loop.by_external_id("customer")
    for customer in shop_records(shop, "customers"):
        mine = customers[str(customer["id"])]
        assert (mine["email"], mine["first_name"], mine["last_name"]) == (
            customer["email"],
            customer["first_name"],
            customer["last_name"],
        )
    locations = loop.by_external_id("location")
    for location in shop_records(shop, "locations"):
        assert locations[str(location["id"])]["name"] == location["name"]
    by_item = {
        str(v["inventory_item_id"]): variants[str(v["id"])]["id"]
        for p in shop_records(shop, "products")
        for v in p["variants"]
    }
    stock = loop.inventory_pairs()
    levels = shop_inventory(shop)
    assert len(levels) == len(stock)
    for level in levels:
        pair = (
            by_item[str(level["inventory_item_id"])],
            locations[str(level["location_id"])]["id"],
        )
        assert stock[pair]["available_count"] == level["available"], (level, stock[pair])
    collections = loop.by_external_id("collection")
    members: dict[str, list[int]] = {}
    for collect in shop_records(shop, "collects"):
        members.setdefault(str(collect["collection_id"]), []).append(
            products[str(collect["product_id"])]["id"]
        )
    for collection in shop_records(shop, "custom_collections"):
        mine = collections[str(collection["id"])]
        assert mine["name"] == collection["title"]
        assert sorted(_ref_id(p) for p in mine["products"]) == sorted(
            members.get(str(collection["id"]), [])
        ), collection["title"]


def test_shopify_like_incremental_sends_exactly_the_changed_records(shopify: Synced) -> None:
    assert shopify.shop is not None and shopify.first.code == 0, shopify.first
    shop, loop = shopify.shop, shopify.loop
    before = loop.last_seq()
    products = shop.touch("products", count=3)
    orders = shop.touch("orders", count=2)
    touched = [p for p in shop_records(shop, "products") if p["id"] in products]
    # touch raises every variant's price by a dollar: each variant's payload changes too
    variant_ids = {str(v["id"]) for p in touched for v in p["variants"]}

    result = shopify.etl.run_json()

    assert result.code == 0, result
    writes = loop.writes(after=before)
    assert write_counts(writes) == Counter({
        "PUT /products": 3, "PUT /products/external/*/product-variants": len(variant_ids),
        "PUT /orders": 2})  # fmt: skip
    sent = {(w["path"].split("/")[3], str(w["json"]["external_id"])) for w in writes}
    assert sent == ({("products", str(i)) for i in products}
                    | {("products", i) for i in variant_ids}  # variants: /products/external/..
                    | {("orders", str(i)) for i in orders})  # fmt: skip
    summary = result.summary
    assert summary["products"]["updated"] == 3 and summary["orders"]["updated"] == 2
    assert summary["variants"]["updated"] == len(variant_ids)
    for entity, stats in summary.items():
        assert stats["created"] == stats["quarantined"] == stats["held"] == 0, stats
        if entity not in ("products", "variants", "orders"):
            assert stats["updated"] == stats["requests"] == 0, stats
    # and Loop now holds the new prices
    stored = loop.by_external_id("product")
    for product in touched:
        cents = int(Decimal(product["variants"][0]["price"]) * 100)
        assert stored[str(product["id"])]["price"]["amount"] == cents


def test_shopify_like_status_reports_cursors_and_counts(shopify: Synced) -> None:
    result = shopify.etl("status", str(shopify.etl.mapping), "--json")

    assert result.code == 0, result
    report = json.loads(result.stdout)
    counts = _expected_counts()
    for entity, row in report["entities"].items():
        assert row["synced"] == counts[entity], (entity, row)
        assert row["quarantined"] == row["held"] == 0, row
    for entity in ("customers", "products", "orders", "collections", "inventories"):
        assert report["entities"][entity]["cursor"], entity
    assert report["runs"][0]["status"] == "ok"
    with State(shopify.etl.state) as state:
        assert state.cursors() == {
            e: r["cursor"] for e, r in report["entities"].items() if r["cursor"] is not None
        }


def test_shopify_like_dry_run_sends_nothing_and_writes_no_state(shopify: Synced) -> None:
    shop, loop = shopify.shop, shopify.loop
    assert shop is not None
    shop.touch("customers", count=2)
    before = loop.last_seq()
    with State(shopify.etl.state) as state:
        saved = (state.cursors(), state.counts(), state.runs(limit=100), state.id_map("customers"))

    result = shopify.etl.run_json("--dry-run")

    assert result.code == 0, result
    assert loop.last_seq() == before, "a dry run sent requests to Loop"
    assert result.summary["customers"]["updated"] == 2
    assert all(s["requests"] == 0 for s in result.summary.values())
    with State(shopify.etl.state) as state:
        assert (
            state.cursors(),
            state.counts(),
            state.runs(limit=100),
            state.id_map("customers"),
        ) == saved
    # a real run then sends exactly what the dry run said it would
    result = shopify.etl.run_json()
    assert result.code == 0, result
    assert write_counts(loop.writes(after=before)) == Counter({"PUT /customers": 2})
