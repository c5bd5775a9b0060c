"""The webhook payloads of the returns topics, as Loop sends them (loop-api.md §3.3).

Each is the resource itself with `topic` and `trigger` at the top, no envelope. Return payloads
have `edited_at` and no `updated_at`; `label` is flat; ids are strings unless the sandbox runs
with `integer_ids`, except `return.processing`'s `return_id`, an integer in Loop's docs. Header
timestamps are ISO 8601 with an offset; line `returned_at` stays `YYYY-MM-DD HH:MM:SS`, as in
real captures.
"""

from __future__ import annotations

from typing import Any

from engine.sandbox.core import Sandbox
from engine.sandbox.returns.store import parse_sql_time
from engine.sandbox.returns.totals import store_credit
from engine.sandbox.returns.views import (
    MONEY_KEYS,
    NA,
    label_fields,
    latest_label,
    line_view,
    loop_ids,
    presentment,
)

RETURN_KEYS = (
    "shop_id",
    "id",
    "state",
    "created_at",
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
# Ids a line may lack (a product without variants); left out of webhooks rather than sent null.
OPTIONAL_IDS = ("product_id", "variant_id")
FAILED_MESSAGE = "Return failed to process"


def iso(value: str | None) -> str | None:
    """'2024-03-01 10:00:00' -> '2024-03-01T10:00:00+00:00'."""
    return None if value is None else parse_sql_time(value).isoformat()


def send(sb: Sandbox, payload: dict[str, Any], *, string_ids: bool = True) -> None:
    """Queues a payload for its topic and trigger, ids as Loop writes them."""
    body = loop_ids(sb, payload) if string_ids else payload
    sb.events.emit(payload["topic"], payload["trigger"], body)


def return_payload(record: dict[str, Any], trigger: str) -> dict[str, Any]:
    """The `return` topic payload for one trigger."""
    out: dict[str, Any] = {"topic": "return", "trigger": trigger}
    out.update({k: record.get(k) for k in RETURN_KEYS})
    for key in ("created_at", "edited_at"):
        out[key] = iso(out[key])
    out["labels"] = [
        {**label, "updated_at": iso(label.get("updated_at"))}
        for label in record.get("labels") or []
    ]
    out["line_items"] = [_line(line) for line in record["line_items"]]
    out["presentment"] = {"line_items": [_line(li) for li in presentment(record)["line_items"]]}
    out["exchanges"] = [dict(e) for e in record["exchanges"]]
    fields = label_fields(record)
    out["carrier"], out["tracking_number"] = fields["carrier"], fields["tracking_number"]
    return out


def _line(line: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in line_view(line).items() if v is not None or k not in OPTIONAL_IDS}


def label_payload(record: dict[str, Any], trigger: str) -> dict[str, Any]:
    """The flat `label` topic payload: `id` is the return's, the label's fields at the top."""
    label = latest_label(record) or {}
    return {
        "topic": "label",
        "trigger": trigger,
        "shop_id": record["shop_id"],
        "id": record["id"],
        "order_id": record["order_id"],
        "provider_order_id": record["provider_order_id"],
        "carrier": label.get("carrier") or NA,
        "tracking_number": label.get("tracking_number") or NA,
        "label_status": label.get("status") or NA,
        "label_updated_at": iso(label.get("updated_at")),
        "shipment_id": label.get("shipment_id"),
    }


def restock_payload(record: dict[str, Any], location_id: int | None) -> dict[str, Any]:
    """`restock.requested`: one item per returned variant, with the platform's (Loop's) ids."""
    counts: dict[Any, int] = {}
    for line in presentment(record)["line_items"]:
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


def giftcard_payload(record: dict[str, Any], giftcard_id: int) -> dict[str, Any]:
    """`giftcard.requested`: the store credit a processed return issues."""
    credit = store_credit(record)
    detail = record.get("customer_detail") or {}
    return {
        "topic": "giftcard",
        "trigger": "giftcard.requested",
        "id": giftcard_id,
        "total_credit_issued": credit["total"],
        "gift_card_subtotal": credit["subtotal"],
        "gift_card_tax": credit["tax"],
        "gift_card_bonus_credit": credit["bonus"],
        "currency": record["currency"],
        "return_id": record["id"],
        "email": record.get("customer"),
        "first_name": detail.get("first_name"),
        "last_name": detail.get("last_name"),
        "external_order_id": record["provider_order_id"],
        "external_order_name": record["order_name"],
        "external_order_number": record["order_number"],
    }


def failure_payload(record: dict[str, Any], source: str | None) -> dict[str, Any]:
    """`return.processing.failed`: processing was queued (200) and then failed."""
    return {
        "topic": "return.processing",
        "trigger": "return.processing.failed",
        "return_id": int(record["id"]),
        "return_state": record["state"],
        "message": FAILED_MESSAGE,
        "source": source,
    }
