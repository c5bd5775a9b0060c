"""A return's money: the decimal-string totals and the return-level outcome, from its lines.

Loop puts the outcome at return level (`outcome`, `exchanges[]`, the totals) and says
`"default"` on every line (loop-api.md §3.3), so this is where a receiver reads what happened.
Removed lines are left out, and a cancelled return's totals are zeroed as Loop's are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.sandbox.returns.lines import current_lines, line_outcome

# What Loop zeroes on a cancelled return (loop-api.md §3.3).
ZEROED_WHEN_CANCELLED = ("return_total", "return_credit_total", "exchange_total")


def _sum(items: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(i[key]) for i in items), Decimal(0))


def _net(items: list[dict[str, Any]]) -> Decimal:
    """What returned lines are worth: price less discount plus tax."""
    return _sum(items, "price") - _sum(items, "discount") + _sum(items, "tax")


def lines_by_outcome(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The current lines grouped by what the shopper asked for: refund, exchange, store_credit."""
    lines = current_lines(record)
    return {
        o: [ln for ln in lines if line_outcome(ln) == o]
        for o in ("refund", "exchange", "store_credit")
    }


def compute_totals(record: dict[str, Any]) -> None:
    """Fills the return's decimal-string totals and outcome from its lines and exchanges."""
    lines, exchanges = current_lines(record), record["exchanges"]
    by = lines_by_outcome(record)
    exchange_credit, exchange_total = _net(by["exchange"]), _sum(exchanges, "total")
    amounts = {
        "return_product_total": _sum(lines, "price"),
        "return_discount_total": _sum(lines, "discount"),
        "return_tax_total": _sum(lines, "tax"),
        "return_total": _net(lines),
        "return_credit_total": _net(lines),
        "exchange_product_total": _sum(exchanges, "price"),
        "exchange_discount_total": _sum(exchanges, "discount"),
        "exchange_tax_total": _sum(exchanges, "tax"),
        "exchange_total": exchange_total,
        "exchange_credit_total": exchange_credit,
        "gift_card": _net(by["store_credit"]),
        "handling_fee": Decimal(0),
        "refund": _net(by["refund"]),
        "upsell": max(Decimal(0), exchange_total - exchange_credit),
    }
    if record["state"] == "cancelled":
        amounts.update(dict.fromkeys(ZEROED_WHEN_CANCELLED, Decimal(0)))
    quantum = Decimal(1).scaleb(-record.get("currency_digits", 2))
    for key, value in amounts.items():
        record[key] = str(value.quantize(quantum))
    record["total"] = str(_net(lines).quantize(quantum))
    record["outcome"] = next((o for o in ("exchange", "store_credit", "refund") if by[o]), "refund")


def store_credit(record: dict[str, Any]) -> dict[str, str]:
    """The gift card a processed store-credit return issues: subtotal, tax, bonus (the sandbox
    gives none) and total."""
    lines = lines_by_outcome(record)["store_credit"]
    quantum = Decimal(1).scaleb(-record.get("currency_digits", 2))
    subtotal = _sum(lines, "price") - _sum(lines, "discount")
    tax = _sum(lines, "tax")
    return {
        "subtotal": str(subtotal.quantize(quantum)),
        "tax": str(tax.quantize(quantum)),
        "bonus": str(Decimal(0).quantize(quantum)),
        "total": str((subtotal + tax).quantize(quantum)),
    }
