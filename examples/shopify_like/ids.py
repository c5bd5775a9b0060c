"""Id spaces of the shopify-like demo: every id is a base plus a position, so it is computable.

Positions are dense per table, so `id - base` finds a record without an index. All ids stay
below 2**53 (JavaScript-safe), like Shopify's.
"""

from __future__ import annotations

LOCATION = 60_000_000_000
COLLECTION = 400_000_000_000
COLLECT = 410_000_000_000
REFUND = 900_000_000_000
REFUND_LINE = 1_000_000_000_000
FULFILLMENT = 4_500_000_000_000
ORDER = 5_000_000_000_000
TRANSACTION = 5_500_000_000_000
CUSTOMER = 6_000_000_000_000
ADDRESS = 6_100_000_000_000
PRODUCT = 7_000_000_000_000
VARIANT = 7_100_000_000_000
INVENTORY_ITEM = 7_200_000_000_000
IMAGE = 7_300_000_000_000
OPTION = 7_350_000_000_000
# Records created at run time (refunds, their lines, new orders' lines, ...) take ids from here.
RUNTIME = 8_000_000_000_000
LINE_ITEM = 14_000_000_000_000

MAX_VARIANTS = 4  # variant slot = product position * MAX_VARIANTS + variant index
MAX_LINES = 8  # line slot = order position * MAX_LINES + line index


def gid(kind: str, value: int) -> str:
    """Shopify's GraphQL id beside every REST id."""
    return f"gid://shopify/{kind}/{value}"
