"""The writes outcome execution needs, in Shopify's shape: refunds, new orders, inventory.

Each takes the request body, validates it like Shopify (404 / 422 with an `errors` object),
changes the served state through overrides and returns the created or changed record. The
`refunds_fail` demo fault (`/_demo/faults`) refuses the next refunds of an order with a 422.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from examples.common import iso
from examples.shopify_like import ids
from examples.shopify_like import order_events as ev
from examples.shopify_like.data import level_record
from examples.shopify_like.orders import LineSpec, OrderInput, assemble_order, cents
from examples.shopify_like.store import Store

Record = dict[str, Any]
RESTOCK_TYPES = ("no_restock", "cancel", "return", "legacy_restock")
FINANCIAL = ("pending", "authorized", "partially_paid", "paid", "voided")
_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")


class WriteError(Exception):
    """A rejected write: the HTTP status and Shopify's `errors` value."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(f"{status}: {errors}")
        self.status, self.errors = status, errors


def _body(body: Any, key: str) -> Record:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise WriteError(400, {key: "Required parameter missing or invalid"})
    found: Record = body[key]
    return found


def parse_int(value: Any, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).lstrip("-").isdigit()
    ):
        raise WriteError(422, {name: ["is not a number"]})
    return int(value)


def amount_cents(value: Any, name: str = "amount") -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not _AMOUNT.match(text):
        raise WriteError(422, {name: ["is invalid"]})
    return cents(text if "." in text else text + ".00")


def _order(store: Store, order_id: int) -> tuple[int, Record]:
    pos = store.pos_of("orders", order_id)
    if pos is None:
        raise WriteError(404, "Not Found")
    return pos, copy.deepcopy(store.get("orders", pos))


def _refund_items(store: Store, order: Record, spec: Record) -> list[ev.RefundItem]:
    lines = {line["id"]: line for line in order["line_items"]}
    default_restock = "return" if spec.get("restock") else "no_restock"
    items = []
    for raw in spec.get("refund_line_items") or []:
        line_id = parse_int(raw.get("line_item_id"), "refund_line_items.line_item_id")
        line = lines.get(line_id)
        if line is None:
            raise WriteError(422, {"refund_line_items.line_item_id": [
                f"{line_id} is not a line item of order {order['id']}"]})  # fmt: skip
        qty = parse_int(raw.get("quantity", 1), "refund_line_items.quantity")
        left = line["quantity"] - ev.refunded_quantity(order, line["id"])
        if not 1 <= qty <= left:
            raise WriteError(422, {"refund_line_items.quantity": [
                f"must be between 1 and {left} (the units not refunded yet)"]})  # fmt: skip
        restock = raw.get("restock_type", default_restock)
        if restock not in RESTOCK_TYPES:
            raise WriteError(
                422, {"refund_line_items.restock_type": [f"must be one of {RESTOCK_TYPES}"]}
            )
        location = raw.get("location_id")
        if restock in ("return", "cancel") and location is None:
            location = ids.LOCATION
        items.append(ev.RefundItem(store.new_id(), line, qty, restock,
                                   None if location is None else parse_int(location, "location_id")))  # fmt: skip
    return items


def _refund_fault(store: Store, order_id: int) -> None:
    """Uses up one failure the `refunds_fail` demo fault set for the order, if any is left."""
    left = store.refund_faults.get(order_id, 0)
    if left <= 0:
        return
    store.refund_faults[order_id] = left - 1
    raise WriteError(422, {"base": [
        "The refund was refused by the platform (demo fault refunds_fail)"]})  # fmt: skip


def refund_plan(store: Store, order_id: int, body: Any) -> tuple[int, Record, list[ev.RefundItem]]:
    spec = _body(body, "refund")
    pos, order = _order(store, order_id)
    return pos, order, _refund_items(store, order, spec)


