"""Deterministic building blocks shared by the demo platforms: hashing, names, places, money, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

MASK64 = (1 << 64) - 1
# The demo shop keeps its clock at UTC-05:00 all year (a real Shopify shop in New York would
# switch to -04:00 in summer); every timestamp it serves carries this offset.
SHOP_TZ = timezone(timedelta(hours=-5))
# Generated history: the catalogue exists before 2024, orders are spread over 2024.
CATALOG_START = int(datetime(2023, 6, 1, tzinfo=UTC).timestamp())
ORDERS_START = int(datetime(2024, 1, 1, 5, tzinfo=UTC).timestamp())
ORDERS_SPAN = 360 * 86400

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Ethan", "Harper", "Aiden", "Chloe", "Leo", "Nora", "Hiroshi",
    "Zoé", "Jörg", "Ana", "Kwame", "Priya", "Mohammed", "Sofía", "Chen", "Fatima", "Oscar",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Lee", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Nguyen",
    "Müller", "O'Brien", "Dubois", "Rossi", "Tanaka", "Okafor", "Kowalski", "Silva", "Patel",
)  # fmt: skip
STREETS = ("Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Street", "Park Road",
           "Lakeview Terrace", "Hillcrest Way", "Sunset Boulevard", "River Road")  # fmt: skip
# (city, province, province_code, zip prefix, country, country_code, tax rate per mille)
PLACES = (
    ("New York", "New York", "NY", "100", "United States", "US", 88),
    ("Brooklyn", "New York", "NY", "112", "United States", "US", 88),
    ("Louisville", "Kentucky", "KY", "402", "United States", "US", 60),
    ("Austin", "Texas", "TX", "787", "United States", "US", 82),
    ("Portland", "Oregon", "OR", "972", "United States", "US", 0),
    ("Chicago", "Illinois", "IL", "606", "United States", "US", 102),
    ("Denver", "Colorado", "CO", "802", "United States", "US", 81),
    ("Seattle", "Washington", "WA", "981", "United States", "US", 101),
    ("Boston", "Massachusetts", "MA", "021", "United States", "US", 62),
    ("Miami", "Florida", "FL", "331", "United States", "US", 70),
)  # fmt: skip


def mix(*parts: int) -> int:
    """A 64-bit hash of integers: FNV-style combine, splitmix64 finaliser; stable everywhere."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h * 0x100000001B3 + part) & MASK64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK64
    return h ^ (h >> 31)


def money(cents: int) -> str:
    """Integer cents -> Shopify's decimal string ("1299" -> "12.99")."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def money_thousands(cents: int) -> str:
    """Integer cents -> an ERP's display string with thousands separators ("1,299.00")."""
    return f"{cents // 100:,}.{cents % 100:02d}"


def iso(ts: int) -> str:
    """Epoch seconds -> "2024-03-01T10:00:00-05:00" in the shop's timezone."""
    return datetime.fromtimestamp(ts, SHOP_TZ).isoformat()


def naive_local(ts: int) -> str:
    """Epoch seconds -> "2024-03-01 10:00:00" (shop-local wall time, no offset), as ERPs export."""
    # isoformat is several times faster than strftime, and this runs for every exported row.
    return datetime.fromtimestamp(ts, SHOP_TZ).isoformat(" ")[:19]


def parse_time(text: str) -> int:
    """An ISO 8601 timestamp or date (offset optional; naive means shop time) -> epoch seconds."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHOP_TZ)
    return int(value.timestamp())


def round_div(numerator: int, denominator: int) -> int:
    """Integer division rounding half up (money maths without floats)."""
    return (2 * numerator + denominator) // (2 * denominator)
