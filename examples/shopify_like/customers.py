"""Generated customers: identity and address from (seed, position), aggregates passed in."""

from __future__ import annotations

import random
import unicodedata
from typing import Any, NamedTuple

from examples.common import CATALOG_START, FIRST_NAMES, LAST_NAMES, PLACES, STREETS, iso, mix, money
from examples.shopify_like import ids

Record = dict[str, Any]
K_CUSTOMER, K_PLACE = 21, 22


class Person(NamedTuple):
    """The part of a customer an order needs: who and where."""

    pos: int
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    place: tuple[str, str, str, str, str, str, int]
    zip: str
    created: int
    marketing: bool


def person(seed: int, pos: int) -> Person:
    rng = random.Random(mix(seed, K_CUSTOMER, pos))
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    # Email addresses stay ASCII (names may not be): "Zoé Müller" -> zoe.muller.
    plain = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    local = plain.lower().replace("'", "")
    place = place_of(seed, pos)
    return Person(
        pos=pos, first_name=first, last_name=last,
        email=f"{local}.{pos + 1}@example.com",
        phone=f"+1{rng.randrange(201, 990)}555{rng.randrange(0, 10000):04d}",
        street=f"{rng.randrange(1, 999)} {rng.choice(STREETS)}",
        place=place, zip=f"{place[3]}{rng.randrange(0, 100):02d}" if place[5] == "US" else place[3],
        created=CATALOG_START + rng.randrange(0, 200 * 86400),
        marketing=rng.random() < 0.4,
    )  # fmt: skip


def place_of(seed: int, pos: int) -> tuple[str, str, str, str, str, str, int]:
    """Where customer `pos` lives (cheap: orders need only the tax rate)."""
    return PLACES[mix(seed, K_PLACE, pos) % len(PLACES)]


def address(p: Person, with_ids: bool = True) -> Record:
    """The customer's address; in orders (with_ids False) it also carries coordinates."""
    city, province, pcode, _, country, ccode, _ = p.place
    result: Record = {
        "first_name": p.first_name, "last_name": p.last_name, "company": None,
        "address1": p.street, "address2": None, "city": city, "province": province,
        "country": country, "zip": p.zip, "phone": p.phone,
        "name": f"{p.first_name} {p.last_name}", "province_code": pcode, "country_code": ccode,
    }  # fmt: skip
    if with_ids:
        cid = ids.CUSTOMER + p.pos
        result.update({"id": ids.ADDRESS + p.pos, "customer_id": cid, "country_name": country,
                       "default": True})  # fmt: skip
    else:
        result.update({"latitude": 40.0 + p.pos % 90 / 10, "longitude": -74.0 - p.pos % 50 / 10})
    return result


class Aggregates(NamedTuple):
    """What a customer record says about the customer's orders."""

    orders_count: int
    total_spent: int
    last_order_id: int | None
    last_order_name: str | None
    updated: int


def build_customer(p: Person, agg: Aggregates, currency: str) -> Record:
    cid = ids.CUSTOMER + p.pos
    created = iso(p.created)
    home = address(p)
    consent = "subscribed" if p.marketing else "not_subscribed"
    return {
        "id": cid, "email": p.email, "accepts_marketing": p.marketing, "created_at": created,
        "updated_at": iso(agg.updated), "first_name": p.first_name, "last_name": p.last_name,
        "orders_count": agg.orders_count, "state": "enabled",
        "total_spent": money(agg.total_spent), "last_order_id": agg.last_order_id,
        "note": None, "verified_email": True, "multipass_identifier": None,
        "tax_exempt": False, "phone": p.phone, "tags": "vip" if agg.orders_count > 4 else "",
        "last_order_name": agg.last_order_name, "currency": currency,
        "accepts_marketing_updated_at": created, "marketing_opt_in_level": None,
        "tax_exemptions": [],
        "email_marketing_consent": {"state": consent, "opt_in_level": "single_opt_in",
                                    "consent_updated_at": created},
        "sms_marketing_consent": None, "admin_graphql_api_id": ids.gid("Customer", cid),
        "addresses": [home], "default_address": home,
    }  # fmt: skip
