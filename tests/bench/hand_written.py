"""The benchmark's baseline: `entities.orders` of mappings/shopify-like.yaml written by hand.

It must produce the payload the compiled mapping produces (same filters from make_filters(),
null fields and empty objects left out, the same LookupRef objects, refs in the same order):
bench_mapping checks that on the first records before timing anything. It is written the way
a developer would write it for Shopify's data: ids are integers (so `str(id)`), and a record
with a required field missing raises instead of reporting every issue of the record.
"""

from __future__ import annotations

from typing import Any

from engine.mapping.filters import make_filters
from engine.mapping.runtime import LookupRef

Record = dict[str, Any]
Refs = list[tuple[Any, Any, LookupRef]]

_FILTERS = make_filters("UTC")
cents, rfc3339, enum, split = (_FILTERS[n] for n in ("cents", "rfc3339", "enum", "split"))

FULFILLMENT_STATUS = {
    "success": "success", "failure": "failure", "cancelled": "cancelled",
    "error": "error", "pending": "pending", "open": "open",
}  # fmt: skip
_ADDRESS = (("name", "name"), ("company", "company"), ("address1", "address1"),
            ("address2", "address2"), ("city", "city"), ("region", "province"),
            ("postal_code", "zip"), ("country_code", "country_code"))  # fmt: skip


def _compact(obj: Record) -> Record | None:
    """The object without null fields; None when nothing is left."""
    return {k: v for k, v in obj.items() if v is not None} or None


def _ref(refs: Refs, entity: str, key: Any, **fields: Any) -> Record:
    """`{"id": <ref>, **fields}` (null fields left out), the ref recorded for resolution."""
    ref = LookupRef(entity, str(key))
    obj = {"id": ref, **{k: v for k, v in fields.items() if v is not None}}
    refs.append((obj, "id", ref))
    return obj


def _money(amount: Any, currency: str) -> Record:
    return {"amount": cents(amount, currency), "currency_code": currency}


def _address(address: Record | None) -> Record | None:
    if not isinstance(address, dict):
        return None
    return _compact({out: address.get(src) for out, src in _ADDRESS})


def _each(items: list[Any] | None, fn: Any, *args: Any) -> list[Any] | None:
    return None if items is None else [fn(item, *args) for item in items]


def _tax_line(tax: Record, currency: str) -> Record:
    return _compact({"title": tax.get("title"), "rate": tax.get("rate"),
                     "price": _money(tax["price"], currency)}) or {}  # fmt: skip


def _line_item(line: Record, currency: str, refs: Refs) -> Record:
    taxable = line.get("taxable")
    if taxable is None:
        taxable = len(line.get("tax_lines") or []) > 0
    return _compact({
        "external_id": str(line["id"]),
        "product": _ref(refs, "products", line["product_id"]),
        "product_variant": _ref(refs, "variants", line["variant_id"]),
        "quantity": line.get("quantity"),
        "taxable": taxable,
        "unit_price": _money(line["price"], currency),
        "unit_discounts": _unit_discounts(line, currency),
        "tax_lines": _each(line.get("tax_lines"), _tax_line, currency),
    }) or {}  # fmt: skip


def _unit_discounts(line: Record, currency: str) -> Record:
    """The line's share of order discounts per unit (what a return of one unit gives back)."""
    total = sum(cents(a["amount"], currency) for a in line.get("discount_allocations") or [])
    return {"amount": total // (line.get("quantity") or 1), "currency_code": currency}


def _shipping_line(line: Record, currency: str) -> Record:
    return _compact({"title": line.get("title"), "price": _money(line["price"], currency)}) or {}


def _fulfillment_line(line: Record) -> Record:
    key = str(line["id"])
    return _compact({"external_id": key, "order_line_item_external_id": key,
                     "quantity": line.get("quantity")}) or {}  # fmt: skip


def _fulfillment(fulfillment: Record) -> Record:
    return _compact({
        "external_id": str(fulfillment["id"]),
        "status": enum(fulfillment["status"], FULFILLMENT_STATUS, default="pending"),
        "fulfilled_at": rfc3339(fulfillment["created_at"]),
        "shipping_carrier": fulfillment.get("tracking_company"),
        "tracking_numbers": fulfillment.get("tracking_numbers"),
        "fulfillment_line_items": _each(fulfillment.get("line_items"), _fulfillment_line),
    }) or {}  # fmt: skip


def _refund_line(item: Record, refund: Record, currency: str, refs: Refs) -> Record:
    subtotal = item.get("subtotal")
    amount = subtotal if subtotal is not None else item["line_item"]["price"]
    return _compact({
        "external_id": str(item["id"]),
        "type": "line_item",
        "amount": _money(amount, currency),
        "line_item": _ref(refs, "line_items", item["line_item_id"],
                          quantity=item.get("quantity"), restock=refund.get("restock")),
        "created_at": rfc3339(refund["created_at"]),
    }) or {}  # fmt: skip


def _refunds(refunds: list[Record] | None, currency: str, refs: Refs) -> list[Record] | None:
    if refunds is None:
        return None
    return [_refund_line(item, refund, currency, refs)
            for refund in refunds for item in refund.get("refund_line_items") or ()]  # fmt: skip


def _status(order: Record) -> str:
    if order.get("cancelled_at"):
        return "cancelled"
    resolved = order.get("closed_at") or order.get("financial_status") == "refunded"
    return "archived" if resolved else "active"


def hand_order(order: Record) -> tuple[Record, Refs]:
    """The Loop order payload of a Shopify order, and its lookups (container, key, ref)."""
    refs: Refs = []
    currency = order["currency"]
    tags = order.get("tags")
    payload = {
        "external_id": str(order["id"]),
        "name": order.get("name"),
        "secondary_identifier": str(order["order_number"]),
        "status": _status(order),
        "channel": order.get("source_name"),
        "taxes_included": order.get("taxes_included"),
        "customer": _ref(refs, "customers", order["customer"]["id"]),
        "total_price": _money(order["total_price"], currency),
        "total_discounts": _money(order["total_discounts"], currency),
        "total_taxes": _money(order["total_tax"], currency),
        "shipping_address": _address(order.get("shipping_address")),
        "billing_address": _address(order.get("billing_address")),
        "tags": (split(tags) if tags else None) or None,
        "line_items": _each(order.get("line_items"), _line_item, currency, refs),
        "shipping_lines": _each(order.get("shipping_lines"), _shipping_line, currency),
        "fulfillments": _each(order.get("fulfillments"), _fulfillment),
        "refunds": _refunds(order.get("refunds"), currency, refs),
        "created_at": rfc3339(order["created_at"]),
        "updated_at": rfc3339(order["updated_at"]),
    }
    return _compact(payload) or {}, refs
