"""Webhook subscriptions API over HTTP: create, list, update, delete, validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import api, sandbox

URL = "https://hooks.example.com/loop/returns"


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


def test_webhooks_create_defaults_to_inactive(sb: SandboxHandle) -> None:
    response = api(sb).post(
        "/webhooks", json={"topic": "return", "trigger": "return.created", "url": URL}
    )
    assert response.status_code == 201
    hook = response.json()
    assert set(hook) == {"id", "shop_id", "topic", "trigger", "url", "status"}
    assert hook["status"] == "inactive" and hook["id"] > 2**53
    assert hook["topic"] == "return" and hook["url"] == URL


@pytest.mark.parametrize(
    ("topic", "trigger"),
    [
        pytest.param("return", "return.closed", id="return"),
        pytest.param("label", "label.updated", id="label"),
        pytest.param("restock", "restock.requested", id="restock"),
        pytest.param("label.request", "label.request.cancelled", id="label request"),
        pytest.param("giftcard", "giftcard.requested", id="gift card"),
        pytest.param("happy.returns.shipment", "shipment.processed", id="happy returns"),
        pytest.param(
            "return.processing", "return.processing.failed", id="return processing failed"
        ),
    ],
)
def test_webhooks_create_accepts_every_documented_pair(
    sb: SandboxHandle, topic: str, trigger: str
) -> None:
    body = {"topic": topic, "trigger": trigger, "url": URL, "status": "active"}
    response = api(sb).post("/webhooks", json=body)
    assert response.status_code == 201 and response.json()["status"] == "active"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({}, {"topic", "trigger", "url"}, id="all missing"),
        pytest.param(
            {"topic": "orders", "trigger": "return.created", "url": URL},
            {"topic"},
            id="unknown topic",
        ),
        pytest.param(
            {"topic": "label", "trigger": "return.created", "url": URL},
            {"trigger"},
            id="trigger of another topic",
        ),
        pytest.param(
            {"topic": "return", "trigger": "return.created", "url": "ftp://x"},
            {"url"},
            id="not an http url",
        ),
        pytest.param(
            {"topic": "return", "trigger": "return.created", "url": URL, "status": "on"},
            {"status"},
            id="unknown status",
        ),
    ],
)
def test_webhooks_create_rejects_bad_bodies(
    sb: SandboxHandle, body: dict[str, Any], fields: set[str]
) -> None:
    response = api(sb).post("/webhooks", json=body)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == fields and response.json()["message"]


def test_webhooks_create_rejects_malformed_json(sb: SandboxHandle) -> None:
    response = api(sb).post(
        "/webhooks", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_webhooks_list_update_delete_round_trip(sb: SandboxHandle) -> None:
    client = api(sb)
    hook = client.post(
        "/webhooks", json={"topic": "return", "trigger": "return.updated", "url": URL}
    ).json()
    listed = client.get("/webhooks").json()["webhooks"]
    assert hook in listed
    update = {"topic": "return", "trigger": "return.closed", "url": URL + "/v2", "status": "active"}
    assert client.put(f"/webhooks/{hook['id']}", json=update).status_code == 204
    (stored,) = [h for h in client.get("/webhooks").json()["webhooks"] if h["id"] == hook["id"]]
    assert stored == {**hook, **update}
    partial = client.put(f"/webhooks/{hook['id']}", json={"topic": "return"})
    assert partial.status_code == 422
    assert client.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert hook["id"] not in [h["id"] for h in client.get("/webhooks").json()["webhooks"]]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_webhooks_unknown_id_is_404(sb: SandboxHandle, method: str) -> None:
    body = {"topic": "return", "trigger": "return.closed", "url": URL}
    response = api(sb).request(method, "/webhooks/12345", json=body)
    assert response.status_code == 404
    assert response.json()["errors"]["code"] == "NOT_FOUND"


def test_webhooks_need_an_api_key(sb: SandboxHandle) -> None:
    import httpx

    response = httpx.get(f"{sb.api_url()}/webhooks")
    assert response.status_code == 401
