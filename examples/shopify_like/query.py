"""Query parameters of the list and count endpoints, parsed and checked like Shopify does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from examples.common import parse_time
from examples.shopify_like.store import Filter

DEFAULT_LIMIT, MAX_LIMIT = 50, 250
ORDER_STATUSES = ("open", "closed", "cancelled", "any")
PRODUCT_STATUSES = ("active", "archived", "draft")


class QueryError(Exception):
    """A rejected query: the HTTP status and Shopify's `errors` value."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(f"{status}: {errors}")
        self.status, self.errors = status, errors


def parse_limit(text: str | None) -> int:
    """`limit`: default 50, at most 250 (larger values are capped, as Shopify does)."""
    if text is None:
        return DEFAULT_LIMIT
    if not text.strip().isdigit() or int(text) < 1:
        raise QueryError(400, {"limit": "must be a number between 1 and 250"})
    return min(int(text), MAX_LIMIT)


def _ids(query: Mapping[str, str], name: str) -> list[int] | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise QueryError(400, {name: "must be a comma-separated list of ids"}) from exc


def _one_id(query: Mapping[str, str], name: str) -> int | None:
    found = _ids(query, name)
    return found[0] if found else None


def _time(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise QueryError(400, {name: f"is not a valid date/time: {text!r}"}) from exc


def _status(resource: str, query: Mapping[str, str]) -> list[str] | None:
    text = query.get("status")
    if resource == "orders":
        value = text or "open"  # Shopify lists only open orders unless told status=any
        if value not in ORDER_STATUSES:
            raise QueryError(400, {"status": f"must be one of {', '.join(ORDER_STATUSES)}"})
        return [value]
    if resource == "products" and text:
        wanted = [s.strip() for s in text.split(",")]
        if set(wanted) - set(PRODUCT_STATUSES):
            raise QueryError(400, {"status": f"must be among {', '.join(PRODUCT_STATUSES)}"})
        return wanted
    return None


def parse_filter(resource: str, query: Mapping[str, str]) -> Filter:
    """The filters of a first-page (or count) request."""
    filt = Filter(
        ids=_ids(query, "ids"), since_id=_one_id(query, "since_id"),
        updated_at_min=_time(query, "updated_at_min"), updated_at_max=_time(query, "updated_at_max"),
        status=_status(resource, query),
    )  # fmt: skip
    if resource == "orders":
        filt.created_at_min = _time(query, "created_at_min")
        filt.created_at_max = _time(query, "created_at_max")
    if resource == "inventory_levels":
        filt.location_ids = _ids(query, "location_ids")
        filt.inventory_item_ids = _ids(query, "inventory_item_ids")
        if filt.location_ids is None and filt.inventory_item_ids is None:
            raise QueryError(422, {"base": ["inventory_item_ids or location_ids must be present"]})
    if resource in ("products", "collects"):
        filt.collection_id = _one_id(query, "collection_id")
    if resource == "collects":
        filt.product_id = _one_id(query, "product_id")
    return filt
