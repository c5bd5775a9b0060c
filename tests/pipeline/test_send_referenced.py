"""`send: referenced` (customers sent only for the orders that name them): over JSON files, a
real DuckDB state and the Loop sandbox on a loopback port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import connector_class
from engine.errors import ConfigError
from engine.loop.client import LoopClient
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.pipeline.estimate import plan
from engine.pipeline.run import EntityStats, Runner, RunOptions, RunSummary
from engine.reconcile.reconciler import ReconcileOptions, Reconciler
from engine.serve.platform import PlatformWebhooks
from engine.state import State
from tests.pipeline.conftest import Pipeline
from tests.pipeline.orders_support import write_mapping

ENTITIES = """\
  customers:
    send: referenced
    extract: {path: customers.json}
    map:
      external_id: to_string(id)
      first_name: name
      email: email
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
      customer: {id: {lookup: customers, key: to_string(customer)}}
      line_items:
        each: lines
        map:
          external_id: to_string(id)
          product: {id: {lookup: products, key: to_string(product)}}
          unit_price: {amount: to_int(price), currency_code: "'USD'"}
          taxable: "`true`"
          quantity: "`1`"
"""


def customer(n: int, name: str | None = None) -> dict[str, Any]:
    return {"id": n, "name": name or f"C{n}", "email": f"c{n}@example.com"}


def order(n: int, customer_id: int) -> dict[str, Any]:
    lines = [{"id": n * 10, "product": 1, "price": 500}]
    return {
        "id": n,
        "name": f"#{n}",
        "total": 500,
        "customer": customer_id,
        "customer_email": f"c{customer_id}@example.com",
        "lines": lines,
    }


# The same shop, its orders naming their customer by email (an alias), not by id.
BY_EMAIL = ENTITIES.replace(
    "    send: referenced\n", "    send: referenced\n    aliases: {email: email}\n", 1
).replace(
    "customer: {id: {lookup: customers, key: to_string(customer)}}",
    "customer: {id: {lookup: customers, via: email, key: customer_email}}",
)


class Shop:
    """The source files, the mapping and its runs."""

    def __init__(self, pipeline: Pipeline, entities: str = ENTITIES) -> None:
        self.pipeline = pipeline
        self.customers = [customer(n) for n in range(1, 6)]
        self.orders = [order(101, 1), order(102, 3), order(103, 3)]
        pipeline.write("products.json", json.dumps([{"id": 1, "title": "P1", "price": 500}]))
        self.compiled = write_mapping(pipeline, "send-referenced", None, entities)

    def run(self, **options: Any) -> RunSummary:
        self.pipeline.write("customers.json", json.dumps(self.customers))
        self.pipeline.write("orders.json", json.dumps(self.orders))
        return self.pipeline.run(self.compiled, **options)

    def in_loop(self) -> dict[str, dict[str, Any]]:
        return {c["external_id"]: c for c in self.pipeline.sandbox.admin.records("customer")}

    def counts(self) -> dict[str, dict[str, int]]:
        with State(self.pipeline.state_path) as state:
            return state.counts()


@pytest.fixture
def shop(pipeline: Pipeline) -> Shop:
    return Shop(pipeline)


def line(summary: RunSummary, entity: str) -> EntityStats:
    return next(s for s in summary.entities if s.entity == entity)


def test_send_referenced_sends_only_the_customers_orders_name(shop: Shop) -> None:
    summary = shop.run()
    assert sorted(shop.in_loop()) == ["1", "3"]
    customers, orders = line(summary, "customers"), line(summary, "orders")
    assert (customers.extracted, customers.created, customers.deferred) == (5, 2, 3)
    assert customers.requests == 2
    assert (orders.created, orders.held, orders.quarantined) == (3, 0, 0)
    assert summary.parked == 0  # deferred records are not parked: the run is ok
    assert shop.counts()["customers"] == {
        "synced": 2,
        "quarantined": 0,
        "held": 0,
        "deferred": 3,
    }
    in_loop = {o["external_id"]: o for o in shop.pipeline.sandbox.admin.records("order")}
    ids = {k: int(v["id"]) for k, v in shop.in_loop().items()}
    assert in_loop["102"]["customer"]["id"] == ids["3"]


def test_send_referenced_a_second_run_sends_nothing(shop: Shop) -> None:
    shop.run()
    before = len(shop.pipeline.sandbox.admin.requests())
    summary = shop.run()
    assert len(shop.pipeline.sandbox.admin.requests()) == before
    assert line(summary, "customers").deferred == 3
    assert shop.counts()["customers"]["deferred"] == 3


def test_send_referenced_a_new_order_sends_its_customer_first_with_its_latest_record(
    shop: Shop,
) -> None:
    shop.run()
    shop.customers[3] = customer(4, name="Renamed")  # updated while deferred
    shop.orders.append(order(104, 4))
    summary = shop.run()
    assert sorted(shop.in_loop()) == ["1", "3", "4"]
    assert shop.in_loop()["4"]["first_name"] == "Renamed"
    assert (line(summary, "orders").created, line(summary, "orders").held) == (1, 0)
    assert line(summary, "customers").created == 1
    assert shop.counts()["customers"]["deferred"] == 2
    # the customer went to Loop before the order that names it
    puts = [r["path"] for r in shop.pipeline.sandbox.admin.requests() if r["method"] == "PUT"]
    assert [p.rsplit("/", 1)[-1] for p in puts[-2:]] == ["customers", "orders"]


def test_send_referenced_an_order_held_for_a_customer_the_source_lacked_gets_it_later(
    shop: Shop,
) -> None:
    shop.orders.append(order(104, 9))  # customer 9 is not in the source yet
    summary = shop.run()
    assert line(summary, "orders").held == 1
    assert "9" not in shop.in_loop()
    shop.customers.append(customer(9))
    summary = shop.run()  # 9 is deferred, then the held order's retry sends it
    assert "9" in shop.in_loop()
    assert shop.counts()["orders"]["held"] == 0
    assert "104" in {o["external_id"] for o in shop.pipeline.sandbox.admin.records("order")}


def test_send_referenced_dry_run_counts_what_a_run_would_send(shop: Shop) -> None:
    shop.run(entities=("products",))
    source = shop.compiled.mapping.source
    connector = connector_class(source["connector"])(source, shop.compiled.mapping.base_dir)
    options = RunOptions(dry_run=True)
    with State(shop.pipeline.state_path) as state, connector:  # a dry run has no Loop client
        summary = Runner(shop.compiled, state, connector, None, options).run()
    customers, orders = line(summary, "customers"), line(summary, "orders")
    assert (customers.created, customers.deferred) == (2, 3)
    assert (orders.created, orders.held) == (3, 0)
    assert shop.in_loop() == {}
    assert not shop.pipeline.sandbox.admin.records("order")


def test_send_referenced_reconcile_counts_deferred_customers_as_no_difference(
    shop: Shop,
) -> None:
    shop.run()
    compiled = shop.compiled
    source = compiled.mapping.source
    connector = connector_class(source["connector"])(source, compiled.mapping.base_dir)
    client = LoopClient(shop.pipeline.sandbox.base_url, "sandbox", rate_limit="0/min")
    options = ReconcileOptions(entities=("customers",))
    with State(shop.pipeline.state_path) as state, connector, client:
        report = Reconciler(compiled, state, connector, client, options).run()
    [customers] = [e for e in report.entities if e.entity == "customers"]
    assert (customers.missing, customers.deferred, customers.matching) == ([], 3, 2)
    assert customers.remaining == 0


def test_send_referenced_estimate_counts_at_most_the_records_that_look_it_up(
    shop: Shop,
) -> None:
    estimate = plan(shop.compiled, {"customers": 200_000, "products": 10, "orders": 110_000})
    [customers] = [x for x in estimate.lines if x.entity == "customers"]
    assert (customers.records, customers.requests) == (200_000, 110_000)
    assert "send: referenced" in customers.arithmetic
    estimate = plan(shop.compiled, {"customers": 5, "products": 10, "orders": 110_000})
    assert next(x for x in estimate.lines if x.entity == "customers").requests == 5


def _compile(tmp_path: Path, entities: str) -> CompiledMapping:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nname: s\nsource: {connector: files, root: .}\n"
        "target: {base_url: 'http://localhost:1', api_key: k}\nentities:\n" + entities
    )
    return load_and_compile(path)


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        (
            "  customers:\n    send: referenced\n    extract: {path: c.json}\n"
            "    map: {external_id: to_string(id)}\n",
            "no other entity looks customers up",
        ),
        (
            "  customers:\n    send: sometimes\n    extract: {path: c.json}\n"
            "    map: {external_id: to_string(id)}\n",
            "sometimes",
        ),
    ],
)
def test_send_referenced_config_errors_say_where(
    tmp_path: Path, entities: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _compile(tmp_path, entities)
    problems = " ".join(str(p) for p in caught.value.problems)
    assert message in str(caught.value) + problems
    assert "m.yaml:" in problems  # file:line


def test_send_referenced_over_platform_webhooks_an_order_brings_its_customer(
    pipeline: Pipeline,
) -> None:
    entities = ENTITIES + "platform_webhooks: {secret: shh}\n"
    compiled = write_mapping(pipeline, "send-referenced-hooks", None, entities)
    pipeline.write("products.json", json.dumps([{"id": 1, "title": "P1", "price": 500}]))
    for name in ("customers.json", "orders.json"):
        pipeline.write(name, "[]")
    pipeline.run(compiled)  # the product is in Loop; nothing else yet

    def deliver(hooks: PlatformWebhooks, entity: str, record: dict[str, Any]) -> Any:
        raw = json.dumps(record).encode()
        signature = base64.b64encode(hmac.new(b"shh", raw, hashlib.sha256).digest()).decode()
        outcome = hooks.handle(entity, raw, signature)
        assert outcome.status == 200, outcome.body
        return outcome.body["synced"]

    client = LoopClient(pipeline.sandbox.base_url, "sandbox", rate_limit="0/min")
    with State(pipeline.state_path) as state, client:
        hooks = PlatformWebhooks(compiled, state, client)
        customer_synced = deliver(hooks, "customers", customer(7))
        in_loop = [c["external_id"] for c in pipeline.sandbox.admin.records("customer")]
        order_synced = deliver(hooks, "orders", order(201, 7))
        hooks.close()
    assert customer_synced["customers"]["deferred"] == 1 and in_loop == []
    assert order_synced["customers"]["created"] == 1
    assert order_synced["orders"]["created"] == 1 and order_synced["orders"]["held"] == 0
    [stored] = pipeline.sandbox.admin.records("order")
    [seven] = pipeline.sandbox.admin.records("customer")
    assert seven["external_id"] == "7" and stored["customer"]["id"] == int(seven["id"])


def test_send_referenced_via_an_alias_sends_the_customers_orders_name_by_email(
    pipeline: Pipeline,
) -> None:
    shop = Shop(pipeline, BY_EMAIL)
    assert shop.compiled.entities["customers"].entity.aliases == {"email": "email"}
    summary = shop.run()
    assert sorted(shop.in_loop()) == ["1", "3"]
    customers, orders = line(summary, "customers"), line(summary, "orders")
    assert (customers.created, customers.deferred, customers.requests) == (2, 3, 2)
    assert (orders.created, orders.held) == (3, 0)
    ids = {k: int(v["id"]) for k, v in shop.in_loop().items()}
    in_loop = {o["external_id"]: o for o in pipeline.sandbox.admin.records("order")}
    assert in_loop["102"]["customer"]["id"] == ids["3"]
    # customer 4 changes its email while deferred; an order names the new one
    shop.customers[3] = {**customer(4), "email": "four@example.com"}
    shop.orders.append({**order(104, 4), "customer_email": "four@example.com"})
    summary = shop.run()
    assert sorted(shop.in_loop()) == ["1", "3", "4"]
    assert shop.in_loop()["4"]["email"] == "four@example.com"
    assert (line(summary, "customers").created, line(summary, "orders").held) == (1, 0)
    assert shop.counts()["customers"]["deferred"] == 2
    # the old email finds nothing: an order naming it waits, and no customer is sent for it
    shop.orders.append({**order(105, 4), "customer_email": "c4@example.com"})
    summary = shop.run()
    assert line(summary, "orders").held == 1 and line(summary, "customers").created == 0


def test_send_referenced_via_an_alias_dry_run_counts_what_a_run_would_send(
    pipeline: Pipeline,
) -> None:
    shop = Shop(pipeline, BY_EMAIL)
    shop.run(entities=("products",))
    source = shop.compiled.mapping.source
    connector = connector_class(source["connector"])(source, shop.compiled.mapping.base_dir)
    with State(pipeline.state_path) as state, connector:
        summary = Runner(shop.compiled, state, connector, None, RunOptions(dry_run=True)).run()
    customers, orders = line(summary, "customers"), line(summary, "orders")
    assert (customers.created, customers.deferred) == (2, 3)
    assert (orders.created, orders.held) == (3, 0)
    assert shop.in_loop() == {}


def test_send_referenced_an_alias_added_later_finds_the_customers_sent_and_deferred_before(
    pipeline: Pipeline,
) -> None:
    shop = Shop(pipeline)  # orders name customers by id; customers have no aliases yet
    shop.run()
    assert shop.counts()["customers"]["deferred"] == 3
    # The mapping now looks customers up by email. The source gives customers 1 and 3 again
    # (unchanged: their email alias is recorded now) and not the deferred ones (as a cursor
    # would not): those are found through the alias index, rebuilt from the deferred records.
    shop.compiled = write_mapping(pipeline, "send-referenced", None, BY_EMAIL)
    shop.customers = [customer(1), customer(3)]
    shop.orders.append(order(104, 4))
    for name, rows in (("customers", shop.customers), ("orders", shop.orders)):
        pipeline.write(f"{name}.json", json.dumps(rows))
    source = shop.compiled.mapping.source
    connector = connector_class(source["connector"])(source, shop.compiled.mapping.base_dir)
    with State(pipeline.state_path) as state, connector:
        dry = Runner(shop.compiled, state, connector, None, RunOptions(dry_run=True)).run()
        assert state.deferred_alias_spec("customers") == "{}"  # the dry run wrote nothing
    assert (line(dry, "customers").created, line(dry, "orders").held) == (1, 0)
    summary = shop.run()
    customers, orders = line(summary, "customers"), line(summary, "orders")
    assert (customers.unchanged, customers.created) == (2, 1)
    assert (orders.unchanged, orders.created, orders.held) == (3, 1, 0)
    assert sorted(shop.in_loop()) == ["1", "3", "4"]
    with State(pipeline.state_path) as state:
        assert state.deferred_alias_spec("customers") == '{"email": "email"}'
        assert state.deferred_by_alias("customers", "email", ["c5@example.com"]) == {
            "c5@example.com": "5"
        }
        assert state.lookup_alias("customers", "email", ["c1@example.com"]) == {
            "c1@example.com": int(shop.in_loop()["1"]["id"])
        }
