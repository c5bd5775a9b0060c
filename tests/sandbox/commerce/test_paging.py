"""Cursor pagination of the Commerce Data lists through real HTTP (commerce/paging.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.sandbox.commerce.common import Store
from engine.sandbox.server import SandboxHandle


@pytest.mark.parametrize(
    "query, field",
    [
        pytest.param("limit=0", "limit", id="limit 0"),
        pytest.param("limit=251", "limit", id="limit 251"),
        pytest.param("limit=x", "limit", id="limit not a number"),
        pytest.param("sort_order=up", "sort_order", id="bad sort order"),
        pytest.param("cursor=garbage", "cursor", id="bad cursor"),
    ],
)
def test_commerce_pagination_rejects_bad_parameters(
    api: httpx.Client, query: str, field: str
) -> None:
    response = api.get(f"/products?{query}")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


def _seed_customers(server: SandboxHandle, count: int) -> list[int]:
    """Many records at once straight into the store: pagination is what is tested here."""
    with server.sandbox.transaction() as db:
        store = Store(server.sandbox, db)
        ids = store.new_ids(count)
        for i, loop_id in enumerate(ids):
            store.put("customer", {"id": loop_id, "external_id": f"c{i:03}"})
    return ids


def _walk(api: httpx.Client, url: str, key: str) -> tuple[list[int], list[Any]]:
    seen, pages = [], []
    next_url: str | None = url
    while next_url:
        page = api.get(next_url).json()
        pages.append(page)
        seen.extend(r["id"] for r in page[key])
        next_url = page["next_page_url"]
    return seen, pages


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_commerce_pagination_round_trip(
    server: SandboxHandle, api: httpx.Client, order: str
) -> None:
    ids = _seed_customers(server, 260)
    seen, pages = _walk(api, f"/customers?limit=250&sort_order={order}", "customers")
    assert seen == (ids if order == "asc" else ids[::-1])
    assert [len(p["customers"]) for p in pages] == [250, 10]
    assert pages[0]["previous_page_url"] is None and pages[1]["next_page_url"] is None
    assert pages[1]["next_page_url"] is None
    assert pages[0]["next_page_url"].startswith(f"{server.api_url()}/customers?")
    back = api.get(pages[1]["previous_page_url"]).json()
    assert [c["id"] for c in back["customers"]] == [c["id"] for c in pages[0]["customers"]]


def test_commerce_pagination_default_limit_keeps_filters(
    server: SandboxHandle, api: httpx.Client
) -> None:
    _seed_customers(server, 120)
    seen, pages = _walk(api, "/customers", "customers")
    assert [len(p["customers"]) for p in pages] == [50, 50, 20]
    assert len(set(seen)) == 120
    filtered = api.get("/customers", params={"external_id": "c007"}).json()
    assert [c["external_id"] for c in filtered["customers"]] == ["c007"]
