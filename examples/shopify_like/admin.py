"""The demo-only admin calls: touch records (incremental sync), corrupt them (quarantine), restore.

Every change is stored as an override with `updated_at` bumped to now, so an incremental
extract (`updated_at_min`) sees exactly the changed records.
"""

from __future__ import annotations

import copy
from typing import Any

from examples.common import iso, money
from examples.shopify_like.orders import cents
from examples.shopify_like.store import Filter, Store

Record = dict[str, Any]
ENTITIES = ("products", "customers", "orders", "locations", "custom_collections")
CORRUPTIONS = ("price", "date", "status")
BROKEN_PRICE, BROKEN_DATE, UNKNOWN_STATUS = "12,3x", "2024-02-30T25:61:00-05:00", "unknown_status"


class AdminError(ValueError):
    """A bad admin request: the message says what is wrong."""


def positions(
    store: Store, entity: str, record_ids: list[int] | None, count: int | None
) -> list[int]:
    """The positions an admin call acts on: the given ids, or the first `count` records."""
    if entity not in ENTITIES:
        raise AdminError(f"entity must be one of {', '.join(ENTITIES)}, not {entity!r}")
    if record_ids is not None:
        found = [store.pos_of(entity, int(i)) for i in record_ids]
        missing = [i for i, p in zip(record_ids, found, strict=True) if p is None]
        if missing:
            raise AdminError(f"unknown {entity} ids: {missing}")
        return [p for p in found if p is not None]
    if count is None or count < 0:
        raise AdminError("give either ids (a list) or count (a number >= 0)")
    result: list[int] = []
    for pos in store.scan(entity, Filter(), 0):
        if len(result) >= count:
            break
        result.append(pos)
    return result


def touch(
    store: Store, entity: str, record_ids: list[int] | None = None, count: int | None = None
) -> list[int]:
    """Changes the records (price, tags, note, ...) and bumps their updated_at; returns ids."""
    with store.lock:
        now = store.now()
        changed = []
        for pos in positions(store, entity, record_ids, count):
            record = copy.deepcopy(store.get(entity, pos))
            _change(entity, record, now)
            record["updated_at"] = iso(now)
            store.put(entity, pos, record, now)
            changed.append(record["id"])
        return changed


def _change(entity: str, record: Record, now: int) -> None:
    tags = [t for t in str(record.get("tags") or "").split(", ") if t]
    if "touched" not in tags:
        tags.append("touched")
    if entity == "products":
        for variant in record["variants"]:
            variant["price"] = money(cents(variant["price"]) + 100)
            variant["updated_at"] = iso(now)
        record["tags"] = ", ".join(tags)
    elif entity in ("orders", "customers"):
        record["tags"] = ", ".join(tags)
        record["note"] = f"Updated by the demo at {iso(now)}"
    elif entity == "locations":
        record["phone"] = f"+1201555{now % 10000:04d}"
    else:
        record["body_html"] = f"<p>{record['title']}, updated {iso(now)}.</p>"


def corrupt(
    store: Store,
    entity: str,
    record_ids: list[int] | None = None,
    count: int | None = None,
    kinds: list[str] | None = None,
) -> list[int]:
    """Injects a broken price, an impossible date and an unknown status into the records."""
    kinds = list(kinds or CORRUPTIONS)
    unknown = sorted(set(kinds) - set(CORRUPTIONS))
    if unknown:
        raise AdminError(f"unknown corruption kinds {unknown}; known: {', '.join(CORRUPTIONS)}")
    with store.lock:
        now = store.now()
        changed = []
        for pos in positions(store, entity, record_ids, count):
            record = copy.deepcopy(store.get(entity, pos))
            for kind in kinds:
                _break(entity, record, kind)
            record["updated_at"] = iso(now)
            store.put(entity, pos, record, now)
            changed.append(record["id"])
        return changed


def _break(entity: str, record: Record, kind: str) -> None:
    if kind == "date":
        for key in ("created_at", "processed_at", "published_at"):
            if key in record:
                record[key] = BROKEN_DATE
    elif kind == "price":
        if entity == "orders":
            record["line_items"][0]["price"] = BROKEN_PRICE
            record["total_price"] = BROKEN_PRICE
        elif entity == "products":
            record["variants"][0]["price"] = BROKEN_PRICE
        elif entity == "customers":
            record["total_spent"] = BROKEN_PRICE
    elif entity == "orders":
        record["financial_status"] = UNKNOWN_STATUS
        record["fulfillment_status"] = UNKNOWN_STATUS
    elif entity == "products":
        record["status"] = UNKNOWN_STATUS
    elif entity == "customers":
        record["state"] = UNKNOWN_STATUS


def restore(
    store: Store, entity: str, record_ids: list[int] | None = None, count: int | None = None
) -> list[int]:
    """Puts generated records back as generated (the fix), with updated_at bumped to now."""
    with store.lock:
        now = store.now()
        table = store.table(entity)
        changed = []
        for pos in positions(store, entity, record_ids, count):
            if pos >= table.size():
                continue  # created through the API: nothing generated to go back to
            record = copy.deepcopy(table.build(pos))
            record["updated_at"] = iso(now)
            store.put(entity, pos, record, now)
            changed.append(record["id"])
        return changed


def faults(store: Store) -> Record:
    """The demo faults in force: `refunds_fail` maps order ids (as text) to refunds to refuse;
    `answer_delay` maps path endings to (seconds, answers still to delay)."""
    with store.lock:
        left = {str(k): v for k, v in sorted(store.refund_faults.items()) if v > 0}
        delays = {k: list(v) for k, v in store.answer_delays.items() if v[1] > 0}
    return {"refunds_fail": left, "answer_delay": delays}


def set_answer_delay(store: Store, spec: Any) -> Record:
    """`{"path_suffix": "/refunds.json", "seconds": S, "count": N}`: the next N writes to a path
    ending so are applied and recorded at once, and answered S seconds later (a client that
    dies meanwhile never learns the result: the crash window outcome execution must survive)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("path_suffix"), str):
        raise AdminError('give {"answer_delay": {"path_suffix": "/refunds.json", "seconds": S}}')
    seconds, count = spec.get("seconds", 5), spec.get("count", 1)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 60:
        raise AdminError("answer_delay.seconds must be a number from 0 to 60")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise AdminError("answer_delay.count must be a number >= 0")
    with store.lock:
        store.answer_delays[spec["path_suffix"]] = (float(seconds), count)
    return faults(store)


def set_faults(store: Store, body: Any) -> Record:
    """`{"refunds_fail": {"order_id": ID, "count": N}}`: the next N refunds of the order answer
    422 (N = 0 clears it); `{"answer_delay": {...}}` (set_answer_delay); returns the faults in
    force."""
    if isinstance(body, dict) and "answer_delay" in body:
        return set_answer_delay(store, body["answer_delay"])
    spec = body.get("refunds_fail") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise AdminError('give {"refunds_fail": {"order_id": ID, "count": N}}')
    order_id, count = spec.get("order_id"), spec.get("count", 1)
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        raise AdminError("refunds_fail.order_id must be an order id (a number)")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise AdminError("refunds_fail.count must be a number >= 0")
    with store.lock:
        if store.pos_of("orders", order_id) is None:
            raise AdminError(f"unknown orders id: {order_id}")
        store.refund_faults[order_id] = count
    return faults(store)
