"""Served state: the generated base plus overrides, and filtered, paged listing over both.

Every table is a dense range of positions (id = base + position). A write never changes the
generated base: it stores the whole new record as an override at its position (or appends a
new position), so any page can still be rebuilt from (seed, position) and stays consistent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from examples.common import parse_time
from examples.shopify_like import catalog, ids
from examples.shopify_like.data import ShopData, level_record
from examples.shopify_like.idempotency import IdempotencyTable

Record = dict[str, Any]


@dataclass
class Filter:
    """The query filters Shopify's list endpoints take (only those this demo serves)."""

    ids: list[int] | None = None
    since_id: int | None = None
    updated_at_min: int | None = None
    updated_at_max: int | None = None
    created_at_min: int | None = None  # orders only, as Shopify documents them
    created_at_max: int | None = None
    status: list[str] | None = None
    location_ids: list[int] | None = None
    inventory_item_ids: list[int] | None = None
    collection_id: int | None = None
    product_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Table:
    """One resource: how to build, date and classify a base record at a position."""

    name: str
    size: Callable[[], int]
    build: Callable[[int], Record]
    updated: Callable[[int], int]
    status: Callable[[int], str] | None = None
    exists: Callable[[int], bool] | None = None
    id_base: int | None = None
    overrides: dict[int, Record] = field(default_factory=dict)
    meta: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    extra: int = 0

    @property
    def total(self) -> int:
        return self.size() + self.extra


def order_status(order: Record) -> str:
    if order.get("cancelled_at"):
        return "cancelled"
    return "closed" if order.get("closed_at") else "open"


class Store:
    """The shop as served: thread-safe reads and writes over `ShopData` plus overrides."""

    def __init__(self, data: ShopData, clock: Callable[[], float] = time.time) -> None:
        self.data, self.clock = data, clock
        self.lock = threading.RLock()
        self.writes: list[Record] = []
        self.stock: dict[tuple[int, int], tuple[int, int]] = {}
        self.gift_cards: dict[int, Record] = {}
        self.idempotency = IdempotencyTable()
        self.refund_faults: dict[int, int] = {}  # order id -> refunds still to refuse
        # path ending -> (seconds, answers still to delay): a write applied, its answer late
        self.answer_delays: dict[str, tuple[float, int]] = {}
        self._next_id = ids.RUNTIME
        self.tables = {t.name: t for t in _tables(data, self)}
        # Told of every change (table, record, created?): the shop's webhooks (webhooks.py).
        self.listeners: list[Callable[[str, Record, bool], None]] = []

    def now(self) -> int:
        return int(self.clock())

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def reset(self) -> None:
        with self.lock:
            for table in self.tables.values():
                table.overrides.clear()
                table.meta.clear()
                table.extra = 0
            self.stock.clear()
            self.writes.clear()
            self.gift_cards.clear()
            self.idempotency.clear()
            self.refund_faults.clear()
            self.answer_delays.clear()
            self._next_id = ids.RUNTIME

    # -- single records --------------------------------------------------------------------
    def table(self, name: str) -> Table:
        return self.tables[name]

    def pos_of(self, name: str, record_id: int) -> int | None:
        table = self.tables[name]
        if table.id_base is None:
            return None
        pos = record_id - table.id_base
        return pos if 0 <= pos < table.total and self.alive(table, pos) else None

    def alive(self, table: Table, pos: int) -> bool:
        if pos >= table.size() or table.exists is None:
            return pos < table.total
        return table.exists(pos)

    def get(self, name: str, pos: int) -> Record:
        table = self.tables[name]
        found = table.overrides.get(pos)
        return found if found is not None else table.build(pos)

    def find(self, name: str, record_id: int) -> Record | None:
        pos = self.pos_of(name, record_id)
        return None if pos is None else self.get(name, pos)

    def meta(self, table: Table, pos: int) -> tuple[int, str | None]:
        known = table.meta.get(pos)
        if known is not None:
            return known
        return table.updated(pos), table.status(pos) if table.status else None

    def put(self, name: str, pos: int, record: Record, updated: int) -> None:
        """Stores `record` as the current state at `pos` (a new position extends the table)."""
        table = self.tables[name]
        with self.lock:
            created = pos >= table.total
            if created:
                table.extra += 1
            table.overrides[pos] = record
            status = order_status(record) if name == "orders" else record.get("status")
            table.meta[pos] = (updated, status)
            self.changed(name, record, created)

    def changed(self, name: str, record: Record, created: bool = False) -> None:
        """Tells the listeners that `record` of table `name` changed (or was created)."""
        for listener in list(self.listeners):
            listener(name, record, created)

    # -- listing ---------------------------------------------------------------------------
    def scan(self, name: str, filt: Filter, start: int, forward: bool = True) -> Iterator[int]:
        """Positions matching `filt`, from `start` (inclusive) onwards, or before it backwards."""
        table = self.tables[name]
        candidates = self._candidates(table, filt)
        if candidates is None:
            first = 0
            if filt.since_id is not None and table.id_base is not None:
                first = max(0, filt.since_id - table.id_base + 1)
            span: Iterable[int] = (range(max(start, first), table.total) if forward
                                   else range(min(start, table.total) - 1, first - 1, -1))  # fmt: skip
        else:
            span = ([p for p in candidates if p >= start] if forward
                    else [p for p in reversed(candidates) if p < start])  # fmt: skip
        match = self._matcher(table, filt)
        return (pos for pos in span if self.alive(table, pos) and match(pos))

    def count(self, name: str, filt: Filter) -> int:
        with self.lock:
            return sum(1 for _ in self.scan(name, filt, 0))

    def _candidates(self, table: Table, filt: Filter) -> list[int] | None:
        if filt.ids is not None and table.id_base is not None:
            return sorted(
                {i - table.id_base for i in filt.ids if 0 <= i - table.id_base < table.total}
            )
        if table.name == "inventory_levels" and filt.inventory_item_ids is not None:
            n_loc = self.data.n_locations
            slots = {i - ids.INVENTORY_ITEM for i in filt.inventory_item_ids}
            return sorted(s * n_loc + loc for s in slots if s >= 0 for loc in range(n_loc)
                          if s * n_loc + loc < table.total)  # fmt: skip
        if table.name == "collects" and filt.product_id is not None:
            product = filt.product_id - ids.PRODUCT
            return [p for p in (2 * product, 2 * product + 1) if 0 <= p < table.total]
        return None

    def _matcher(self, table: Table, filt: Filter) -> Callable[[int], bool]:
        checks: list[Callable[[int], bool]] = []
        if filt.updated_at_min is not None or filt.updated_at_max is not None:
            low = filt.updated_at_min if filt.updated_at_min is not None else -(2**62)
            high = filt.updated_at_max if filt.updated_at_max is not None else 2**62
            checks.append(lambda p: low <= self.meta(table, p)[0] <= high)
        if filt.status is not None and table.status is not None and "any" not in filt.status:
            wanted = set(filt.status)
            checks.append(lambda p: self.meta(table, p)[1] in wanted)
        checks.extend(_special_checks(table.name, filt, self.data, self))
        return lambda p: all(check(p) for check in checks)

    # -- inventory -------------------------------------------------------------------------
    def available(self, slot: int, loc: int) -> int:
        known = self.stock.get((slot, loc))
        return known[0] if known else catalog.base_available(self.data.seed, slot, loc)

    def level(self, pos: int) -> Record:
        slot, loc = divmod(pos, self.data.n_locations)
        known = self.stock.get((slot, loc))
        if known is None:
            return self.data.inventory_level(pos)
        return level_record(slot, loc, known[0], known[1])


