"""`extract.count`: the source's own count becomes every page's total (progress and ETA)."""

from __future__ import annotations

from pathlib import Path

from connectors.base import ExtractRequest
from connectors.http import HttpConnector
from examples.shopify_like import running_shopify_like


def test_http_count_endpoint_gives_each_page_the_total(tmp_path: Path) -> None:
    with running_shopify_like(orders=60, seed=2) as shop:
        source = {
            "connector": "http",
            "base_url": shop.api_url,
            "page_size": 7,
            "auth": {"type": "header", "name": "X-Shopify-Access-Token", "value": "demo"},
            "pagination": {"type": "link_header"},
        }
        extract = {
            "path": "/customers.json",
            "records": "customers",
            "count": {"path": "/customers/count.json", "value": "count"},
        }
        with HttpConnector(source, tmp_path) as connector:
            pages = list(connector.extract(ExtractRequest("customers", extract)))
            without = list(
                connector.extract(
                    ExtractRequest("customers", {"path": "/customers.json", "records": "customers"})
                )
            )
    records = sum(len(p.records) for p in pages)
    assert records == 20 and len(pages) == 3
    assert {p.total for p in pages} == {records}
    assert {p.total for p in without} == {None}
