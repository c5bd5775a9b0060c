"""The sandbox under hostile input: auth before the body, a body size cap, a bounded request
log, Loop-style 4xx (never a 500 with Python's words) for bad parameters and bodies, and no
webhook aimed at its own admin API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from starlette.requests import Request

from engine.sandbox.app import _unexpected
from engine.sandbox.server import SandboxHandle, running_sandbox

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small() -> Iterator[SandboxHandle]:
    with running_sandbox(max_body_bytes=LIMIT, request_log_rows=5) as handle:
        yield handle


@pytest.fixture
def api(small: SandboxHandle) -> Iterator[httpx.Client]:
    small.admin.reset()
    with small.client() as client:
        yield client


def test_an_unauthenticated_body_is_refused_unread_and_not_stored(small: SandboxHandle) -> None:
    small.admin.reset()
    secret = b'{"external_id": "SECRET-PAYLOAD"}'
    with httpx.Client(base_url=f"{small.base_url}/api/2026-10") as anonymous:
        answer = anonymous.put("/products", content=secret, headers={"X-Authorization": "nope"})
    assert answer.status_code == 401
    [logged] = small.admin.requests()
    assert logged["status"] == 401
    assert "SECRET-PAYLOAD" not in str(logged)


def test_a_body_over_the_cap_is_413_and_not_stored(api: httpx.Client, small: SandboxHandle) -> None:
    answer = api.put("/products", content=b"[" + b" " * LIMIT + b"]")
    assert answer.status_code == 413
    assert "larger than" in answer.json()["message"]
    [logged] = small.admin.requests()
    assert logged["status"] == 413 and len(str(logged)) < 2000


def test_the_request_log_keeps_only_the_newest_rows(
    api: httpx.Client, small: SandboxHandle
) -> None:
    for _ in range(12):
        assert api.get("/products").status_code == 200
    assert 1 <= len(small.admin.requests()) <= 5


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/products?limit=--5", 422, id="double minus limit"),
        pytest.param("/products?limit=%C2%B2", 422, id="superscript limit"),
        pytest.param("/products/%C2%B2", 404, id="superscript id"),
        pytest.param("/products/" + "9" * 40, 404, id="id past 64 bits"),
        pytest.param("/warehouse/return/%C2%B2/process", 404, id="superscript return id"),
    ],
)
def test_odd_parameters_get_loop_style_4xx(api: httpx.Client, path: str, status: int) -> None:
    method = "POST" if path.endswith("/process") else "GET"
    answer = api.request(method, path)
    assert answer.status_code == status, answer.text
    assert "Traceback" not in answer.text and "ValueError" not in answer.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 30_000 + b"]" * 30_000, id="nested 30,000 deep"),
        pytest.param(b'{"external_id": "\\ud800"}', id="lone surrogate"),
        pytest.param(b"\xff\xfe not utf-8", id="not utf-8"),
    ],
)
def test_odd_bodies_get_400(api: httpx.Client, body: bytes) -> None:
    answer = api.put("/products", content=body)
    assert answer.status_code == 400, answer.text
    assert "message" in answer.json()


def test_a_bad_deliveries_timeout_is_422(small: SandboxHandle) -> None:
    answer = small.admin.get("/deliveries", params={"wait": "1", "timeout": "abc"})
    assert answer.status_code == 422
    assert "timeout" in answer.json()["errors"]


def test_a_webhook_may_not_target_the_admin_api(api: httpx.Client, small: SandboxHandle) -> None:
    body = {
        "topic": "return",
        "trigger": "return.created",
        "url": f"{small.base_url}/_sandbox/reset",
        "status": "active",
    }
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == 422
    assert "admin API" in answer.json()["errors"]["url"][0]


def test_an_unexpected_error_does_not_echo_python() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": []})
    response = asyncio.run(_unexpected(request, RuntimeError("secret internals")))
    assert response.status_code == 500
    assert b"secret internals" not in response.body
    assert b"UNEXPECTED_ERROR" in response.body


def test_an_amount_beyond_64_bits_is_422(api: httpx.Client) -> None:
    body = {"external_id": "p1", "name": "P", "price": {"amount": 10**20, "currency_code": "USD"}}
    answer = api.put("/products", json=body)
    assert answer.status_code == 422
    assert "price.amount" in answer.json()["errors"]
