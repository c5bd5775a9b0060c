"""The benchmark's input: Shopify-like orders from the demo shop, as a list or as a stream.

The demo shop (examples/shopify_like) builds an order in a few milliseconds, too slow for
100k orders per run, so a pool of distinct orders spread over the shop is generated once and
order i is a copy of pool[i % len(pool)] with its own id, name and number. In the list each
order is parsed afresh from its JSON text (no two orders share an object); the stream, which
must cost little beside the mapping, gives a shallow copy (the mapping never mutates input).
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


def _number(order: Record, i: int) -> Record:
    order.update(id=5_000_000_000_000 + i, order_number=1001 + i, name=f"#{1001 + i}")
    return order


def order_at(pool: list[str], i: int) -> Record:
    """Order i: a deep, fresh copy of a pooled order with an id, name and number of its own."""
    return _number(json.loads(pool[i % len(pool)]), i)


def order_list(pool: list[str], n: int) -> list[Record]:
    return [order_at(pool, i) for i in range(n)]


def order_stream(pool: list[str], n: int) -> Iterator[Record]:
    """The same orders made one at a time, on demand: nothing but the pool is held."""
    records = [json.loads(text) for text in pool]
    for i in range(n):
        yield _number(dict(records[i % len(records)]), i)
