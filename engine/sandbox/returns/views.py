"""The shapes a stored return takes on the pull endpoints: list item, details, ASN row.

Field sets follow loop-api.md §3.4. Timestamps are `YYYY-MM-DD HH:MM:SS` (UTC). Ids are strings,
as in Loop's returns data, unless the sandbox runs with `integer_ids` (see `loop_ids`). Every
line says `outcome: "default"`; removed lines stay with zeroed amounts, and `presentment.line_items`
holds the lines still in the return. The webhook payloads are in `returns.payloads`.
"""

from __future__ import annotations

from typing import Any

from engine.sandbox.core import Sandbox, stringify_ids
from engine.sandbox.returns.lines import current_lines, line_outcome

MONEY_KEYS = (
    "return_product_total",
    "return_discount_total",
    "return_tax_total",
    "return_total",
    "return_credit_total",
    "exchange_product_total",
    "exchange_discount_total",
    "exchange_tax_total",
    "exchange_total",
    "exchange_credit_total",
    "gift_card",
    "handling_fee",
    "refund",
    "upsell",
)
LIST_KEYS = (
    "id",
    "state",
    "created_at",
    "updated_at",
    "edited_at",
    "total",
    "outcome",
    "order_id",
    "order_name",
    "provider_order_id",
    "order_number",
    "provider_order_number",
    "customer",
    "origin_country",
    "origin_country_code",
    "multi_currency",
    "currency",
    *MONEY_KEYS,
    "destination_id",
)
LINE_KEYS = (
    "line_item_id",
    "provider_line_item_id",
    "product_id",
    "variant_id",
    "sku",
    "title",
    "price",
    "discount",
    "tax",
    "refund",
    "refund_item",
    "refund_tax",
    "refund_shipping",
    "refund_shipping_tax",
    "returned_at",
    "exchange_variant",
    "return_reason",
    "parent_return_reason",
    "return_comment",
    "barcode",
    "outcome",
)
NA = "N/A"
# Keys that hold ids without saying so in their name (`exchange_variant`; a label's line ids).
ID_EXTRA = ("exchange_variant", "line_items")


def loop_ids(sb: Sandbox, body: Any) -> Any:
    """`body` with its ids as Loop's returns data has them: strings, unless `integer_ids`."""
    return body if sb.config.integer_ids else stringify_ids(body, ID_EXTRA)


def line_view(line: dict[str, Any]) -> dict[str, Any]:
    """A return line item as Loop shows it: empty exchange variant and barcode are ""."""
    out = {k: line.get(k) for k in LINE_KEYS}
    for key in ("exchange_variant", "barcode"):
        if out[key] is None:
            out[key] = ""
    out["outcome"] = "default"
    return out


def presentment(record: dict[str, Any]) -> dict[str, Any]:
    """What the return holds now: its lines without the removed ones (loop-api.md §3.3)."""
    return {"line_items": [line_view(line) for line in current_lines(record)]}


def latest_label(record: dict[str, Any]) -> dict[str, Any] | None:
    labels = record.get("labels") or []
    return labels[-1] if labels else None


def label_fields(record: dict[str, Any]) -> dict[str, Any]:
    label = latest_label(record) or {}
    return {
        "carrier": label.get("carrier") or NA,
        "tracking_number": label.get("tracking_number") or NA,
        "label_status": label.get("status"),
        "label_updated_at": label.get("updated_at"),
        "label_url": label.get("url"),
    }


def list_view(record: dict[str, Any]) -> dict[str, Any]:
    """An item of the Detailed Returns List."""
    out = {k: record.get(k) for k in LIST_KEYS}
    out["gift_card_order_name"] = None
    out["gift_card_order_id"] = None
    out["line_items"] = [line_view(line) for line in record["line_items"]]
    out["presentment"] = presentment(record)
    out["exchanges"] = [dict(e) for e in record["exchanges"]]
    out.update(label_fields(record))
    return out


def details_view(record: dict[str, Any], location_id: int | None) -> dict[str, Any]:
    """Get Return Details: the list item plus exchange order, refunds and per-line extras."""
    out = list_view(record)
    out["exchange"] = bool(record["exchanges"])
    out["exchange_order_name"] = record.get("exchange_order_name")
    out["exchange_order_id"] = record.get("exchange_order_id")
    out["refunds"] = [dict(r) for r in record.get("refunds") or []]
    for line, full in zip(out["line_items"], record["line_items"], strict=True):
        line["line_item_title"] = full.get("title")
        line["variant_title"] = full.get("variant_title")
        line["image"] = full.get("image")
        line["provider_restock_location_id"] = location_id
    return out


def asn_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Advanced Shipping Notice: one row per returned line item."""
    label = latest_label(record) or {}
    fields = label_fields(record)
    return [
        {
            "id": record["id"],
            "return_line_item_id": line["line_item_id"],
            "order_id": record["order_id"],
            "order_name": record["order_name"],
            "order_number": record["order_number"],
            "state": record["state"],
            "customer_email": record["customer"],
            "title": line["title"],
            "purchase_price": line["price"],
            "sku": line["sku"],
            "barcode": line["barcode"],
            "carrier": fields["carrier"],
            "service": label.get("service"),
            "label_status": fields["label_status"],
            "tracking_number": fields["tracking_number"],
            "label_url": fields["label_url"],
            "restock_status": "requested" if record["state"] == "closed" else "pending",
            "return_reason": line["return_reason"],
            "return_method": "shipping_label",
            "return_method_rma_code": None,
            "return_method_state": fields["label_status"],
            # An ASN row is per line, so it says what that line asked for.
            "outcome": line_outcome(line),
            "package_reference": None,
            "destination_id": record.get("destination_id"),
            "destination_name": None,
            "created_at": record["created_at"],
            "updated_at": record["updated_at"],
        }
        for line in current_lines(record)
    ]