def calculate_refund(store: Store, order_id: int, body: Any) -> Record:
    """`refunds/calculate.json`: the suggested refund, nothing stored."""
    with store.lock:
        _, order, items = refund_plan(store, order_id, body)
    amount = ev.suggested_amount(items)
    left = cents(order["total_price"]) - ev.refunded_amount(order)
    return {
        "refund_line_items": ev.refund_line_items(items, order["currency"]),
        "transactions": [{"order_id": order["id"], "kind": "suggested_refund",
                          "gateway": order["gateway"], "parent_id": None,
                          "amount": f"{min(amount, left) / 100:.2f}",
                          "maximum_refundable": f"{left / 100:.2f}", "currency": order["currency"]}],
        "shipping": {"amount": "0.00", "tax": "0.00", "maximum_refundable": "0.00"},
        "currency": order["currency"],
    }  # fmt: skip


def create_refund(store: Store, order_id: int, body: Any) -> Record:
    """`POST orders/{id}/refunds.json`: stores the refund, updates the order, restocks."""
    with store.lock:
        pos, order, items = refund_plan(store, order_id, body)
        _refund_fault(store, order_id)
        spec = body["refund"]
        now = store.now()
        txs = [ev.transaction(order, store.new_id(), now, amount_cents(t.get("amount"), "transactions.amount"),
                              t.get("parent_id"), t.get("kind", "refund"), t.get("gateway", order["gateway"]))
               for t in spec.get("transactions") or []]  # fmt: skip
        if any(cents(t["amount"]) < 0 for t in txs):
            raise WriteError(422, {"transactions.amount": ["must be greater than or equal to 0"]})
        left = cents(order["total_price"]) - ev.refunded_amount(order)
        if sum(cents(t["amount"]) for t in txs) > left:
            raise WriteError(
                422, {"base": [f"Refund amount exceeds the refundable {left / 100:.2f}"]}
            )
        refund = ev.add_refund(order, store.new_id(), now, items, txs, spec.get("note"))
        store.put("orders", pos, order, now)
        for item in items:
            if item.restock_type in ("return", "cancel") and item.location_id is not None:
                slot = item.line["variant_id"] - ids.VARIANT
                _set_stock(store, slot, item.location_id - ids.LOCATION, None, item.quantity, now)
        return refund


def _set_stock(
    store: Store, slot: int, loc: int, value: int | None, delta: int, now: int
) -> Record:
    """Sets (or adjusts) one level and keeps the variant's inventory_quantity in step."""
    product_pos, k = divmod(slot, ids.MAX_VARIANTS)
    if not (0 <= loc < store.data.n_locations and store.pos_of("products", ids.PRODUCT + product_pos) is not None
            and k < store.data.shape(product_pos).variants):  # fmt: skip
        raise WriteError(422, {"inventory_item_id": ["does not exist at this location"]})
    available = (store.available(slot, loc) if value is None else value) + delta
    store.stock[(slot, loc)] = (available, now)
    product = copy.deepcopy(store.get("products", product_pos))
    variant = product["variants"][k]
    variant["old_inventory_quantity"] = variant["inventory_quantity"]
    variant["inventory_quantity"] = sum(
        store.available(slot, i) for i in range(store.data.n_locations)
    )
    variant["updated_at"] = product["updated_at"] = iso(now)
    store.put("products", product_pos, product, now)
    level = level_record(slot, loc, available, now)
    store.changed("inventory_levels", level)  # levels are not overrides: say so (webhooks)
    return level


def change_inventory(store: Store, body: Any, absolute: bool) -> Record:
    """`inventory_levels/adjust.json` (available_adjustment) or `set.json` (available)."""
    if not isinstance(body, dict):
        raise WriteError(400, {"inventory_level": "Required parameter missing or invalid"})
    key = "available" if absolute else "available_adjustment"
    item = parse_int(body.get("inventory_item_id"), "inventory_item_id")
    location = parse_int(body.get("location_id"), "location_id")
    value = parse_int(body.get(key), key)
    with store.lock:
        now = store.now()
        slot, loc = item - ids.INVENTORY_ITEM, location - ids.LOCATION
        if absolute:
            return _set_stock(store, slot, loc, value, 0, now)
        return _set_stock(store, slot, loc, None, value, now)


