"""Orders in Shopify's shape: assembly from line choices, then fulfilment, closing, refunds.

The same functions build generated orders and the ones created through `POST orders.json`, so
totals, taxes and refunds follow one set of rules (integer cents, never floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from examples.common import iso, money, round_div
from examples.shopify_like import ids
from examples.shopify_like.customers import Person, address

Record = dict[str, Any]
DISCOUNT_CODE = "SAVE10"
FREE_SHIPPING_FROM = 10000


class LineSpec(NamedTuple):
    """One ordered variant, as it was when ordered."""

    product_id: int
    variant_id: int
    title: str
    variant_title: str
    vendor: str
    sku: str
    grams: int
    quantity: int
    price: int


@dataclass
class OrderInput:
    """Everything an order is assembled from."""

    order_id: int
    number: int
    created: int
    person: Person | None
    customer: Record | None
    email: str | None
    lines: list[LineSpec]
    line_ids: list[int]
    shipping_line_id: int
    currency: str
    discount_pct: int = 0
    tags: str = ""
    note: str | None = None
    source_name: str = "web"
    shipping: int | None = None  # None: the shop's rule (free from $100, else $7.95)
    note_attributes: list[Record] = field(default_factory=list)


@lru_cache(maxsize=1 << 14)
def money_set(cents: int, currency: str) -> Record:
    """Shopify's amount pair. Cached and shared between records: never change one in place."""
    amount = {"amount": money(cents), "currency_code": currency}
    return {"shop_money": amount, "presentment_money": dict(amount)}


def tax_rate(person: Person | None) -> int:
    return person.place[6] if person else 0


def _tax_title(person: Person | None) -> str:
    return f"{person.place[2]} State Tax" if person else "Tax"


def line_amounts(price: int, quantity: int, pct: int, rate: int) -> tuple[int, int, int]:
    """(gross, discount allocated, tax) of one line, in cents; rate is per mille."""
    total = price * quantity
    allocated = total * pct // 100
    return total, allocated, round_div((total - allocated) * rate, 1000)


def shipping_for(subtotal: int) -> int:
    return 0 if subtotal >= FREE_SHIPPING_FROM else 795


def _line_item(spec: LineSpec, line_id: int, pct: int, rate: int, inp: OrderInput) -> Record:
    _, allocated, tax = line_amounts(spec.price, spec.quantity, pct, rate)
    title, vtitle = spec.title, spec.variant_title
    cur = inp.currency
    return {
        "id": line_id, "admin_graphql_api_id": ids.gid("LineItem", line_id),
        "fulfillable_quantity": spec.quantity, "fulfillment_service": "manual",
        "fulfillment_status": None, "gift_card": False, "grams": spec.grams,
        "name": title if vtitle == "Default Title" else f"{title} - {vtitle}",
        "price": money(spec.price), "price_set": money_set(spec.price, cur),
        "product_exists": True, "product_id": spec.product_id, "properties": [],
        "quantity": spec.quantity, "current_quantity": spec.quantity, "requires_shipping": True,
        "sku": spec.sku, "taxable": True, "title": title,
        "total_discount": "0.00", "total_discount_set": money_set(0, cur),
        "variant_id": spec.variant_id, "variant_inventory_management": "shopify",
        "variant_title": None if vtitle == "Default Title" else vtitle,
        "vendor": spec.vendor, "duties": [], "attributed_staffs": [],
        "tax_lines": [_tax_line(tax, rate, inp)] if rate else [],
        "discount_allocations": [{"amount": money(allocated), "discount_application_index": 0,
                                  "amount_set": money_set(allocated, cur)}] if pct else [],
    }  # fmt: skip


def _tax_line(cents: int, rate: int, inp: OrderInput) -> Record:
    return {"price": money(cents), "rate": rate / 1000, "title": _tax_title(inp.person),
            "price_set": money_set(cents, inp.currency), "channel_liable": False}  # fmt: skip


def cents(value: str) -> int:
    """A decimal string the demo itself produced -> cents."""
    units, _, frac = value.partition(".")
    sign = -1 if units.startswith("-") else 1
    return sign * (abs(int(units)) * 100 + int((frac + "00")[:2]))


