"""The /_sandbox admin API: request log filters, records, reset, run-time knobs."""

from __future__ import annotations

import httpx

from engine.sandbox.server import SandboxHandle
from tests.sandbox.conftest import Maker


def test_admin_requests_filter_by_method_and_path(server: SandboxHandle, api: httpx.Client) -> None:
    api.put("/customers", json={"external_id": "c1"})
    api.get("/customers")
    api.get("/products")
    assert [r["method"] for r in server.admin.requests(method="get")] == ["GET", "GET"]
    assert [r["path"] for r in server.admin.requests(path="/api/2026-10/customers")] == [
        "/api/2026-10/customers",
        "/api/2026-10/customers",
    ]


def test_admin_records_lists_every_record_of_a_kind(
    server: SandboxHandle, api: httpx.Client, make: Maker
) -> None:
    product = make.product()
    make.variant(product["id"])
    assert [r["external_id"] for r in server.admin.records("product")] == ["p1"]
    assert [r["external_id"] for r in server.admin.records("variant")] == ["v1"]
    assert server.sandbox.get_record("product", product["id"])["default_variant_id"] is not None
    assert server.admin.records("order") == []


def test_admin_reset_wipes_records_log_and_knobs(
    server: SandboxHandle, api: httpx.Client, make: Maker
) -> None:
    make.product()
    server.admin.configure(latency_ms=5, fail_rate=0.0, rate_limit="100/s")
    server.admin.reset()
    assert server.admin.records("product") == []
    assert server.admin.requests() == []
    assert server.admin.get("/config").json() == {
        "rate_limit": "300/min",
        "fail_rate": 0.0,
        "latency_ms": 0,
        "seed": None,
    }


def test_admin_config_rejects_bad_values(server: SandboxHandle, api: httpx.Client) -> None:
    for body in ({"fail_rate": 2}, {"rate_limit": "fast"}, {"latency_ms": -1}, {"colour": 1}):
        response = server.admin.post("/config", json=body)
        assert response.status_code == 422, body
    assert server.admin.get("/config").json()["rate_limit"] == "300/min"


def test_admin_is_not_logged_nor_authenticated(server: SandboxHandle, api: httpx.Client) -> None:
    assert httpx.get(f"{server.base_url}/_sandbox/requests").status_code == 200
    assert server.admin.requests() == []
