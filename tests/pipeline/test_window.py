"""`window:` on a real sql source (a DuckDB file), a real state file and the Loop sandbox:
the returnable window newest first, a backfill cut short, the window moving on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.registry import connector_class
from engine.errors import ConfigError
from engine.loop.client import LoopClient
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.mapping.model import Window
from engine.pipeline.run import Runner, RunOptions, RunSummary
from engine.pipeline.window import WindowPlan, moment
from engine.sandbox.server import SandboxHandle
from engine.state import State

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
# days before NOW each order was created: four in a 120-day window, three older
AGES = {1: 300, 2: 200, 3: 130, 4: 100, 5: 60, 6: 20, 7: 2}
INSIDE = {"4", "5", "6", "7"}

NEWEST_FIRST = """\
      extract:
        query: SELECT * FROM orders WHERE created_at >= $since ORDER BY created_at DESC
        params: {since: "{window_start}"}
"""

MAPPING = """\
version: 1
name: window-test
source: {connector: sql, database: shop.duckdb}
target: {base_url: "TARGET", api_key: sandbox, rate_limit: 0/min}
entities:
  products:
    extract: {query: "SELECT * FROM products"}
    map: {external_id: to_string(id), name: name, price: {amount: "`100`", currency_code: "'USD'"}}
  orders:
    extract:
      query: SELECT * FROM orders WHERE updated_at > $cursor ORDER BY updated_at, id
      cursor: {field: updated_at, initial: ""}
    window:
      field: created_at
      days: 120
      older: OLDER
BACKFILL    map:
      external_id: to_string(id)
      name: name
      taxes_included: "`false`"
      total_price: {amount: "`500`", currency_code: "'USD'"}
      created_at: created_at
      line_items:
        each: "[@]"
        map:
          product: {id: {lookup: products, key: "'1'"}}
          unit_price: {amount: "`500`", currency_code: "'USD'"}
          quantity: "`1`"
          taxable: "`false`"
