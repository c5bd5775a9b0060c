"""Which customer placed which order: a bijection-like spread computable in both directions.

Orders are cut into windows of WINDOW consecutive orders and customers into as many equal
groups; inside a window, order `local` belongs to customer `(local * step + offset) % group`.
So a customer's orders are found without a scan (for orders_count, total_spent), and a
customer's orders lie in one window, which keeps the caches warm when pages are listed in order.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

from examples.common import mix

WINDOW = 12288
K_WINDOW = 41


@lru_cache(maxsize=256)
def _step(group: int) -> tuple[int, int]:
    step = 1_000_003
    while gcd(step, group) != 1:
        step += 2
    return step, pow(step, -1, group)


class Assignment:
    """Maps order positions to customer positions and back, for one shop."""

    def __init__(self, orders: int, customers: int, seed: int) -> None:
        if customers < 1:
            raise ValueError("a shop needs at least one customer")
        self.orders, self.customers, self.seed = orders, customers, seed
        windows = max(1, -(-orders // WINDOW))
        self.windows = windows if customers >= windows else 1
        self.size = WINDOW if self.windows > 1 else max(orders, 1)

    def _group(self, w: int) -> tuple[int, int]:
        """First customer and number of customers of window w."""
        first = w * self.customers // self.windows
        return first, (w + 1) * self.customers // self.windows - first

    def customer_of(self, order: int) -> int:
        w, local = divmod(order, self.size)
        first, group = self._group(w)
        step, _ = _step(group)
        return first + (local * step + mix(self.seed, K_WINDOW, w) % group) % group

    def orders_of(self, customer: int) -> range:
        w = min(customer * self.windows // self.customers, self.windows - 1)
        while w + 1 < self.windows and self._group(w + 1)[0] <= customer:
            w += 1
        while self._group(w)[0] > customer:
            w -= 1
        first, group = self._group(w)
        _, inverse = _step(group)
        local = ((customer - first - mix(self.seed, K_WINDOW, w) % group) * inverse) % group
        start = w * self.size
        end = min(start + self.size, self.orders)
        return range(start + local, end, group)
