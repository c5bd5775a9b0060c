"""The sandbox's bulk operations, and the ASSUMPTION they emulate (Loop documents the endpoints,
loop-api.md §6, but not the line format): a JSONL line is the single request it replaces,
`{"method", "path", "body"}`; each line gets a job `{"line", "status": succeeded|failed,
"http_code", "id", "result", "errors"}` with the single endpoint's answer or error; the
operation ends `completed` (`failed` when no line succeeded). If Loop's real format differs,
these tests and engine.loop.bulk change together."""

from __future__ import annotations

import json
from typing import Any

import httpx

from engine.sandbox.server import SandboxHandle
from tests.sandbox.conftest import Maker


def _upload(api: httpx.Client, lines: list[Any]) -> httpx.Response:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return api.post("/bulk-operations", files={"file": ("b.jsonl", text.encode(), "text/plain")})


def _jobs(api: httpx.Client, operation_id: int, **params: Any) -> dict[str, Any]:
    response = api.get(f"/bulk-operations/{operation_id}/jobs", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_bulk_lines_are_applied_as_their_single_requests_with_a_job_each(
    api: httpx.Client, make: Maker
) -> None:
    product = make.product()
    order = make.order_payload(product["id"])
    bad = {**make.order_payload(product["id"], "o2"), "total_price": "ten dollars"}
    created = _upload(api, [
        {"method": "PUT", "path": "/orders", "body": order},
        {"method": "PUT", "path": "/orders", "body": bad},
        "not json",
        {"method": "PUT", "path": f"/products/external/{product['external_id']}/product-variants",
         "body": {"external_id": "v9", "name": "Red", "taxable": True,
                  "options": [{"position": 1, "value": "Red"}]}},
    ])  # fmt: skip

    assert created.status_code == 201, created.text
    operation = created.json()["bulk_operation"]
    assert (operation["status"], operation["lines"]) == ("completed", 4)
    assert (operation["succeeded"], operation["failed"]) == (2, 2)
    jobs = _jobs(api, operation["id"])["jobs"]
    assert [(j["line"], j["status"], j["http_code"]) for j in jobs] == [
        (1, "succeeded", 200), (2, "failed", 422), (3, "failed", 400), (4, "succeeded", 200)
    ]  # fmt: skip
    stored = api.get("/orders/external/o1").json()["order"]
    assert jobs[0]["id"] == stored["id"] and jobs[0]["result"] == stored  # the single answer
    assert "total_price" in jobs[1]["errors"]["errors"]  # the single endpoint's 422 body
    assert api.get("/orders/external/o2").status_code == 404
    variant = jobs[3]["result"]
    assert variant["external_id"] == "v9" and variant["product"]["id"] == product["id"]


def test_bulk_operation_and_its_jobs_are_read_back_page_by_page(
    api: httpx.Client, make: Maker
) -> None:
    lines = [
        {"method": "PUT", "path": "/customers", "body": {"external_id": f"c{i}", "email": None}}
        for i in range(5)
    ]
    operation = _upload(api, lines).json()["bulk_operation"]

    assert api.get(f"/bulk-operations/{operation['id']}").json()["bulk_operation"] == operation
    listed = api.get("/bulk-operations").json()
    assert [o["id"] for o in listed["bulk_operations"]] == [operation["id"]]
    first = _jobs(api, operation["id"], limit=2)
    assert [j["line"] for j in first["jobs"]] == [1, 2] and first["previous_page_url"] is None
    second = api.get(first["next_page_url"]).json()
    third = api.get(second["next_page_url"]).json()
    assert [j["line"] for j in second["jobs"] + third["jobs"]] == [3, 4, 5]
    assert third["next_page_url"] is None
    assert len(api.get("/customers").json()["customers"]) == 5


def test_bulk_upload_without_a_file_or_with_only_bad_lines(api: httpx.Client) -> None:
    missing = api.post("/bulk-operations", json={"lines": []})
    assert missing.status_code == 422 and "file" in missing.json()["errors"]
    nowhere = _upload(api, [{"method": "PUT", "path": "/nowhere", "body": {}}])
    operation = nowhere.json()["bulk_operation"]
    assert operation["status"] == "failed"
    assert _jobs(api, operation["id"])["jobs"][0]["http_code"] == 404
    assert api.get("/bulk-operations/12345").status_code == 404


def test_bulk_upload_is_one_request_for_the_gate(server: SandboxHandle, api: httpx.Client) -> None:
    before = len(server.admin.requests())
    lines = [
        {"method": "PUT", "path": "/customers", "body": {"external_id": f"c{i}"}} for i in range(3)
    ]
    _upload(api, lines)
    logged = server.admin.requests()[before:]
    assert [(r["method"], r["path"]) for r in logged] == [("POST", "/api/2026-10/bulk-operations")]
