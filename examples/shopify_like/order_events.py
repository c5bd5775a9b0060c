"""What happens to an order after it is placed: fulfilment, closing, cancelling, refunds.

Each function changes the order dict in place and bumps its `updated_at`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from examples.common import iso, money, parse_time, round_div
from examples.shopify_like import ids
from examples.shopify_like.orders import cents, money_set

Record = dict[str, Any]
CARRIERS = (("UPS", "https://www.ups.com/track?tracknum="),
            ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels="))  # fmt: skip


def touch(order: Record, ts: int) -> None:
    order["updated_at"] = iso(max(ts, _epoch(order["updated_at"])))


def _epoch(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        return 0


def fulfil(order: Record, fulfillment_id: int, ts: int, location_id: int) -> Record:
    """Ships every remaining line in one fulfilment."""
    carrier, url = CARRIERS[fulfillment_id % len(CARRIERS)]
    tracking = f"1Z{fulfillment_id % 10**12:012d}"
    for line in order["line_items"]:
        line["fulfillment_status"] = "fulfilled"
        line["fulfillable_quantity"] = 0
    stamp = iso(ts)
    fulfillment = {
        "id": fulfillment_id, "admin_graphql_api_id": ids.gid("Fulfillment", fulfillment_id),
        "created_at": stamp, "updated_at": stamp, "location_id": location_id,
        "name": f"{order['name']}.{len(order['fulfillments']) + 1}", "order_id": order["id"],
        "origin_address": {}, "receipt": {"testcase": False, "authorization": None},
        "service": "manual", "shipment_status": "delivered", "status": "success",
        "tracking_company": carrier, "tracking_number": tracking, "tracking_numbers": [tracking],
        "tracking_url": url + tracking, "tracking_urls": [url + tracking],
        "line_items": [dict(line) for line in order["line_items"]],
    }  # fmt: skip
    order["fulfillments"].append(fulfillment)
    order["fulfillment_status"] = "fulfilled"
    touch(order, ts)
    return fulfillment


def close(order: Record, ts: int) -> None:
    order["closed_at"] = iso(ts)
    touch(order, ts)


def cancel(order: Record, ts: int, reason: str = "customer") -> None:
    order["cancelled_at"] = iso(ts)
    order["cancel_reason"] = reason
    order["financial_status"] = "voided"
    for line in order["line_items"]:
        line["fulfillable_quantity"] = 0
        line["current_quantity"] = 0
    touch(order, ts)


class RefundItem(NamedTuple):
    """One refunded line: which line, how many units, whether and where they go back to stock."""

    refund_line_id: int
    line: Record
    quantity: int
    restock_type: str
    location_id: int | None


def item_amounts(item: RefundItem) -> tuple[int, int]:
    """(subtotal, tax) in cents for refunding `item.quantity` units of the line."""
    line, qty = item.line, item.quantity
    total = cents(line["price"]) * line["quantity"]
    allocated = sum(cents(a["amount"]) for a in line["discount_allocations"])
    tax = sum(cents(t["price"]) for t in line["tax_lines"])
    return (round_div((total - allocated) * qty, line["quantity"]),
            round_div(tax * qty, line["quantity"]))  # fmt: skip


def refund_line_items(items: list[RefundItem], currency: str) -> list[Record]:
    result = []
    for item in items:
        subtotal, tax = item_amounts(item)
        result.append({
            "id": item.refund_line_id, "quantity": item.quantity,
            "line_item_id": item.line["id"], "location_id": item.location_id,
            "restock_type": item.restock_type, "subtotal": float(money(subtotal)),
            "subtotal_set": money_set(subtotal, currency), "total_tax": float(money(tax)),
            "total_tax_set": money_set(tax, currency), "line_item": dict(item.line),
        })  # fmt: skip
    return result


def transaction(
    order: Record,
    tid: int,
    ts: int,
    amount: int,
    parent_id: int | None,
    kind: str = "refund",
    gateway: str = "shopify_payments",
) -> Record:
    stamp = iso(ts)
    return {
        "id": tid, "admin_graphql_api_id": ids.gid("OrderTransaction", tid), "amount": money(amount),
        "authorization": f"auth-{tid}", "created_at": stamp, "currency": order["currency"],
        "device_id": None, "error_code": None, "gateway": gateway, "kind": kind,
        "location_id": None, "message": "Refunded" if kind == "refund" else None,
        "order_id": order["id"], "parent_id": parent_id, "processed_at": stamp,
        "receipt": {}, "source_name": "web", "status": "success", "test": False, "user_id": None,
    }  # fmt: skip


def add_refund(
    order: Record,
    refund_id: int,
    ts: int,
    items: list[RefundItem],
    transactions: list[Record],
    note: str | None = None,
) -> Record:
    """Appends a refund and brings line quantities and financial_status up to date."""
    stamp = iso(ts)
    refund = {
        "id": refund_id, "admin_graphql_api_id": ids.gid("Refund", refund_id),
        "order_id": order["id"], "created_at": stamp, "processed_at": stamp, "note": note,
        "restock": any(i.restock_type in ("return", "cancel") for i in items), "user_id": None,
        "total_duties_set": money_set(0, order["currency"]), "duties": [],
        "refund_line_items": refund_line_items(items, order["currency"]),
        "transactions": transactions, "order_adjustments": [],
    }  # fmt: skip
    for item in items:
        item.line["current_quantity"] = item.line["current_quantity"] - item.quantity
    order["refunds"].append(refund)
    refunded = refunded_amount(order)
    if refunded > 0:
        full = refunded >= cents(order["total_price"])
        order["financial_status"] = "refunded" if full else "partially_refunded"
    touch(order, ts)
    return refund


def refunded_amount(order: Record) -> int:
    return sum(cents(t["amount"]) for r in order["refunds"] for t in r["transactions"]
               if t["kind"] == "refund" and t["status"] == "success")  # fmt: skip


def refunded_quantity(order: Record, line_id: int) -> int:
    return sum(r["quantity"] for ref in order["refunds"] for r in ref["refund_line_items"]
               if r["line_item_id"] == line_id)  # fmt: skip


def suggested_amount(items: list[RefundItem]) -> int:
    return sum(sum(item_amounts(item)) for item in items)
