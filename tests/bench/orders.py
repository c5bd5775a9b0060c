"""The benchmark's input: Shopify-like orders from the demo shop, as a list or as a stream.

The demo shop (examples/shopify_like) builds an order in a few milliseconds, too slow for
100k orders per run, so a pool of distinct orders spread over the shop is generated once and
order i is a fresh copy of pool[i % len(pool)] (parsed from its JSON text, so no two orders
share an object) with its own id, name and number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from examples.shopify_like.data import generate

Record = dict[str, Any]


def make_pool(orders: int, size: int, seed: int) -> list[str]:
    """JSON texts of `size` orders of a shop of `orders` orders, spread evenly over it."""
    shop = generate(orders=orders, seed=seed)
    step = max(orders // size, 1)
    return [json.dumps(shop.order(pos)) for pos in range(0, step * size, step)[:orders]]


def order_at(pool: list[str], i: int) -> Record:
    """Order i: a fresh copy of a pooled order with an id, name and number of its own."""
    order: Record = json.loads(pool[i % len(pool)])
    order["id"] = 5_000_000_000_000 + i
    order["order_number"] = 1001 + i
    order["name"] = f"#{1001 + i}"
    return order


def order_list(pool: list[str], n: int) -> list[Record]:
    return [order_at(pool, i) for i in range(n)]


def order_stream(pool: list[str], n: int) -> Iterator[Record]:
    """The same orders built one at a time, on demand: nothing but the pool is held."""
    for i in range(n):
        yield order_at(pool, i)