def _order_created(store: Store, data: ShopData, pos: int) -> int:
    """When order `pos` was created: from its plan, or (an order made through the API) from
    its record."""
    if pos < data.n_orders:
        return data.plan(pos).created
    return parse_time(str(store.get("orders", pos)["created_at"]))


def _special_checks(
    name: str, filt: Filter, data: ShopData, store: Store
) -> list[Callable[[int], bool]]:
    checks: list[Callable[[int], bool]] = []
    n_loc = data.n_locations
    if name == "orders" and (filt.created_at_min is not None or filt.created_at_max is not None):
        low = filt.created_at_min if filt.created_at_min is not None else -(2**62)
        high = filt.created_at_max if filt.created_at_max is not None else 2**62
        checks.append(lambda p: low <= _order_created(store, data, p) <= high)
    if name == "inventory_levels" and filt.location_ids is not None:
        wanted = {i - ids.LOCATION for i in filt.location_ids}
        checks.append(lambda p: p % n_loc in wanted)
    if name == "collects" and filt.collection_id is not None:
        target = filt.collection_id - ids.COLLECTION
        checks.append(lambda p: catalog.collect_collection(p) == target)
    if name == "products" and filt.collection_id is not None:
        target = filt.collection_id - ids.COLLECTION
        checks.append(lambda p: any(
            catalog.collect_exists(data.seed, 2 * p + j) and catalog.collect_collection(2 * p + j) == target
            for j in (0, 1)))  # fmt: skip
    return checks


def _stock_meta(store: Store, pos: int) -> int:
    slot, loc = divmod(pos, store.data.n_locations)
    known = store.stock.get((slot, loc))
    return known[1] if known else catalog.stock_updated(store.data.seed, slot)


def _tables(data: ShopData, store: Store) -> list[Table]:
    def plan_status(pos: int) -> str:
        return data.plan(pos).status

    return [
        Table("products", lambda: data.n_products, data.product,
              lambda p: data.shape(p).updated, status=lambda p: "active", id_base=ids.PRODUCT),
        Table("customers", lambda: data.n_customers, data.customer, data.customer_updated,
              id_base=ids.CUSTOMER),
        Table("orders", lambda: data.n_orders, data.order, lambda p: data.plan(p).updated,
              status=plan_status, id_base=ids.ORDER),
        Table("locations", lambda: data.n_locations, catalog.build_location,
              catalog.location_updated, id_base=ids.LOCATION),
        Table("custom_collections", lambda: data.n_collections, catalog.build_collection,
              catalog.collection_updated, id_base=ids.COLLECTION),
        Table("collects", lambda: data.n_products * 2,
              lambda p: catalog.build_collect(data.seed, p),
              lambda p: data.shape(p // 2).updated,
              exists=lambda p: catalog.collect_exists(data.seed, p), id_base=ids.COLLECT),
        Table("inventory_levels", lambda: data.n_inventory_positions, store.level,
              lambda p: _stock_meta(store, p), exists=data.inventory_exists),
    ]  # fmt: skip
