"""Loop's webhook signature: the body encoding Loop signs, `sign` (sender) and `verify` (receiver).

Loop sends `X-Loop-Signature: base64(HMAC-SHA256(webhook secret, raw body bytes))` over a body
written by PHP's `json_encode` (no spaces or newlines, `/` escaped as `\\/`), so a receiver must
check the bytes it received, never a re-serialisation of the parsed JSON (loop-api.md §3.3).
The sandbox signs with `sign`; a receiver checks with `verify`, which accepts any of several
secrets so that a secret can be rotated without dropping deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

# The only delivery header Loop documents.
SIGNATURE_HEADER = "X-Loop-Signature"


def php_json(payload: Any) -> bytes:
    """JSON as PHP's json_encode writes it (compact, ASCII, '/' escaped): the bytes Loop signs.

    Replacing '/' after dumping is safe: outside strings JSON has no slash.
    """
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def sign(secret: str, raw_body: bytes) -> str:
    """The X-Loop-Signature value for these exact bytes: base64 of the HMAC-SHA256 digest."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(raw_body: bytes, header_value: str | None, secrets: Sequence[str]) -> bool:
    """True when the header is the signature of `raw_body` under any of `secrets`.

    A missing or empty header is False, and so is an empty secret (an unset secret must not
    verify anything). Comparisons run in constant time, and against every secret, so the time
    taken does not tell which secret (if any) came close.
    """
    if not header_value or not header_value.strip():
        return False
    given = header_value.strip().encode("utf-8")
    matched = False
    for secret in secrets:
        if secret:
            expected = sign(secret, raw_body).encode("ascii")
            matched |= hmac.compare_digest(expected, given)
    return matched


TOPICS: dict[str, tuple[str, ...]] = {
    "return": ("return.created", "return.updated", "return.closed"),
    "label": ("label.created", "label.updated"),
    "restock": ("restock.requested",),
    "label.request": ("label.request.issued", "label.request.cancelled"),
    "giftcard": ("giftcard.requested",),
    "happy.returns.shipment": ("shipment.processed",),
    # Documented as an event (loop-api.md §3.3); whether Loop's POST /webhooks takes it is not.
    "return.processing": ("return.processing.failed",),
}
"""Every webhook topic and its triggers, as the Programmatic Webhooks API defines them: the
sandbox accepts these subscriptions, the engine subscribes with them."""
