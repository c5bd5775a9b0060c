"""An outcome's context: what a Loop event says, translated for the platform.

Built once per return and outcome (and stored with the run, so a retry renders the same):
- `return` / `event`: the event as Loop sent it; `trigger`, `topic`, `return_id`, `currency`;
- `order`: {id (Loop's), external_id (the platform's key, from the ID map), name, loop (Loop's
  record of the order, when a Loop client is at hand: its customer, lines, refunds)};
- `lines`: the lines still in the return (`presentment.line_items`; without it, the lines with a
  `returned_at`), each with `order_line`, `variant`, `product` as {id, external_id} and its
  amounts in minor units (`price_minor`, `discount_minor`, `tax_minor`, `refund_minor`, ...);
  a ref's `aliases` holds the record's other platform keys (a variant's `inventory_item`);
  `removed_lines` the others;
- `refund_minor`: what the current lines refund (Loop's per-line refunds are already net of
  its handling fee), `handling_fee_minor`;
- `exchanges`: each with `variant` / `product` {id, external_id} and `total_minor`;
- `restock_items` (restock.requested): each with `variant` and `location` {id, external_id}:
  loop-api.md leaves open whether these ids are Loop's or the platform's, so an id the ID map
  knows as a Loop id is translated and any other is taken as the platform's;
- `giftcard` (giftcard.requested): the event with `*_minor` amounts;
- `vars`; `steps` (filled as the steps run); `now` (RFC 3339, UTC) and `now_ms` (epoch ms),
  fixed when the run is claimed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.loop.api import LoopAPI
from engine.mapping.currencies import cents
from engine.mapping.model import Mapping
from engine.state import State
from engine.state.idmap import LINES
from engine.state.inbox import return_id, text

AMOUNTS = ("price", "discount", "tax", "refund", "refund_item", "refund_tax", "total")
GIFTCARD_AMOUNTS = (
    "total_credit_issued",
    "gift_card_subtotal",
    "gift_card_tax",
    "gift_card_bonus_credit",
)


def build_context(
    event: dict[str, Any], state: State, mapping: Mapping, loop: LoopAPI | None = None
) -> dict[str, Any]:
    """The context of `event` (a parsed Loop event body); with `loop`, `order.loop` is Loop's
    own record of the order (its customer's external_id, its lines...)."""
    topic = event.get("topic") if isinstance(event.get("topic"), str) else None
    currency = text(event.get("currency")) or mapping.currency
    stamp = datetime.now(UTC).replace(microsecond=0)
    ids = _Ids(state, mapping)
    current, removed = _lines(event)
    order = _order(event, ids, loop)
    lines = [_line(line, ids, order, currency) for line in current]
    context: dict[str, Any] = {
        "event": event,
        "return": event,
        "topic": topic,
        "trigger": event.get("trigger"),
        "return_id": return_id(topic, event),
        "currency": currency,
        "order": order,
        "lines": lines,
        "removed_lines": [_line(line, ids, order, currency) for line in removed],
        "refund_minor": sum(line.get("refund_minor") or 0 for line in lines),
        "handling_fee_minor": _minor(event.get("handling_fee"), currency) or 0,
        "exchanges": [_exchange(x, ids, currency) for x in _items(event.get("exchanges"))],
        "restock_items": [_restock(x, ids) for x in _items(event.get("restock_items"))],
        "vars": mapping.vars,
        "steps": {},
        "now": stamp.isoformat(timespec="seconds"),
        "now_ms": int(stamp.timestamp() * 1000),
    }
    if topic == "giftcard":
        context["giftcard"] = {
            **event,
            **{f"{k}_minor": _minor(event.get(k), currency) for k in GIFTCARD_AMOUNTS},
        }
    return context


def _order(event: dict[str, Any], ids: _Ids, loop: LoopAPI | None) -> dict[str, Any]:
    """`order`: Loop's id, the platform's key, the name, and Loop's record when `loop` is given."""
    order = ids.order(event.get("order_id"))
    order["name"] = event.get("order_name") or event.get("external_order_name")
    order["loop"] = None
    if loop is not None and order["external_id"] is not None:
        order["loop"] = loop.get_by_external_id("order", str(order["external_id"]))
    return order


class _Ids:
    """Loop ids -> the platform's keys, through the ID map, per Loop kind."""

    def __init__(self, state: State, mapping: Mapping) -> None:
        self.state = state
        self.by_kind: dict[str, list[str]] = {}
        for name, entity in mapping.entities.items():
            self.by_kind.setdefault(entity.kind.name, []).append(name)

    def find(self, kind: str, loop_id: Any) -> tuple[str | None, Any, str | None]:
        """(the platform key, the ID map's extra, the entity) of a Loop id."""
        number = _number(loop_id)
        if number is None:
            return None, None, None
        found = self.state.reverse_lookup(self.by_kind.get(kind, []), [number])
        if number not in found:
            return None, None, None
        entity, key, extra = found[number]
        return key, extra, entity

    def ref(self, kind: str, loop_id: Any, fallback: bool = False) -> dict[str, Any]:
        """{id, external_id, aliases}: `aliases` are the other platform keys the record has
        (a variant's inventory item)."""
        key, _, entity = self.find(kind, loop_id)
        aliases = self.state.aliases_of(entity, key) if entity and key else {}
        if key is None and fallback and loop_id is not None:
            key = str(loop_id)  # not a Loop id the map knows: the platform's own
        return {"id": text(loop_id), "external_id": key, "aliases": aliases}

    def order(self, loop_id: Any) -> dict[str, Any]:
        key, extra, _ = self.find("order", loop_id)
        lines = (extra.get(LINES) or {}) if isinstance(extra, dict) else {}
        return {
            "id": text(loop_id),
            "external_id": key,
            "lines": {str(loop): str(ext) for ext, loop in lines.items()},
        }


def _lines(event: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    everything = _items(event.get("line_items"))
    presentment = event.get("presentment")
    if isinstance(presentment, dict) and isinstance(presentment.get("line_items"), list):
        current = _items(presentment["line_items"])
    else:
        current = [line for line in everything if line.get("returned_at")]
    kept = {text(line.get("line_item_id")) for line in current}
    removed = [line for line in everything if text(line.get("line_item_id")) not in kept]
    return current, removed


def _line(line: dict[str, Any], ids: _Ids, order: dict[str, Any], currency: str) -> dict[str, Any]:
    order_line = text(line.get("provider_line_item_id"))
    out = {**line, **{f"{k}_minor": _minor(line.get(k), currency) for k in AMOUNTS if k in line}}
    out["order_line"] = {"id": order_line, "external_id": order["lines"].get(order_line or "")}
    out["variant"] = ids.ref("variant", line.get("variant_id"))
    out["product"] = ids.ref("product", line.get("product_id"))
    out["quantity"] = 1  # Loop returns one unit per return line
    return out


def _exchange(item: dict[str, Any], ids: _Ids, currency: str) -> dict[str, Any]:
    out = {**item, **{f"{k}_minor": _minor(item.get(k), currency) for k in AMOUNTS if k in item}}
    out["variant"] = ids.ref("variant", item.get("variant_id"))
    out["product"] = ids.ref("product", item.get("product_id"))
    return out


def _restock(item: dict[str, Any], ids: _Ids) -> dict[str, Any]:
    out = dict(item)
    out["variant"] = ids.ref("variant", item.get("variant_id"), fallback=True)
    out["location"] = ids.ref("location", item.get("location_id"), fallback=True)
    return out


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _number(value: Any) -> int | None:
    shown = text(value)
    return int(shown) if shown is not None and shown.isdigit() else None


def _minor(value: Any, currency: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return cents(value, currency)
    except Exception:  # an amount Loop sent oddly: left out rather than stopping the outcome
        return None
