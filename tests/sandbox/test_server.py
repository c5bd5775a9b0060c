"""The gate every /api request passes and the server lifecycle, through real HTTP."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from engine.sandbox.core import API_VERSIONS, UNAUTHORIZED_BODY
from engine.sandbox.server import SandboxHandle, running_sandbox
from tests.sandbox.conftest import Maker


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no key"),
        pytest.param({"X-Authorization": "wrong"}, id="wrong key"),
        pytest.param({"Authorization": "Bearer sandbox"}, id="bearer instead of x-authorization"),
    ],
)
def test_server_rejects_missing_or_wrong_key(
    server: SandboxHandle, api: httpx.Client, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{server.api_url()}/products", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED_BODY


@pytest.mark.parametrize("version", API_VERSIONS)
def test_server_serves_every_version(
    server: SandboxHandle, api: httpx.Client, version: str
) -> None:
    with server.client(version) as client:
        response = client.get("/products")
    assert response.status_code == 200
    assert response.json() == {"products": [], "next_page_url": None, "previous_page_url": None}


def test_server_unknown_version_or_path_is_404(server: SandboxHandle, api: httpx.Client) -> None:
    with server.client("2020-01") as client:
        response = client.get("/products")
    assert response.status_code == 404
    assert response.json()["errors"]["code"] == "NOT_FOUND"
    missing = api.get("/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["errors"]["code"] == "NOT_FOUND"


def test_server_ids_are_exact_integers_above_2_53_or_strings(
    api: httpx.Client, make: Maker
) -> None:
    product = make.product()
    assert isinstance(product["id"], int) and product["id"] > 2**53
    raw = api.get(f"/products/{product['id']}").text
    assert f'"id":{product["id"]}' in raw
    as_strings = api.get(
        f"/products/{product['id']}", headers={"X-Loop-Global-Identifier-Type": "string"}
    ).json()["product"]
    assert as_strings["id"] == str(product["id"])
    by_string = api.get(f"/products/{as_strings['id']}")
    assert by_string.json()["product"]["id"] == product["id"]


def test_server_malformed_json_is_400(api: httpx.Client) -> None:
    for content in (b"{not json", b"[1, 2]"):
        response = api.put(
            "/products", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "message" in response.json()


def test_server_rate_limit_answers_429_once_over(server: SandboxHandle, api: httpx.Client) -> None:
    server.admin.configure(rate_limit="5/s")
    statuses = [api.get("/products").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert api.get("/products").json() == {"message": "Too Many Attempts."}
    with server.client(headers={"X-Authorization": "wrong"}) as stranger:
        assert stranger.get("/products").status_code == 401
    logged = [r["status"] for r in server.admin.requests()]
    assert logged == [200] * 5 + [429, 429, 401]


def _fault_sequence(server: SandboxHandle, seed: int, count: int = 30) -> list[str]:
    server.admin.reset()
    server.admin.configure(fail_rate=0.5, seed=seed)
    seen = []
    with server.client() as client:
        for _ in range(count):
            try:
                response = client.get("/products")
                seen.append(str(response.status_code))
            except httpx.TransportError as exc:
                seen.append(type(exc).__name__)
    return seen


def test_server_faults_are_reproducible_with_a_seed(server: SandboxHandle) -> None:
    first = _fault_sequence(server, seed=7)
    assert first == _fault_sequence(server, seed=7)
    assert first != _fault_sequence(server, seed=8)
    assert {"200", "500", "RemoteProtocolError"} == set(first)


def test_server_fault_bodies_and_log(server: SandboxHandle) -> None:
    sequence = _fault_sequence(server, seed=7)
    logged = server.admin.requests()
    assert len(logged) == len(sequence)
    for seen, row in zip(sequence, logged, strict=True):
        if seen == "RemoteProtocolError":
            assert (row["status"], row["fault"]) == (None, "dropped")
        else:
            assert row["status"] == int(seen)
            assert row["fault"] == ("error" if seen == "500" else None)
    server.admin.configure(fail_rate=1.0, seed=1)
    with server.client() as client:
        for _ in range(10):
            try:
                response = client.get("/products")
            except httpx.TransportError:
                continue
            assert response.json() == {
                "errors": {"code": "UNEXPECTED_ERROR", "message": "Sandbox fault injection."}
            }


def test_server_dropped_connection_still_applies_the_write(server: SandboxHandle) -> None:
    server.admin.reset()
    server.admin.configure(fail_rate=1.0, seed=3)
    outcomes = []
    with server.client() as client:
        for i in range(12):
            try:
                client.put("/customers", json={"external_id": f"c{i}"})
                outcomes.append("answered")
            except httpx.RemoteProtocolError:
                outcomes.append("dropped")
    stored = {c["external_id"] for c in server.admin.records("customer")}
    assert stored == {f"c{i}" for i, o in enumerate(outcomes) if o == "dropped"}
    assert "answered" in outcomes and "dropped" in outcomes


def test_server_latency_is_added(server: SandboxHandle, api: httpx.Client) -> None:
    server.admin.configure(latency_ms=150)
    started = time.monotonic()
    assert api.get("/products").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_server_logs_every_request_in_order_without_the_key(
    server: SandboxHandle, api: httpx.Client
) -> None:
    api.put("/customers", json={"external_id": "c1", "email": "a@example.com"})
    api.get("/customers", params={"external_id": "c1"})
    api.put("/customers", content=b"{broken")
    logged = server.admin.requests()
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("PUT", "/api/2026-10/customers", 200),
        ("GET", "/api/2026-10/customers", 200),
        ("PUT", "/api/2026-10/customers", 400),
    ]
    assert logged[0]["json"] == {"external_id": "c1", "email": "a@example.com"}
    assert logged[1]["query"] == "external_id=c1"
    assert logged[2]["body"] == "{broken"
    assert [r["seq"] for r in logged] == sorted(r["seq"] for r in logged)
    for row in logged:
        assert "x-authorization" not in row["headers"]
        assert "sandbox" not in json.dumps(row["headers"])


def test_server_file_database_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.duckdb")
    with running_sandbox(db_path=db) as first, first.client() as client:
        product = client.put("/products", json={"external_id": "p1", "name": "Shirt"}).json()
        customer = client.put("/customers", json={"external_id": "c1"}).json()
    with running_sandbox(db_path=db) as second, second.client() as client:
        assert client.get(f"/products/{product['product']['id']}").json() == product
        assert client.get("/customers/external/c1").json() == customer
        newer = client.put("/products", json={"external_id": "p2", "name": "Hat"}).json()
        assert newer["product"]["id"] > customer["customer"]["id"]
        # The request log survives too: two requests before the restart, three after.
        assert [r["seq"] for r in second.admin.requests()] == [1, 2, 3, 4, 5]


def test_server_starts_and_stops_quickly_without_leaks() -> None:
    before = set(threading.enumerate())
    started = time.monotonic()
    with running_sandbox() as handle, handle.client() as client:
        assert client.get("/products").status_code == 200
        port = int(handle.base_url.rsplit(":", 1)[1])
    assert time.monotonic() - started < 5.0  # generous: a shared machine; hangs are the bug
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/2026-10/products", timeout=1)
