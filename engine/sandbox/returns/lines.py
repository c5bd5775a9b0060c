"""Return line items and exchanges, built from a synced order's lines and the commerce catalogue.

Loop returns one unit per return line item, so a request for quantity 2 of an order line makes
two return lines. A line is returnable only for units that were fulfilled (loop-api.md §2: an
order with no fulfillment is accepted but nothing on it is returnable) and not used up already.

Used up, per order line: units in open or flagged returns, plus the larger of (units in closed
returns, units the order's pushed `refunds[]` say were refunded). Open and flagged returns are not
refunded yet, so their units add to any refund. A processed return is closed, and the integrator
then refunds it on its platform and pushes that refund onto the order: the same units show up
twice, once in the closed return and once in `refunds[]`, so those two overlap (the larger of the
two) rather than add. A refund with no return behind it (made on the platform) is counted through
the same larger-of; a refund made outside Loop on a line that also has a closed return is the one
case this undercounts, which errs towards letting the shopper return (Loop's order carries no link
from a refund to a return to tell the two apart).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.sandbox.core import Sandbox
from engine.sandbox.returns.errors import ReturnSpecError

OUTCOMES = ("refund", "exchange", "store_credit")
# A removed line stays in `line_items` with these amounts zeroed (loop-api.md §3.3).
AMOUNT_KEYS = (
    "price",
    "discount",
    "tax",
    "refund",
    "refund_item",
    "refund_tax",
    "refund_shipping",
    "refund_shipping_tax",
)
# ISO 4217 minor-unit exponents that are not 2.
_DIGITS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}
_FAILED_FULFILMENT = ("failure", "cancelled", "error")


def currency_digits(currency: str) -> int:
    return _DIGITS.get(currency.upper(), 2)


def money(minor: Any, currency: str) -> str:
    """Minor units (3250) -> Loop's returns money, a decimal string ("32.50")."""
    digits = currency_digits(currency)
    return str(
        (Decimal(int(minor or 0)) / (Decimal(10) ** digits)).quantize(Decimal(1).scaleb(-digits))
    )


def line_outcome(line: dict[str, Any]) -> str:
    """What the shopper asked for on a line. Loop's line items all say `outcome: "default"`, so
    the sandbox keeps the real one in `requested_outcome` (a file database from before that
    change has it in `outcome`)."""
    return str(line.get("requested_outcome") or line["outcome"])


