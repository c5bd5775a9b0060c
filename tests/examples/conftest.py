"""Fixtures for the demo platforms: a running shopify-like shop and the real Shopify fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.shopify_like import ShopHandle, running_shopify_like

FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures" / "shopify-rest"
SHOP_ORDERS, SHOP_SEED = 600, 7


@pytest.fixture(scope="session")
def shopify_fixture() -> Any:
    """Loads one of the real Shopify REST payloads by file name."""
    if not FIXTURES.is_dir():
        pytest.skip(f"the real Shopify REST fixtures are not beside the repository ({FIXTURES})")

    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopHandle]:
    """A read-mostly shop shared by a module's tests (600 orders: more than one 250-page)."""
    with running_shopify_like(orders=SHOP_ORDERS, seed=SHOP_SEED) as handle:
        yield handle


@pytest.fixture
def fresh_shop() -> Iterator[ShopHandle]:
    """A small shop of its own, for tests that write."""
    with running_shopify_like(orders=60, seed=11) as handle:
        yield handle


@pytest.fixture
def client(shop: ShopHandle) -> Iterator[httpx.Client]:
    with shop.client(timeout=30) as c:
        yield c


def walk(client: httpx.Client, path: str, params: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Every record of a list endpoint, following Link rel="next" to the end."""
    records: list[dict[str, Any]] = []
    response = client.get(path, params=params)
    while True:
        response.raise_for_status()
        records.extend(response.json()[key])
        nxt = response.links.get("next")
        if not nxt:
            return records
        response = client.get(nxt["url"])
