"""The /_sandbox admin API: its index, request log filters, records, reset, run-time knobs."""

from __future__ import annotations

from pathlib import Path

import httpx

from engine.sandbox.server import AdminClient, SandboxHandle
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
    server.admin.configure(webhook_duplicate_rate=1.0, process_fail_rate=0.5)
    server.admin.reset()
    assert server.admin.records("product") == []
    assert server.admin.requests() == []
    assert server.admin.get("/config").json() == {
        "rate_limit": "300/min",
        "fail_rate": 0.0,
        "latency_ms": 0,
        "seed": None,
        "webhook_duplicate_rate": 0.0,
        "webhook_reorder_rate": 0.0,
        "webhook_reorder_delay_s": 2.0,
        "process_fail_rate": 0.0,
    }


def test_admin_config_rejects_bad_values(server: SandboxHandle, api: httpx.Client) -> None:
    for body in (
        {"fail_rate": 2},
        {"rate_limit": "fast"},
        {"latency_ms": -1},
        {"colour": 1},
        {"webhook_duplicate_rate": 1.5},
        {"webhook_reorder_rate": -0.1},
        {"webhook_reorder_delay_s": -1},
        {"process_fail_rate": 2},
        {"webhook_retries": 0},
    ):
        response = server.admin.post("/config", json=body)
        assert response.status_code == 422, body
    assert server.admin.get("/config").json()["rate_limit"] == "300/min"


def test_admin_is_not_logged_nor_authenticated(server: SandboxHandle, api: httpx.Client) -> None:
    assert httpx.get(f"{server.base_url}/_sandbox/requests").status_code == 200
    assert server.admin.requests() == []


def test_admin_index_lists_every_admin_endpoint(server: SandboxHandle, api: httpx.Client) -> None:
    for path in ("/_sandbox", "/_sandbox/"):
        response = httpx.get(f"{server.base_url}{path}")
        assert response.status_code == 200, path
        index = response.json()
        assert index["api"] == server.api_url()
        listed = {(m, e["path"]) for e in index["endpoints"] for m in e["methods"]}
        assert all(e["description"] for e in index["endpoints"])
        assert {
            ("GET", "/_sandbox"),
            ("GET", "/_sandbox/requests"),
            ("GET", "/_sandbox/records/{kind}"),
            ("POST", "/_sandbox/reset"),
            ("GET", "/_sandbox/config"),
            ("POST", "/_sandbox/config"),
            ("POST", "/_sandbox/returns"),
            ("GET", "/_sandbox/returns"),
            ("GET", "/_sandbox/returns/{id}"),
            ("POST", "/_sandbox/returns/{id}/expire"),
            ("POST", "/_sandbox/returns/{id}/label"),
            ("POST", "/_sandbox/returns/{id}/deliver"),
            ("GET", "/_sandbox/deliveries"),
            ("POST", "/_sandbox/deliveries/flush"),
        } == listed


def test_admin_readme_documents_every_admin_endpoint_and_helper(server: SandboxHandle) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The Loop sandbox", 1)[1].split("\n## ", 1)[0]
    index = httpx.get(f"{server.base_url}/_sandbox").json()
    missing = [
        f"{method} {e['path']}"
        for e in index["endpoints"]
        for method in e["methods"]
        if f"`{method} {e['path']}`" not in section
    ]
    assert not missing, f"admin endpoints missing from the README: {missing}"
    helpers = ["running_sandbox(", "AdminClient", "SandboxHandle"]
    helpers += [f"{name}(" for name in vars(AdminClient) if not name.startswith("_")]
    helpers += [f"{name}" for name in ("base_url", "api_url(", "client(", "api_key", "sandbox")]
    assert not [h for h in helpers if f"`{h}" not in section and f".{h}" not in section]
