"""The shapes a stored return takes on each endpoint: list item, details, webhook payload, ASN row.

Field sets follow loop-api.md §3.3 (webhook) and §3.4 (pull endpoints). Pull endpoints keep
timestamps as `YYYY-MM-DD HH:MM:SS` (UTC); webhook payloads use ISO 8601 with an offset, as the
webhook reference describes. Ids stay 64-bit integers (strings on request, see core.loop_json).
"""

from __future__ import annotations

from typing import Any

from engine.sandbox.returns.store import parse_sql_time

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
WEBHOOK_KEYS = (
    "shop_id",
    "id",
    "state",
    "created_at",
    "updated_at",
    "edited_at",
    "total",
    "outcome",
    "order_id",
    "order_name",
    "order_number",
    "provider_order_id",
    "provider_order_number",
    "provider_order_external_id",
    "provider_order_sales_channel",
    "customer",
    "customer_detail",
    "address",
    "currency",
    *MONEY_KEYS,
    "status_page_url",
    "is_gift_return",
    "refunds",
)
NA = "N/A"
# Ids a line may lack (a product without variants); left out of webhooks rather than sent null.
ID_KEYS = ("product_id", "variant_id")


def iso(value: str | None) -> str | None:
    """'2024-03-01 10:00:00' -> '2024-03-01T10:00:00+00:00'."""
    return None if value is None else parse_sql_time(value).isoformat()


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
    out["line_items"] = [{k: line.get(k) for k in LINE_KEYS} for line in record["line_items"]]
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


def webhook_view(record: dict[str, Any], trigger: str) -> dict[str, Any]:
    """The `return` topic payload for one trigger."""
    out: dict[str, Any] = {"topic": "return", "trigger": trigger}
    out.update({k: record.get(k) for k in WEBHOOK_KEYS})
    for key in ("created_at", "updated_at", "edited_at"):
        out[key] = iso(out[key])
    out["labels"] = [
        {**label, "updated_at": iso(label.get("updated_at"))}
        for label in record.get("labels") or []
    ]
    out["line_items"] = [
        {k: line.get(k) for k in LINE_KEYS if line.get(k) is not None or k not in ID_KEYS}
        for line in record["line_items"]
    ]
    for line in out["line_items"]:
        line["returned_at"] = iso(line["returned_at"])
    out["exchanges"] = [dict(e) for e in record["exchanges"]]
    fields = label_fields(record)
    out["carrier"], out["tracking_number"] = fields["carrier"], fields["tracking_number"]
    return out


def label_payload(record: dict[str, Any], label: dict[str, Any], trigger: str) -> dict[str, Any]:
    """The `label` topic payload: the label, and the return and order it belongs to."""
    return {
        "topic": "label",
        "trigger": trigger,
        "shop_id": record["shop_id"],
        "return_id": record["id"],
        "order_id": record["order_id"],
        "order_name": record["order_name"],
        "provider_order_id": record["provider_order_id"],
        "label": {
            **label,
            "updated_at": iso(label.get("updated_at")),
            "created_at": iso(label.get("created_at")),
        },
    }


def restock_payload(record: dict[str, Any], location_id: int | None) -> dict[str, Any]:
    """`restock.requested`: one item per returned variant, with the platform's (Loop's) ids."""
    counts: dict[Any, int] = {}
    for line in record["line_items"]:
        counts[line["variant_id"]] = counts.get(line["variant_id"], 0) + 1
    items = [
        {
            "location_id": location_id,
            "variant_id": variant_id,
            "inventory_item_id": variant_id,
            "available_adjustment": count,
            "inventory_management": "loop",
        }
        for variant_id, count in counts.items()
        if variant_id is not None
    ]
    if location_id is None:  # no location synced yet: leave the key out rather than send null
        for item in items:
            del item["location_id"]
    return {
        "topic": "restock",
        "trigger": "restock.requested",
        "shop_id": record["shop_id"],
        "id": record["id"],
        "order_id": record["order_id"],
        "provider_order_id": record["provider_order_id"],
        "restock_items": items,
    }


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
            "outcome": line["outcome"],
            "package_reference": None,
            "destination_id": record.get("destination_id"),
            "destination_name": None,
            "created_at": record["created_at"],
            "updated_at": record["updated_at"],
        }
        for line in record["line_items"]
    ]
