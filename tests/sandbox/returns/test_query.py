"""Return data pull endpoints over HTTP: Detailed Returns List, Get Return Details, ASN."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, api, create_return, sandbox, sync_order

_tags = itertools.count(3000)
LIST = "/warehouse/return/list"


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture(scope="module")
def big_order(sb: SandboxHandle) -> Order:
    """An order with 40 fulfilled units on its first line, enough for many returns."""
    return sync_order(sb, tag=str(next(_tags)), quantities=(40, 2))


def make(sb: SandboxHandle, order: Order, created_at: str | None = None, **extra: Any) -> int:
    if created_at is not None:
        extra["created_at"] = created_at
    return int(create_return(sb, order, {"line_item_id": order.lines[0]}, **extra)["id"])


@pytest.fixture(scope="module")
def august(sb: SandboxHandle, big_order: Order) -> int:
    """The only return created on 2025-08-01."""
    return make(sb, big_order, "2025-08-01T18:30:00Z")


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [int(r["id"]) for r in (body["returns"] if isinstance(body, dict) else body)]


def test_returns_list_default_is_the_last_24_hours(sb: SandboxHandle, big_order: Order) -> None:
    recent = make(sb, big_order)
    old = make(sb, big_order, "2026-01-01T00:00:00Z")
    found = ids(api(sb).get(LIST))
    assert recent in found and old not in found


def test_returns_list_is_a_bare_array_with_list_fields(sb: SandboxHandle, big_order: Order) -> None:
    make(sb, big_order, "2025-06-01T12:00:00Z")
    body = api(sb).get(LIST, params={"from": "2025-06-01 00:00:00", "to": "2025-06-02 00:00:00"})
    (item,) = body.json()
    assert item["created_at"] == "2025-06-01 12:00:00" and item["total"] == "31.65"
    assert {"line_items", "exchanges", "carrier", "label_status", "provider_order_id"} <= set(item)
    # Loop's returns list carries ids as strings.
    assert item["line_items"][0]["provider_line_item_id"] == str(big_order.lines[0])


def test_returns_list_default_states_and_state_filter(sb: SandboxHandle, big_order: Order) -> None:
    made = {
        state: make(sb, big_order, "2025-07-01T12:00:00Z", state=state)
        for state in ("open", "closed", "expired", "cancelled", "review")
    }
    window = {"from": "2025-07-01 00:00:00", "to": "2025-07-02 00:00:00"}
    default = ids(api(sb).get(LIST, params=window))
    assert sorted(default) == sorted(made[s] for s in ("open", "closed", "expired"))
    for state in ("cancelled", "review"):
        assert ids(api(sb).get(LIST, params={**window, "state": state})) == [made[state]]
    both = ids(api(sb).get(LIST, params={**window, "state": "cancelled,review"}))
    assert sorted(both) == sorted([made["cancelled"], made["review"]])


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("from=2025-08-01%2000:00:00&to=2025-08-01%2023:59:59", id="url-encoded space"),
        pytest.param("from=2025-08-01+00:00:00&to=2025-08-01+23:59:59", id="plus as space"),
        pytest.param("from=2025-08-01T00:00:00&to=2025-08-01T23:59:59", id="T separator"),
        pytest.param("from=2025-08-01&to=2025-08-01", id="bare dates are whole days"),
    ],
)
def test_returns_list_accepts_time_formats(sb: SandboxHandle, august: int, query: str) -> None:
    assert ids(api(sb).get(f"{LIST}?{query}")) == [august]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(
            {"from": "2025-01-01 00:00:00", "to": "2025-05-01 00:00:01"},
            "to",
            id="more than 120 days",
        ),
        pytest.param(
            {"from": "2025-05-01 00:00:00", "to": "2025-01-01 00:00:00"}, "from", id="from after to"
        ),
        pytest.param({"from": "yesterday"}, "from", id="bad format"),
        pytest.param({"filter": "shipped_at"}, "filter", id="unknown filter"),
        pytest.param({"state": "lost"}, "state", id="unknown state"),
        pytest.param({"paginate": "true", "pageSize": "751"}, "pageSize", id="page too big"),
        pytest.param({"paginate": "true", "pageSize": "0"}, "pageSize", id="page too small"),
        pytest.param({"paginate": "true", "cursor": "!!"}, "cursor", id="bad cursor"),
    ],
)
def test_returns_list_rejects_bad_queries(
    sb: SandboxHandle, params: dict[str, str], field: str
) -> None:
    response = api(sb).get(LIST, params=params)
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_returns_list_exactly_120_days_is_fine(sb: SandboxHandle) -> None:
    params = {"from": "2025-01-01 00:00:00", "to": "2025-05-01 00:00:00"}
    assert api(sb).get(LIST, params=params).status_code == 200


def test_returns_list_filter_updated_at(sb: SandboxHandle, big_order: Order) -> None:
    backdated = make(sb, big_order, "2025-09-01T00:00:00Z")
    assert api(sb).post(f"/warehouse/return/{backdated}/flag").status_code == 200
    assert backdated not in ids(api(sb).get(LIST, params={"state": "review"}))
    assert backdated in ids(api(sb).get(LIST, params={"state": "review", "filter": "updated_at"}))


def test_returns_list_paginates_forward_and_back(sb: SandboxHandle, big_order: Order) -> None:
    made = [make(sb, big_order, f"2025-10-01T00:{n:02d}:00Z") for n in range(23)]
    params = {
        "from": "2025-10-01 00:00:00",
        "to": "2025-10-02 00:00:00",
        "paginate": "true",
        "pageSize": "5",
    }
    page = api(sb).get(LIST, params=params).json()
    assert page["previousPageUrl"] is None
    pages = [page]
    while page["nextPageUrl"]:
        assert "cursor=" in page["nextPageUrl"]
        page = api(sb).get(page["nextPageUrl"]).json()
        pages.append(page)
    assert [len(p["returns"]) for p in pages] == [5, 5, 5, 5, 3]
    assert [int(r["id"]) for p in pages for r in p["returns"]] == made
    back = [page]
    while page["previousPageUrl"]:
        page = api(sb).get(page["previousPageUrl"]).json()
        back.append(page)
    assert [int(r["id"]) for p in reversed(back) for r in p["returns"]] == made


def test_returns_list_ids_as_strings_on_request(sb: SandboxHandle, big_order: Order) -> None:
    made = make(sb, big_order)
    body = api(sb).get(LIST, headers={"X-Loop-Global-Identifier-Type": "string"}).json()
    (item,) = [r for r in body if r["id"] == str(made)]
    assert item["order_id"] == str(big_order.id)


def test_returns_details_by_each_key(sb: SandboxHandle) -> None:
    order = sync_order(sb, tag=str(next(_tags)), quantities=(3, 1))
    first = make(sb, order, "2025-11-01T00:00:00Z")
    newest = make(sb, order, "2025-11-02T00:00:00Z")
    client = api(sb)
    by_id = client.get("/warehouse/return/details", params={"return_id": first}).json()
    assert by_id["id"] == str(first) and by_id["exchange"] is False
    line = by_id["line_items"][0]
    assert line["line_item_title"] == "Trail shoe" and line["variant_title"] == "Size 40"
    assert line["provider_restock_location_id"] is not None
    for key, value in (("order_id", order.id), ("order_name", order.name)):
        found = client.get("/warehouse/return/details", params={key: value})
        assert found.json()["id"] == str(newest), key
    shop = client.get(
        "/warehouse/return/details", params={"return_id": first, "currency_type": "presentment"}
    )
    assert shop.status_code == 200


@pytest.mark.parametrize(
    ("params", "status"),
    [
        pytest.param({}, 422, id="no key"),
        pytest.param({"return_id": "1"}, 404, id="unknown return"),
        pytest.param({"order_name": "#nope"}, 404, id="unknown order name"),
        pytest.param({"return_id": "1", "currency_type": "euro"}, 422, id="bad currency type"),
    ],
)
def test_returns_details_errors(sb: SandboxHandle, params: dict[str, str], status: int) -> None:
    response = api(sb).get("/warehouse/return/details", params=params)
    assert response.status_code == status
    if status == 404:
        assert response.json()["errors"]["code"] == "NOT_FOUND"


def test_returns_asn_has_one_row_per_returned_line(sb: SandboxHandle) -> None:
    order = sync_order(sb, tag=str(next(_tags)), quantities=(2, 1))
    created = create_return(
        sb,
        order,
        {"line_item_id": order.lines[0], "quantity": 2, "return_reason": "Fit"},
        {"line_item_id": order.lines[1], "outcome": "store_credit"},
        created_at="2025-12-01T08:00:00Z",
    )
    rows = (
        api(sb)
        .get(
            "/warehouse/reporting/asn",
            params={"from": "2025-12-01 00:00:00", "to": "2025-12-02 00:00:00"},
        )
        .json()
    )
    assert [r["return_line_item_id"] for r in rows] == [
        str(line["line_item_id"]) for line in created["line_items"]
    ]
    assert {r["id"] for r in rows} == {str(created["id"])}
    assert [r["outcome"] for r in rows] == ["refund", "refund", "store_credit"]
    assert rows[0]["purchase_price"] == "31.65" and rows[0]["customer_email"].startswith("ada.")
    too_long = api(sb).get(
        "/warehouse/reporting/asn",
        params={"from": "2025-01-01 00:00:00", "to": "2025-12-01 00:00:00"},
    )
    assert too_long.status_code == 422