def _line_specs(store: Store, raw_lines: Any) -> list[LineSpec]:
    if not isinstance(raw_lines, list) or not raw_lines:
        raise WriteError(422, {"line_items": ["can't be blank"]})
    specs = []
    for raw in raw_lines:
        slot = parse_int(raw.get("variant_id"), "line_items.variant_id") - ids.VARIANT
        product_pos, k = divmod(slot, ids.MAX_VARIANTS)
        product = store.find("products", ids.PRODUCT + product_pos) if slot >= 0 else None
        if product is None or k >= len(product["variants"]):
            raise WriteError(
                422, {"line_items": [f"variant {raw.get('variant_id')} does not exist"]}
            )
        variant = product["variants"][k]
        qty = parse_int(raw.get("quantity", 1), "line_items.quantity")
        if qty < 1:
            raise WriteError(422, {"line_items.quantity": ["must be greater than 0"]})
        price = amount_cents(raw.get("price", variant["price"]), "line_items.price")
        specs.append(LineSpec(product["id"], variant["id"], product["title"], variant["title"],
                              product["vendor"], variant["sku"], variant["grams"], qty, price))  # fmt: skip
    return specs


def create_order(store: Store, body: Any) -> Record:
    """`POST orders.json`: a new order (e.g. an exchange order) at the next id."""
    spec = _body(body, "order")
    with store.lock:
        specs = _line_specs(store, spec.get("line_items"))
        who, customer = _customer(store, spec.get("customer"))
        now, table = store.now(), store.table("orders")
        pos = table.total
        inp = OrderInput(
            order_id=ids.ORDER + pos, number=pos + 1, created=now, person=who, customer=customer,
            email=spec.get("email") or (who.email if who else None), lines=specs,
            line_ids=[store.new_id() for _ in specs], shipping_line_id=store.new_id(),
            currency=store.data.currency, tags=str(spec.get("tags") or ""), note=spec.get("note"),
            source_name=str(spec.get("source_name") or "api"),
            shipping=sum(amount_cents(line.get("price", 0), "shipping_lines.price") for line in _shipping(spec)),
        )  # fmt: skip
        order = assemble_order(inp)
        _finish_order(store, order, spec, specs, now)
        store.put("orders", pos, order, now)
        return order


def _shipping(spec: Record) -> list[Record]:
    lines = spec.get("shipping_lines") or []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise WriteError(422, {"shipping_lines": ["must be a list of objects"]})
    return lines


def _customer(store: Store, raw: Any) -> tuple[Any, Record | None]:
    if not isinstance(raw, dict) or raw.get("id") is None:
        return None, None
    pos = store.pos_of("customers", parse_int(raw["id"], "customer.id"))
    if pos is None:
        raise WriteError(422, {"customer": ["does not exist"]})
    record = store.get("customers", pos)
    return store.data.person(pos), {k: v for k, v in record.items() if k != "addresses"}


def _finish_order(
    store: Store, order: Record, spec: Record, specs: list[LineSpec], now: int
) -> None:
    status = spec.get("financial_status", "paid")
    if status not in FINANCIAL:
        raise WriteError(422, {"financial_status": [f"must be one of {FINANCIAL}"]})
    order["financial_status"] = status
    behaviour = spec.get("inventory_behaviour", "bypass")
    if behaviour == "decrement_obeying_policy":
        short = [
            s.sku for s in specs if store.available(s.variant_id - ids.VARIANT, 0) < s.quantity
        ]
        if short:
            raise WriteError(422, {"line_items": [f"{sku} is out of stock" for sku in short]})
    if behaviour in ("decrement_ignoring_policy", "decrement_obeying_policy"):
        for s in specs:
            _set_stock(store, s.variant_id - ids.VARIANT, 0, None, -s.quantity, now)
    if spec.get("fulfillment_status") == "fulfilled":
        ev.fulfil(order, store.new_id(), now, ids.LOCATION)