def current_lines(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines still in the return: those not removed by the remove action."""
    return [line for line in record["line_items"] if not line.get("removed_at")]


def remove_line(line: dict[str, Any], stamp: str, currency: str) -> None:
    """Marks a line removed as Loop keeps it: still listed, amounts zeroed, returned_at null."""
    line["removed_at"] = stamp
    line["returned_at"] = None
    for key in AMOUNT_KEYS:
        line[key] = money(0, currency)


def order_currency(order: dict[str, Any]) -> str:
    for item in order.get("line_items") or []:
        code = (item.get("unit_price") or {}).get("currency_code")
        if code:
            return str(code)
    return str((order.get("total_price") or {}).get("currency_code") or "USD")


def order_customer(sb: Sandbox, order: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The order's customer email and `customer_detail`, looked up when only a reference is kept."""
    customer = dict(order.get("customer") or {})
    if "email" not in customer and customer.get("id") is not None:
        customer = sb.get_record("customer", int(customer["id"])) or customer
    detail = {k: customer.get(k) for k in ("email", "first_name", "last_name")}
    detail["middle_name"] = None
    detail["phone"] = customer.get("phone")
    return customer.get("email"), detail


def fulfilled_quantities(order: dict[str, Any]) -> dict[int, int]:
    """Order line Loop id -> units fulfilled (a fulfillment with no line list covers every line)."""
    by_external = {str(li.get("external_id")): li for li in order.get("line_items") or []}
    done: dict[int, int] = {}
    for ful in order.get("fulfillments") or []:
        if ful.get("status") in _FAILED_FULFILMENT or not (
            ful.get("fulfilled_at") or ful.get("status") in (None, "success")
        ):
            continue
        items = ful.get("fulfillment_line_items")
        if not items:
            for li in order.get("line_items") or []:
                done[int(li["id"])] = int(li.get("quantity") or 1)
            continue
        for item in items:
            line = by_external.get(str(item.get("order_line_item_external_id")))
            if line is not None:
                key = int(line["id"])
                done[key] = done.get(key, 0) + int(item.get("quantity") or 1)
    return done


def refunded_quantities(order: dict[str, Any]) -> dict[int, int]:
    """Order line Loop id -> units refunded on the platform, from the order's `refunds[]` of
    type line_item (a refund with no type but a `line_item` counts too; no quantity means 1)."""
    done: dict[int, int] = {}
    for refund in order.get("refunds") or []:
        line = refund.get("line_item") or {}
        if refund.get("type") not in (None, "line_item") or line.get("id") is None:
            continue
        try:
            key, units = int(line["id"]), int(line.get("quantity") or 1)
        except (TypeError, ValueError):
            continue
        done[key] = done.get(key, 0) + units
    return done


def used_quantities(
    pending: dict[int, int], closed: dict[int, int], refunded: dict[int, int]
) -> dict[int, int]:
    """Order line id -> units no longer returnable (see the module docstring for why closed
    returns and refunds overlap while pending returns add)."""
    keys = set(pending) | set(closed) | set(refunded)
    return {k: pending.get(k, 0) + max(closed.get(k, 0), refunded.get(k, 0)) for k in sorted(keys)}


def build_lines(
    sb: Sandbox, order: dict[str, Any], specs: Any, held: dict[int, int], stamp: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(return line items, exchanges) for the admin body's `line_items`, returned at `stamp`;
    raises ReturnSpecError."""
    if not isinstance(specs, list) or not specs:
        raise ReturnSpecError({"line_items": ["at least one line item is required"]})
    order_lines = {int(li["id"]): li for li in order.get("line_items") or []}
    available = fulfilled_quantities(order)
    errors: dict[str, list[str]] = {}
    lines: list[dict[str, Any]] = []
    exchanges: list[dict[str, Any]] = []
    for n, spec in enumerate(specs):
        problem = _check_spec(sb, spec, order_lines, available, held)
        if problem:
            errors[f"line_items.{n}"] = [problem]
            continue
        line = order_lines[int(spec["line_item_id"])]
        for _ in range(int(spec.get("quantity", 1))):
            lines.append(_return_line(sb, order, line, spec, stamp))
            if spec.get("outcome") == "exchange":
                exchanges.append(_exchange(sb, order, int(spec["exchange_variant_id"])))
    if errors:
        raise ReturnSpecError(errors)
    return lines, exchanges


def _check_spec(
    sb: Sandbox,
    spec: Any,
    order_lines: dict[int, dict[str, Any]],
    available: dict[int, int],
    held: dict[int, int],
) -> str | None:
    if not isinstance(spec, dict):
        return "must be an object"
    try:
        line_id, quantity = int(spec["line_item_id"]), int(spec.get("quantity", 1))
    except (KeyError, TypeError, ValueError):
        return "line_item_id and quantity must be integers"
    if line_id not in order_lines:
        return f"the order has no line item {line_id}"
    outcome = spec.get("outcome", "refund")
    if outcome not in OUTCOMES:
        return f"outcome must be one of {', '.join(OUTCOMES)}"
    if outcome == "exchange" and _variant(sb, spec.get("exchange_variant_id")) is None:
        return f"exchange_variant_id {spec.get('exchange_variant_id')} is not a known variant"
    free = available.get(line_id, 0) - held.get(line_id, 0)
    if quantity < 1 or quantity > free:
        return (
            f"quantity {quantity} is not returnable: {max(free, 0)} unit(s) left"
            " (fulfilled, not refunded and not in another return)"
        )
    held[line_id] = held.get(line_id, 0) + quantity
    return None


def _variant(sb: Sandbox, variant_id: Any) -> dict[str, Any] | None:
    try:
        return sb.get_record("variant", int(variant_id))
    except (TypeError, ValueError):
        return None


def _return_line(
    sb: Sandbox, order: dict[str, Any], line: dict[str, Any], spec: dict[str, Any], stamp: str
) -> dict[str, Any]:
    catalog = _catalog(sb, line)
    outcome = spec.get("outcome", "refund")
    amounts = _amounts(line, order_currency(order), refunded=outcome == "refund")
    return {
        "line_item_id": sb.new_id(),
        "provider_line_item_id": int(line["id"]),
        **catalog,
        **amounts,
        # Real line items carry returned_at from creation on (loop-api.md §3.3).
        "returned_at": stamp,
        "exchange_variant": int(spec["exchange_variant_id"]) if outcome == "exchange" else None,
        "return_reason": spec.get("return_reason"),
        "parent_return_reason": None,
        "return_comment": spec.get("return_comment"),
        "outcome": "default",
        "requested_outcome": outcome,
    }


def _catalog(sb: Sandbox, line: dict[str, Any]) -> dict[str, Any]:
    """A returned line's product and variant fields, read from the catalog."""
    product_id = (line.get("product") or {}).get("id")
    product = sb.get_record("product", int(product_id)) if product_id is not None else None
    product = product or {}
    # A line sold without a variant returns the product's default variant, as Loop's do.
    variant_id = (line.get("product_variant") or {}).get("id") or product.get("default_variant_id")
    variant = _variant(sb, variant_id) or {}
    return {
        "product_id": product_id,
        "variant_id": variant_id,
        "sku": variant.get("sku") or product.get("sku"),
        "title": product.get("name") or variant.get("name"),
        "variant_title": variant.get("name"),
        "image": next(iter(variant.get("images") or product.get("images") or []), None),
        "barcode": variant.get("barcode") or product.get("barcode"),
    }


def _amounts(line: dict[str, Any], currency: str, *, refunded: bool) -> dict[str, Any]:
    """A returned line's money fields: one unit's price, discount and tax, and its refund."""
    quantity = max(int(line.get("quantity") or 1), 1)
    discount = int((line.get("unit_discounts") or {}).get("amount") or 0)
    tax = sum(int((t.get("price") or {}).get("amount") or 0) for t in line.get("tax_lines") or [])
    price, disc, tax_s = (
        money(line["unit_price"]["amount"], currency),
        money(discount, currency),
        money(tax // quantity, currency),
    )
    zero = money(0, currency)
    return {
        "price": price,
        "discount": disc,
        "tax": tax_s,
        "refund": str(Decimal(price) - Decimal(disc) + Decimal(tax_s)) if refunded else zero,
        "refund_item": price if refunded else zero,
        "refund_tax": tax_s if refunded else zero,
        "refund_shipping": zero,
        "refund_shipping_tax": zero,
    }


def _exchange(sb: Sandbox, order: dict[str, Any], variant_id: int) -> dict[str, Any]:
    variant = sb.get_record("variant", variant_id) or {}
    currency = order_currency(order)
    product_id = (variant.get("product") or {}).get("id")
    price = money((variant.get("price") or {}).get("amount"), currency)
    zero = money(0, currency)
    return {
        "exchange_id": sb.new_id(),
        "product_id": product_id,
        "variant_id": variant_id,
        "sku": variant.get("sku"),
        "title": variant.get("name"),
        "type": "regular",
        "price": price,
        "discount": zero,
        "tax": zero,
        "total": price,
    }


def restock_location(sb: Sandbox, order_id: int) -> int | None:
    """Where returned goods go back: the order's first fulfillment location, else any location."""
    order = sb.get_record("order", order_id) or {}
    for ful in order.get("fulfillments") or []:
        location = ful.get("location") or {}
        if location.get("id") is not None:
            return int(location["id"])
    with sb.lock:
        row = sb.db.execute(
            "SELECT id FROM commerce_records WHERE kind = 'location' ORDER BY seq LIMIT 1"
        ).fetchone()
    return None if row is None else int(row[0])