"""


def _iso(when: dt.datetime) -> str:
    return when.replace(microsecond=0).isoformat()


class Shop:
    """A DuckDB shop of orders, a mapping over it and runs into the sandbox at a given now."""

    def __init__(self, folder: Path, sandbox: SandboxHandle) -> None:
        self.folder, self.sandbox = folder, sandbox
        self.db = folder / "shop.duckdb"
        with duckdb.connect(str(self.db)) as conn:
            conn.execute("CREATE TABLE products (id INTEGER, name VARCHAR)")
            conn.execute("INSERT INTO products VALUES (1, 'Shirt')")
            conn.execute("CREATE TABLE orders (id INTEGER, name VARCHAR, created_at VARCHAR, "
                         "updated_at VARCHAR)")  # fmt: skip
            for oid, age in AGES.items():
                created = _iso(NOW - age * DAY)
                conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?)",
                             [oid, f"#{oid}", created, created])  # fmt: skip

    def compile(
        self, older: str = "skip", newest_first: bool = True, window: bool = True
    ) -> CompiledMapping:
        text = MAPPING.replace("TARGET", self.sandbox.base_url).replace("OLDER", older)
        text = text.replace("BACKFILL", NEWEST_FIRST if newest_first else "")
        if not window:
            start = text.index("    window:")
            text = text[:start] + text[text.index("    map:", start) :]
        path = self.folder / "mapping.yaml"
        path.write_text(text)
        return load_and_compile(path)

    def run(self, compiled: CompiledMapping, now: dt.datetime, **options: Any) -> RunSummary:
        source = compiled.mapping.source
        connector = connector_class(source["connector"])(source, compiled.mapping.base_dir)
        client = LoopClient(self.sandbox.base_url, "sandbox", rate_limit="0/min")
        # one record a batch: Loop's ids then follow the order records were sent in
        opts = RunOptions(now=now, batch_size=1, **options)
        with State(self.folder / "state.duckdb") as state, connector, client:
            return Runner(compiled, state, connector, client, opts).run()

    def change(self, oid: int, name: str, when: dt.datetime) -> None:
        with duckdb.connect(str(self.db)) as conn:
            conn.execute("UPDATE orders SET name = ?, updated_at = ? WHERE id = ?",
                         [name, _iso(when), oid])  # fmt: skip

    def add(self, oid: int, when: dt.datetime) -> None:
        with duckdb.connect(str(self.db)) as conn:
            conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?)",
                         [oid, f"#{oid}", _iso(when), _iso(when)])  # fmt: skip

    def loop_orders(self) -> dict[str, dict[str, Any]]:
        return {str(o["external_id"]): o for o in self.sandbox.admin.records("order")}

    def cursor(self) -> str | None:
        with State(self.folder / "state.duckdb") as state:
            return state.cursor("orders")


@pytest.fixture
def shop(tmp_path: Path, sandbox: SandboxHandle) -> Shop:
    return Shop(tmp_path, sandbox)


def _sent_order(orders: dict[str, dict[str, Any]]) -> list[str]:
    """External ids in the order Loop created them (its ids grow)."""
    return [k for k, _ in sorted(orders.items(), key=lambda kv: int(kv[1]["id"]))]


def test_window_backfill_sends_the_window_newest_first_and_skips_older(shop: Shop) -> None:
    summary = shop.run(shop.compile(), NOW)
    orders = shop.loop_orders()
    assert set(orders) == INSIDE
    assert _sent_order(orders) == ["7", "6", "5", "4"]  # newest first
    assert shop.cursor() == _iso(NOW - 2 * DAY)  # the highest the backfill read
    assert summary.parked == 0


def test_window_backfill_cut_short_loses_nothing(shop: Shop) -> None:
    compiled = shop.compile()
    shop.run(compiled, NOW, limit=2)
    assert set(shop.loop_orders()) == {"7", "6"}
    # the first page carried the source's top cursor: saving it would skip 5 and 4 for good
    assert shop.cursor() is None
    again = shop.run(compiled, NOW)
    assert set(shop.loop_orders()) == INSIDE
    assert shop.cursor() == _iso(NOW - 2 * DAY)
    [_, orders] = again.entities
    assert (orders.created, orders.unchanged) == (2, 2)  # 7 and 6 not sent twice


def test_window_moving_keeps_what_fell_out_and_syncs_updates(shop: Shop) -> None:
    compiled = shop.compile()
    shop.run(compiled, NOW)
    later = NOW + 60 * DAY  # the window now starts 60 days before NOW: 4 has fallen out
    shop.change(4, "#4 fell out, changed", NOW + 10 * DAY)  # Loop has it: still updated
    shop.change(6, "#6 changed", NOW + 11 * DAY)
    shop.change(2, "#2 old, changed", NOW + 12 * DAY)  # never sent, outside: still skipped
    shop.add(8, NOW + 50 * DAY)
    shop.run(compiled, later)
    orders = shop.loop_orders()
    assert set(orders) == INSIDE | {"8"}  # nothing deleted, the new one in, 2 not
    assert orders["4"]["name"] == "#4 fell out, changed"
    assert orders["6"]["name"] == "#6 changed"
    assert orders["5"]["name"] == "#5"
    assert shop.cursor() == _iso(NOW + 50 * DAY)


def test_window_older_later_sends_the_older_after_the_window(shop: Shop) -> None:
    shop.run(shop.compile(older="later", newest_first=False), NOW)
    sent = _sent_order(shop.loop_orders())
    assert set(sent[:4]) == INSIDE and set(sent[4:]) == {"1", "2", "3"}
    assert shop.cursor() == _iso(NOW - 2 * DAY)


def test_window_without_source_support_filters_the_records(shop: Shop) -> None:
    summary = shop.run(shop.compile(newest_first=False), NOW)
    [_, orders] = summary.entities
    assert (orders.extracted, orders.outside_window) == (4, 3)
    assert set(shop.loop_orders()) == INSIDE
    assert shop.cursor() == _iso(NOW - 2 * DAY)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-01T12:00:00Z", NOW, id="iso with Z"),
        pytest.param("2026-11-01 12:00:00", NOW, id="naive is UTC"),
        pytest.param(NOW.timestamp(), NOW, id="epoch seconds"),
        pytest.param(int(NOW.timestamp() * 1000), NOW, id="epoch milliseconds"),
        pytest.param(str(int(NOW.timestamp())), NOW, id="epoch seconds as text"),
        pytest.param("soon", None, id="not a time"),
        pytest.param(None, None, id="none"),
        pytest.param(True, None, id="a boolean is not a time"),
    ],
)
def test_moment_reads_timestamps(value: Any, expected: dt.datetime | None) -> None:
    assert moment(value) == expected


@pytest.mark.parametrize(
    ("window", "message"),
    [
        pytest.param("{field: 'created_at[', days: 5}", "not a JMESPath", id="bad field"),
        pytest.param("{field: created_at, days: 0}", "minimum", id="no days"),
        pytest.param("{field: created_at, older: never}", "older", id="unknown older"),
        pytest.param("{field: created_at, extract: {bogus: 1}}", "bogus", id="bad extract"),
    ],
)
def test_window_config_errors(tmp_path: Path, window: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nname: w\nsource: {connector: files, root: .}\n"
        "entities:\n  customers:\n    extract: {path: c.json}\n"
        f"    window: {window}\n    map: {{external_id: to_string(id)}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_and_compile(path)
    assert message in str(caught.value) + " ".join(str(p) for p in caught.value.problems)


def test_window_slices_cover_the_window_newest_first_and_fill_the_params() -> None:
    window = Window(
        "created_at",
        days=10,
        slice_days=4,
        extract={
            "params": {"min": "{slice_start}", "max": "{slice_end}", "since": "{window_start}"}
        },
    )
    plan = WindowPlan(window, NOW, backfill=True)
    pieces = plan.slices()
    assert pieces == [
        (NOW - 4 * DAY, None),
        (NOW - 8 * DAY, NOW - 4 * DAY),
        (NOW - 10 * DAY, NOW - 8 * DAY),
    ]
    newest, oldest = plan.backfill_extract({}, pieces[0]), plan.backfill_extract({}, pieces[-1])
    assert newest["params"] == {"min": _iso(NOW - 4 * DAY), "since": _iso(NOW - 10 * DAY)}
    assert oldest["params"]["max"] == _iso(NOW - 8 * DAY)
    assert [p.extract["params"]["min"] for p in plan.phases({})] == [
        _iso(NOW - 4 * DAY), _iso(NOW - 8 * DAY), _iso(NOW - 10 * DAY),
    ]  # fmt: skip
