"""`include` with `when`: a record's sub-resource is fetched only when the record needs it, so
a backfill pays no request for the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.http import HttpConnector
from engine.errors import ConfigError
from examples.shopify_like import running_shopify_like

FIRST = 400_000_000_000  # the demo's first custom collection


def _extract(shop: Any, include: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    source = {
        "connector": "http",
        "base_url": shop.api_url,
        "auth": {"type": "header", "name": "X-Shopify-Access-Token", "value": "demo"},
        "pagination": {"type": "link_header"},
    }
    extract = {"path": "/custom_collections.json", "records": "custom_collections",
               "include": [include]}  # fmt: skip
    with HttpConnector(source, Path.cwd()) as connector:
        pages = connector.extract(ExtractRequest("collections", extract))
        records = [r for page in pages for r in page.records]
        return records, connector.requests


def test_http_include_when_fetches_only_for_the_records_that_need_it() -> None:
    collects = {"field": "collects", "path": "/collects.json",
                "params": {"collection_id": "{id}"}, "records": "collects"}  # fmt: skip
    with running_shopify_like(orders=10, seed=1) as shop:
        every, every_requests = _extract(shop, collects)
        some, some_requests = _extract(shop, {**collects, "when": f"id == `{FIRST}`"})
    assert len(every) == len(some) == 5
    assert every_requests == 1 + 5  # the listing, then one include per collection
    assert some_requests == 1 + 1  # the listing, then the one collection asked for
    assert [r["id"] for r in some if "collects" in r] == [FIRST]
    assert next(r for r in some if r["id"] == FIRST)["collects"]


def test_http_include_with_a_broken_when_says_which_include() -> None:
    with running_shopify_like(orders=10, seed=1) as shop, pytest.raises(ConfigError) as err:
        _extract(shop, {"field": "collects", "path": "/collects.json", "when": "id =="})
    assert "include 'collects': when:" in str(err.value)
