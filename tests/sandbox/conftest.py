"""Fixtures for the sandbox tests: one server per module over real HTTP, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.sandbox.server import SandboxHandle, running_sandbox

ADDRESS = {"address1": "1 Main St", "city": "Springfield", "country_code": "US"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with running_sandbox() as handle:
        yield handle


@pytest.fixture
def api(server: SandboxHandle) -> Iterator[httpx.Client]:
    """A client for /api/2026-10 on a freshly reset sandbox."""
    server.admin.reset()
    with server.client() as client:
        yield client


class Maker:
    """Creates commerce records through the API and returns their bodies (201/200 asserted)."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api

    def _ok(self, response: httpx.Response, key: str) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        return dict(response.json()[key])

    def product(self, external_id: str = "p1", **fields: Any) -> dict[str, Any]:
        body = {
            "external_id": external_id,
            "name": f"Product {external_id}",
            "price": {"amount": 1000, "currency_code": "USD"},
            "options": [{"position": 1, "name": "Color", "values": ["Red", "Blue"]}],
            **fields,
        }
        return self._ok(self.api.put("/products", json=body), "product")

    def variant(self, product_id: int, external_id: str = "v1", **fields: Any) -> dict[str, Any]:
        body = {
            "external_id": external_id,
            "name": "Red",
            "taxable": True,
            "options": [{"position": 1, "value": "Red"}],
            **fields,
        }
        return self._ok(
            self.api.put(f"/products/{product_id}/product-variants", json=body), "product_variant"
        )

    def location(self, external_id: str = "l1", **fields: Any) -> dict[str, Any]:
        body = {
            "external_id": external_id,
            "name": "Warehouse",
            "status": "active",
            "address": ADDRESS,
            **fields,
        }
        return self._ok(self.api.put("/locations", json=body), "location")

    def customer(self, external_id: str = "c1", **fields: Any) -> dict[str, Any]:
        body = {
            "external_id": external_id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+15550100",
            **fields,
        }
        return self._ok(self.api.put("/customers", json=body), "customer")

    @staticmethod
    def order_payload(product_id: int, external_id: str = "o1", **fields: Any) -> dict[str, Any]:
        """A valid 2026-10 order with two lines of one product."""
        return {
            "external_id": external_id,
            "name": f"#{external_id}",
            "status": "active",
            "taxes_included": False,
            "total_price": {"amount": 2000, "currency_code": "USD"},
            "created_at": "2024-03-01T15:00:00+00:00",
            "line_items": [
                {
                    "external_id": f"{external_id}-l{i}",
                    "product": {"id": product_id},
                    "unit_price": {"amount": 1000},
                    "taxable": True,
                    "quantity": 1,
                }
                for i in (1, 2)
            ],
            **fields,
        }


@pytest.fixture
def make(api: httpx.Client) -> Maker:
    return Maker(api)