def assemble_order(inp: OrderInput) -> Record:
    """A new order: open, paid, unfulfilled. Fulfil, close, cancel or refund it afterwards."""
    rate = tax_rate(inp.person)
    lines = [
        _line_item(s, i, inp.discount_pct, rate, inp)
        for s, i in zip(inp.lines, inp.line_ids, strict=True)
    ]
    gross = sum(s.price * s.quantity for s in inp.lines)
    discount = sum(cents(a["amount"]) for li in lines for a in li["discount_allocations"])
    tax = sum(cents(t["price"]) for li in lines for t in li["tax_lines"])
    subtotal = gross - discount
    shipping = shipping_for(subtotal) if inp.shipping is None else inp.shipping
    order = _order_head(inp, lines)
    order.update(_order_money(inp, gross, discount, subtotal, tax, shipping))
    order["tax_lines"] = [_tax_line(tax, rate, inp)] if rate else []
    order["shipping_lines"] = (
        [_shipping_line(inp, shipping)] if inp.shipping is None or shipping else []
    )
    if inp.discount_pct:
        order["discount_codes"] = [
            {"code": DISCOUNT_CODE, "amount": money(discount), "type": "percentage"}
        ]
        order["discount_applications"] = [{
            "type": "discount_code", "value": f"{inp.discount_pct}.0", "value_type": "percentage",
            "allocation_method": "across", "target_selection": "all",
            "target_type": "line_item", "code": DISCOUNT_CODE,
        }]  # fmt: skip
    return order


def _order_head(inp: OrderInput, lines: list[Record]) -> Record:
    created = iso(inp.created)
    token = f"{inp.order_id:032x}"[-32:]
    addr = address(inp.person, with_ids=False) if inp.person else None
    return {
        "id": inp.order_id, "admin_graphql_api_id": ids.gid("Order", inp.order_id),
        "app_id": 580111, "browser_ip": "192.0.2.10", "buyer_accepts_marketing": False,
        "cancel_reason": None, "cancelled_at": None, "cart_token": token, "checkout_id": inp.order_id,
        "checkout_token": token[::-1], "client_details": {
            "accept_language": "en-US", "browser_height": None, "browser_ip": "192.0.2.10",
            "browser_width": None, "session_hash": None, "user_agent": "Mozilla/5.0"},
        "closed_at": None, "confirmed": True, "contact_email": inp.email, "created_at": created,
        "currency": inp.currency, "customer_locale": "en", "device_id": None,
        "discount_codes": [], "discount_applications": [], "email": inp.email,
        "estimated_taxes": False, "financial_status": "paid", "fulfillment_status": None,
        "gateway": "shopify_payments", "landing_site": "/", "landing_site_ref": None,
        "location_id": None, "name": f"#{1000 + inp.number}", "note": inp.note,
        "note_attributes": inp.note_attributes, "number": inp.number,
        "order_number": 1000 + inp.number,
        "order_status_url": f"https://demo-shop.example.com/orders/{token}/authenticate",
        "payment_details": {"avs_result_code": "Y", "credit_card_bin": "424242",
                            "cvv_result_code": "M", "credit_card_number": "•••• •••• •••• 4242",
                            "credit_card_company": "Visa"},
        "payment_gateway_names": ["shopify_payments"], "phone": None,
        "presentment_currency": inp.currency, "processed_at": created,
        "processing_method": "direct", "reference": None, "referring_site": None,
        "source": None, "source_identifier": None, "source_name": inp.source_name,
        "source_url": None, "tags": inp.tags, "taxes_included": False, "test": False,
        "token": token, "total_outstanding": "0.00", "updated_at": created, "user_id": None,
        "billing_address": addr, "shipping_address": dict(addr) if addr else None,
        "customer": inp.customer, "line_items": lines, "fulfillments": [], "refunds": [],
    }  # fmt: skip


def _order_money(
    inp: OrderInput, gross: int, discount: int, subtotal: int, tax: int, shipping: int
) -> Record:
    total, cur = subtotal + tax + shipping, inp.currency
    weight = sum(s.grams * s.quantity for s in inp.lines)
    return {
        "total_line_items_price": money(gross), "total_line_items_price_set": money_set(gross, cur),
        "total_discounts": money(discount), "total_discounts_set": money_set(discount, cur),
        "subtotal_price": money(subtotal), "subtotal_price_set": money_set(subtotal, cur),
        "total_tax": money(tax), "total_tax_set": money_set(tax, cur),
        "total_shipping_price_set": money_set(shipping, cur),
        "total_price": money(total), "total_price_set": money_set(total, cur),
        "total_price_usd": money(total), "total_weight": weight,
    }  # fmt: skip


def _shipping_line(inp: OrderInput, price: int) -> Record:
    title = "Free Shipping" if price == 0 else "Standard"
    sid = inp.shipping_line_id
    return {
        "id": sid, "carrier_identifier": None, "code": title, "discounted_price": money(price),
        "discounted_price_set": money_set(price, inp.currency), "phone": None,
        "price": money(price), "price_set": money_set(price, inp.currency),
        "requested_fulfillment_service_id": None, "source": "shopify", "title": title,
        "tax_lines": [], "discount_allocations": [], "delivery_category": None,
    }  # fmt: skip
