"""Gift cards in Shopify's REST shape: issuing one (store credit as an outcome) and reading them.

As in Shopify, the full `code` is answered only when the card is created; reads show
`last_characters`. Cards live in the store beside the generated data and go on `/_demo/reset`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from examples.common import iso, money
from examples.shopify_like import ids
from examples.shopify_like.store import Store
from examples.shopify_like.writes import WriteError, amount_cents, parse_int

Record = dict[str, Any]
CODE = re.compile(r"^[A-Za-z0-9]{8,20}$")
CODE_LENGTH = 16
MAX_LIMIT = 250


def _code(store: Store, card_id: int) -> str:
    """A generated code: 16 characters, reproducible from the shop's seed and the card's id."""
    digest = hashlib.sha256(f"{store.data.seed}:{card_id}".encode()).hexdigest()
    return digest[:CODE_LENGTH]


def _spec(store: Store, body: Any) -> tuple[int, str, str | None, int | None, str | None]:
    """(initial value in cents, currency, note, customer id, code) from the request body."""
    if not isinstance(body, dict) or not isinstance(body.get("gift_card"), dict):
        raise WriteError(400, {"gift_card": "Required parameter missing or invalid"})
    spec: Record = body["gift_card"]
    value = amount_cents(spec.get("initial_value"), "initial_value")
    if value <= 0:
        raise WriteError(422, {"initial_value": ["must be greater than 0"]})
    currency = str(spec.get("currency") or store.data.currency).upper()
    if currency != store.data.currency:
        raise WriteError(422, {"currency": [f"must be the shop's currency {store.data.currency}"]})
    customer = spec.get("customer_id")
    customer_id = None if customer is None else parse_int(customer, "customer_id")
    if customer_id is not None and store.pos_of("customers", customer_id) is None:
        raise WriteError(422, {"customer_id": ["does not exist"]})
    code = spec.get("code")
    if code is not None and (not isinstance(code, str) or not CODE.match(code)):
        raise WriteError(422, {"code": ["must be 8 to 20 letters or digits"]})
    note = spec.get("note")
    return value, currency, None if note is None else str(note), customer_id, code


def create_gift_card(store: Store, body: Any) -> Record:
    """`POST gift_cards.json`: a new enabled card whose balance is its initial value."""
    value, currency, note, customer_id, code = _spec(store, body)
    with store.lock:
        if code is not None and any(
            c["code"].lower() == code.lower() for c in store.gift_cards.values()
        ):
            raise WriteError(422, {"code": ["has already been taken"]})
        card_id, stamp = store.new_id(), iso(store.now())
        code = code or _code(store, card_id)
        card = {
            "id": card_id, "admin_graphql_api_id": ids.gid("GiftCard", card_id),
            "balance": money(value), "initial_value": money(value), "currency": currency,
            "code": code, "last_characters": code[-4:], "note": note, "customer_id": customer_id,
            "order_id": None, "line_item_id": None, "user_id": None, "api_client_id": None,
            "template_suffix": None, "expires_on": None, "disabled_at": None,
            "created_at": stamp, "updated_at": stamp,
        }  # fmt: skip
        store.gift_cards[card_id] = card
        return dict(card)


def public(card: Record) -> Record:
    """A card as reads show it: without the full code."""
    return {k: v for k, v in card.items() if k != "code"}


def find_gift_card(store: Store, card_id: int) -> Record | None:
    with store.lock:
        card = store.gift_cards.get(card_id)
        return None if card is None else public(card)


def list_gift_cards(store: Store, query: Mapping[str, str]) -> list[Record]:
    """`GET gift_cards.json`: oldest first, `since_id`, `limit` (50, at most 250) and `status`
    (enabled, disabled)."""
    limit = parse_int(query.get("limit", "50"), "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise WriteError(400, {"limit": f"must be between 1 and {MAX_LIMIT}"})
    since = parse_int(query.get("since_id", "0"), "since_id")
    status = query.get("status")
    if status not in (None, "enabled", "disabled"):
        raise WriteError(400, {"status": "must be enabled or disabled"})
    with store.lock:
        cards = [c for cid, c in sorted(store.gift_cards.items()) if cid > since]
    if status is not None:
        cards = [c for c in cards if (c["disabled_at"] is None) == (status == "enabled")]
    return [public(c) for c in cards[:limit]]
