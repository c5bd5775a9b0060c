"""The generated shop: sizes, and every record rebuilt on demand from (seed, position).

`generate(orders=N, seed=S)` costs nothing up front; order i is derived from its own hash, so
listing 200k orders page by page never holds them all. Small LRU caches keep the products and
customers that orders embed.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, NamedTuple

from examples.common import ORDERS_SPAN, ORDERS_START, iso, mix
from examples.shopify_like import catalog, ids
from examples.shopify_like import order_events as ev
from examples.shopify_like.assign import Assignment
from examples.shopify_like.customers import Aggregates, Person, build_customer, person, place_of
from examples.shopify_like.orders import (
    LineSpec,
    OrderInput,
    assemble_order,
    line_amounts,
    shipping_for,
)

Record = dict[str, Any]
K_PLAN, K_PLAN2, K_ORDER = 31, 32, 33
HOUR = 3600


class Plan(NamedTuple):
    """An order's life, cheap to compute: filters use it without building the order."""

    created: int
    status: str  # open | closed | cancelled
    fulfilled_at: int | None
    closed_at: int | None
    cancelled_at: int | None
    refund_at: int | None
    refund_full: bool
    location: int
    updated: int


class Summary(NamedTuple):
    """An order in figures: what file exports (erp-like, oms-like) need, cheaply."""

    pos: int
    plan: Plan
    customer_pos: int
    specs: list[LineSpec]
    discount_pct: int
    tax_rate: int
    amounts: list[tuple[int, int, int]]  # per line: gross, discount, tax (cents)
    shipping: int
    total: int
    refund_lines: list[tuple[int, int, int, int]]  # line index, quantity, subtotal, tax
    refunded: int


class ShopData:
    """A deterministic shop of any size; all records are built lazily by position."""

    def __init__(self, orders: int = 200, seed: int = 1, currency: str = "USD",
                 products: int | None = None, customers: int | None = None) -> None:  # fmt: skip
        if orders < 0:
            raise ValueError("orders must be >= 0")
        self.seed, self.currency, self.n_orders = seed, currency, orders
        self.n_products = products or max(20, orders // 10)
        self.n_customers = customers or max(10, orders // 3)
        self.n_locations, self.n_collections = len(catalog.LOCATIONS), len(catalog.COLLECTIONS)
        self.assignment = Assignment(orders, self.n_customers, seed)
        self.shape = lru_cache(maxsize=1 << 16)(self._shape)
        self.brief = lru_cache(maxsize=1 << 16)(self._brief)
        self.product = lru_cache(maxsize=1024)(self._product)
        self._variant_spec = lru_cache(maxsize=1 << 16)(self._variant_line)
        self.person = lru_cache(maxsize=1 << 14)(self._person)
        self.customer = lru_cache(maxsize=8192)(self._customer)
        # A customer's total_spent sums the customer's orders (all in one window of orders):
        # memoised so that listing every order computes each order's figures about once.
        self.summary = lru_cache(maxsize=1 << 14)(self._summary)
        self.plan = lru_cache(maxsize=1 << 15)(self._plan)
        self.order_net = lru_cache(maxsize=1 << 15)(self._order_net)

    # -- catalogue -------------------------------------------------------------------------
    def _shape(self, pos: int) -> catalog.Shape:
        return catalog.product_shape(self.seed, pos)

    def _brief(self, pos: int) -> catalog.Brief:
        return catalog.product_brief(self.seed, pos)

    def _product(self, pos: int) -> Record:
        variants = self.shape(pos).variants
        stock = [self.variant_stock(pos * ids.MAX_VARIANTS + k) for k in range(variants)]
        return catalog.build_product(self.brief(pos), stock)

    def line_spec(self, product_pos: int, k: int, quantity: int) -> LineSpec:
        return self._variant_spec(product_pos, k)._replace(quantity=quantity)

    def _variant_line(self, product_pos: int, k: int) -> LineSpec:
        brief = self.brief(product_pos)
        return LineSpec(
            product_id=ids.PRODUCT + product_pos,
            variant_id=ids.VARIANT + product_pos * ids.MAX_VARIANTS + k, title=brief.title,
            variant_title=" / ".join(brief.combos[k]), vendor=brief.vendor, sku=brief.sku(k),
            grams=brief.grams, quantity=1, price=brief.prices[k],
        )  # fmt: skip

    def variant_stock(self, slot: int) -> int:
        return sum(catalog.base_available(self.seed, slot, loc) for loc in range(self.n_locations))

    @property
    def n_inventory_positions(self) -> int:
        return self.n_products * ids.MAX_VARIANTS * self.n_locations

    def inventory_exists(self, pos: int) -> bool:
        slot = pos // self.n_locations
        return slot % ids.MAX_VARIANTS < self.shape(slot // ids.MAX_VARIANTS).variants

    def inventory_level(self, pos: int) -> Record:
        slot, loc = divmod(pos, self.n_locations)
        return level_record(slot, loc, catalog.base_available(self.seed, slot, loc),
                            catalog.stock_updated(self.seed, slot))  # fmt: skip

    # -- customers -------------------------------------------------------------------------
    def _person(self, pos: int) -> Person:
        return person(self.seed, pos)

    def customer_of(self, order_pos: int) -> int:
        return self.assignment.customer_of(order_pos)

    def orders_of(self, pos: int) -> range:
        return self.assignment.orders_of(pos)

    def customer_updated(self, pos: int) -> int:
        mine = self.orders_of(pos)
        last = self.plan(mine[-1]).created if mine else 0
        return max(self.person(pos).created + 86400, last)

    def _customer(self, pos: int) -> Record:
        mine = self.orders_of(pos)
        spent = sum(self.order_net(i) for i in mine)
        last = mine[-1] if mine else None
        agg = Aggregates(
            orders_count=len(mine), total_spent=spent,
            last_order_id=None if last is None else ids.ORDER + last,
            last_order_name=None if last is None else f"#{1001 + last}",
            updated=self.customer_updated(pos),
        )  # fmt: skip
        return build_customer(self.person(pos), agg, self.currency)

    # -- orders ----------------------------------------------------------------------------
    def _plan(self, pos: int) -> Plan:
        h, g = mix(self.seed, K_PLAN, pos), mix(self.seed, K_PLAN2, pos)
        spacing = max(ORDERS_SPAN // max(self.n_orders, 1), 1)
        created = ORDERS_START + pos * spacing + h % spacing
        roll = (h >> 24) % 100
        fulfilled = closed = cancelled = refund = None
        if roll < 8:
            cancelled = created + HOUR * (2 + g % 46)
        else:
            if roll >= 30 or (g >> 8) % 2:
                fulfilled = created + HOUR * (20 + (g >> 16) % 52)
            if roll >= 30 and fulfilled is not None:
                closed = fulfilled + HOUR * (24 + (g >> 24) % 144)
                if (g >> 32) % 100 < 14:
                    refund = closed + HOUR * (48 + (g >> 40) % 300)
        status = "cancelled" if cancelled else "closed" if closed else "open"
        events = [t for t in (created + 60, fulfilled, closed, cancelled, refund) if t]
        return Plan(created, status, fulfilled, closed, cancelled, refund, (g >> 48) % 3 == 0,
                    (g >> 52) % 2, max(events))  # fmt: skip

    def _choices(self, pos: int) -> tuple[list[tuple[int, int, int]], int]:
        rng = random.Random(mix(self.seed, K_ORDER, pos))
        roll = rng.random()
        count = 1 if roll < 0.5 else 2 if roll < 0.8 else 3 if roll < 0.95 else 4
        picked: dict[int, None] = {}
        while len(picked) < min(count, self.n_products):
            picked[int(rng.random() * self.n_products)] = None
        lines = []
        for product in picked:
            roll = rng.random()
            qty = 1 if roll < 0.8 else 2 if roll < 0.95 else 3
            lines.append((product, int(rng.random() * self.shape(product).variants), qty))
        return lines, (10 if rng.random() < 0.2 else 0)

    def _specs(self, pos: int) -> tuple[list[LineSpec], int]:
        choices, pct = self._choices(pos)
        return [self.line_spec(p, k, qty) for p, k, qty in choices], pct

    def _summary(self, pos: int) -> Summary:
        """Order `pos` in figures (lines, amounts, refund), without building the Shopify record."""
        plan = self.plan(pos)
        cpos = self.customer_of(pos)
        specs, pct = self._specs(pos)
        rate = place_of(self.seed, cpos)[6]
        amounts = [line_amounts(s.price, s.quantity, pct, rate) for s in specs]
        subtotal = sum(g - a for g, a, _ in amounts)
        shipping = shipping_for(subtotal)
        total = subtotal + sum(t for _, _, t in amounts) + shipping
        refunds: list[tuple[int, int, int, int]] = []
        if plan.refund_at:
            for k, spec in enumerate(specs if plan.refund_full else specs[:1]):
                qty = spec.quantity if plan.refund_full else 1
                gross, alloc, tax = amounts[k]
                refunds.append((k, qty, _div((gross - alloc) * qty, spec.quantity),
                                _div(tax * qty, spec.quantity)))  # fmt: skip
        full = plan.refund_at is not None and plan.refund_full
        refunded = sum(r[2] + r[3] for r in refunds) + (shipping if full else 0)
        return Summary(
            pos, plan, cpos, specs, pct, rate, amounts, shipping, total, refunds, refunded
        )

    def _order_net(self, pos: int) -> int:
        """What the customer paid for order `pos` after refunds (0 if cancelled), in cents."""
        if self.plan(pos).cancelled_at:
            return 0
        summary = self.summary(pos)
        return summary.total - summary.refunded

    def order(self, pos: int) -> Record:
        """Order `pos` as Shopify lists it, customer included."""
        plan = self.plan(pos)
        cpos = self.customer_of(pos)
        who = self.person(cpos)
        summary = self.summary(pos)
        specs, pct = summary.specs, summary.discount_pct
        slot = ids.LINE_ITEM + pos * ids.MAX_LINES
        inp = OrderInput(
            order_id=ids.ORDER + pos, number=pos + 1, created=plan.created, person=who,
            customer=_embedded(self.customer(cpos)), email=who.email, lines=specs,
            line_ids=[slot + k for k in range(len(specs))], shipping_line_id=slot + ids.MAX_LINES - 1,
            currency=self.currency, discount_pct=pct, tags="wholesale" if pos % 17 == 0 else "",
        )  # fmt: skip
        order = assemble_order(inp)
        self._live(order, pos, plan)
        order["updated_at"] = iso(plan.updated)
        return order

    def _live(self, order: Record, pos: int, plan: Plan) -> None:
        if plan.fulfilled_at:
            ev.fulfil(
                order, ids.FULFILLMENT + pos * 2, plan.fulfilled_at, ids.LOCATION + plan.location
            )
        if plan.closed_at:
            ev.close(order, plan.closed_at)
        if plan.cancelled_at:
            ev.cancel(order, plan.cancelled_at)
        if plan.refund_at:
            self._refund(order, pos, plan)

    def _refund(self, order: Record, pos: int, plan: Plan) -> None:
        assert plan.refund_at is not None
        lines = order["line_items"] if plan.refund_full else order["line_items"][:1]
        base = ids.REFUND_LINE + pos * ids.MAX_LINES
        items = [ev.RefundItem(base + k, line, line["quantity"] if plan.refund_full else 1,
                               "return", ids.LOCATION) for k, line in enumerate(lines)]  # fmt: skip
        amount = ev.suggested_amount(items)
        if plan.refund_full:
            amount += _cents(order["shipping_lines"][0]["price"])
        tx = ev.transaction(order, ids.TRANSACTION + pos * 2, plan.refund_at, amount, None)
        ev.add_refund(order, ids.REFUND + pos, plan.refund_at, items, [tx], "Returned by customer")


def level_record(slot: int, loc: int, available: int, updated: int) -> Record:
    item, location = ids.INVENTORY_ITEM + slot, ids.LOCATION + loc
    return {
        "inventory_item_id": item, "location_id": location, "available": available,
        "updated_at": iso(updated),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
    }  # fmt: skip


def _embedded(customer: Record) -> Record:
    """An order's customer: the customer record without the address list, like Shopify."""
    return {k: v for k, v in customer.items() if k != "addresses"}


def _cents(text: str) -> int:
    units, _, frac = text.partition(".")
    return int(units) * 100 + int((frac + "00")[:2])


def _div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def generate(orders: int = 200, seed: int = 1, currency: str = "USD") -> ShopData:
    """The demo shop for `orders` orders (products ~orders/10, min 20; customers ~orders/3)."""
    return ShopData(orders=orders, seed=seed, currency=currency)
