"""Return actions over HTTP: the state machine, every documented error, notes, remove items."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, api, create_return, flush, sandbox, sync_order

_tags = itertools.count(4000)


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture(scope="module")
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)), quantities=(60, 60))


def make(sb: SandboxHandle, order: Order, state: str = "open", *lines: dict[str, Any]) -> int:
    lines = lines or ({"line_item_id": order.lines[0]},)
    return int(create_return(sb, order, *lines, state=state)["id"])


def state_of(sb: SandboxHandle, return_id: int) -> str:
    return str(sb.admin.get(f"/returns/{return_id}").json()["state"])


UNPROCESSABLE = {"code": "UNPROCESSABLE_RETURN"}
FLAGGED = {"code": "UNPROCESSABLE_FLAGGED_RETURN"}


@pytest.mark.parametrize(
    ("action", "start", "error", "end"),
    [
        pytest.param("flag", "open", None, "review", id="flag open -> review"),
        pytest.param("flag", "review", FLAGGED, "review", id="flag review"),
        pytest.param("flag", "closed", UNPROCESSABLE, "closed", id="flag closed"),
        pytest.param("cancel", "open", None, "cancelled", id="cancel open"),
        pytest.param("cancel", "review", FLAGGED, "review", id="flagged cannot be cancelled"),
        pytest.param(
            "cancel", "expired", UNPROCESSABLE, "expired", id="expired cannot be cancelled"
        ),
        pytest.param("cancel", "closed", UNPROCESSABLE, "closed", id="cancel closed"),
        pytest.param("cancel", "cancelled", UNPROCESSABLE, "cancelled", id="cancel twice"),
        pytest.param("close", "open", None, "closed", id="close open"),
        pytest.param("close", "review", None, "closed", id="close review"),
        pytest.param("close", "closed", UNPROCESSABLE, "closed", id="close closed"),
        pytest.param("close", "cancelled", UNPROCESSABLE, "cancelled", id="close cancelled"),
        pytest.param("process", "review", FLAGGED, "review", id="process flagged"),
        pytest.param("process", "closed", UNPROCESSABLE, "closed", id="process closed"),
        pytest.param("process", "expired", UNPROCESSABLE, "expired", id="process expired"),
    ],
)
def test_return_actions_state_machine(
    sb: SandboxHandle,
    order: Order,
    action: str,
    start: str,
    error: dict[str, str] | None,
    end: str,
) -> None:
    """Loop answers an action its state forbids with HTTP 200 and an error body (was 422)."""
    return_id = make(sb, order, start)
    response = api(sb).post(f"/warehouse/return/{return_id}/{action}")
    assert response.status_code == 200, response.text
    if error is None:
        assert response.json() == "true"
    else:
        body = response.json()["errors"]
        assert body["code"] == error["code"] and body["message"]
    flush(sb)
    assert state_of(sb, return_id) == end


def test_return_actions_refusal_texts_are_loops(sb: SandboxHandle, order: Order) -> None:
    return_id = make(sb, order, "closed")
    response = api(sb).post(f"/warehouse/return/{return_id}/process")
    assert response.status_code == 200
    assert response.json() == {
        "errors": {
            "message": "Return is closed and therefore cannot be processed.",
            "code": "UNPROCESSABLE_RETURN",
        }
    }


def test_return_actions_process_is_queued_then_closes(sb: SandboxHandle, order: Order) -> None:
    return_id = make(sb, order)
    response = api(sb).post(
        f"/warehouse/return/{return_id}/process", json={"erp_credit_memo": "CM-1"}
    )
    assert response.status_code == 200 and response.json() == "true"
    flush(sb)
    stored = sb.admin.get(f"/returns/{return_id}").json()
    assert stored["state"] == "closed"
    assert stored["additional_details"] == {"erp_credit_memo": "CM-1"}
    assert all(line["returned_at"] for line in stored["line_items"])
    # On Loop Anywhere the integrator refunds on its own platform: Loop fills no refunds[].
    assert stored["refunds"] == []
    details = api(sb).get("/warehouse/return/details", params={"return_id": return_id}).json()
    assert details["refunds"] == [] and details["refund"] == "31.65"


def test_return_actions_process_cancelled_answers_200_with_message(
    sb: SandboxHandle, order: Order
) -> None:
    return_id = make(sb, order, "cancelled")
    response = api(sb).post(f"/warehouse/return/{return_id}/process")
    assert response.status_code == 200
    assert response.json() == {"message": "Return is cancelled and therefore cannot be processed."}
    assert state_of(sb, return_id) == "cancelled"


def test_return_actions_process_rejects_non_object_details(sb: SandboxHandle, order: Order) -> None:
    return_id = make(sb, order)
    response = api(sb).post(f"/warehouse/return/{return_id}/process", json=[1, 2])
    assert response.status_code == 422 and "message" in response.json()["errors"]
    assert state_of(sb, return_id) == "open"


@pytest.mark.parametrize("action", ["process", "flag", "cancel", "close", "note", "remove"])
def test_return_actions_unknown_return_is_404(sb: SandboxHandle, action: str) -> None:
    response = api(sb).post(f"/warehouse/return/12345/{action}", json={"content": "x"})
    assert response.status_code == 404
    assert response.json()["errors"]["code"] == "NOT_FOUND"


def test_return_actions_notes_round_trip(sb: SandboxHandle, order: Order) -> None:
    return_id = make(sb, order)
    client = api(sb)
    empty = client.get(f"/warehouse/return/{return_id}/notes")
    assert empty.status_code == 422 and empty.json() == "false"
    assert (
        client.post(
            f"/warehouse/return/{return_id}/note", json={"content": "Box arrived damaged"}
        ).json()
        == "true"
    )
    notes = client.get(f"/warehouse/return/{return_id}/notes").json()["notes"]
    assert [n["content"] for n in notes] == ["Box arrived damaged"]
    assert notes[0]["id"] > 2**53 and notes[0]["created_at"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"content": "x" * 255}, id="255 characters"),
        pytest.param({"content": ""}, id="empty"),
        pytest.param({}, id="missing"),
        pytest.param({"content": 5}, id="not a string"),
    ],
)
def test_return_actions_note_rejects_bad_content(
    sb: SandboxHandle, order: Order, body: dict[str, Any]
) -> None:
    return_id = make(sb, order)
    response = api(sb).post(f"/warehouse/return/{return_id}/note", json=body)
    assert response.status_code == 422
    assert set(response.json()) == {"errors"} and response.json()["errors"]["message"]


def test_return_actions_note_of_254_characters_is_fine(sb: SandboxHandle, order: Order) -> None:
    return_id = make(sb, order)
    response = api(sb).post(f"/warehouse/return/{return_id}/note", json={"content": "x" * 254})
    assert response.status_code == 200


def mixed(sb: SandboxHandle, order: Order) -> dict[str, Any]:
    """A return with a refund, a store-credit and an exchange line."""
    return create_return(
        sb,
        order,
        {"line_item_id": order.lines[0], "outcome": "refund"},
        {"line_item_id": order.lines[0], "outcome": "store_credit"},
        {
            "line_item_id": order.lines[1],
            "outcome": "exchange",
            "exchange_variant_id": order.exchange_variant,
        },
    )


def test_return_actions_remove_keeps_removed_lines_zeroed_and_processes(
    sb: SandboxHandle, order: Order
) -> None:
    created = mixed(sb, order)
    refund, credit, exchange = (line["line_item_id"] for line in created["line_items"])
    response = api(sb).post(
        f"/warehouse/return/{created['id']}/remove", params={"line_item_id": f"{refund},{credit}"}
    )
    assert response.status_code == 200 and response.json() == "true"
    flush(sb)
    details = api(sb).get("/warehouse/return/details", params={"return_id": created["id"]}).json()
    assert details["state"] == "closed" and details["edited_at"] is not None
    assert details["return_total"] == "31.65"
    # Loop keeps removed lines, amounts zeroed and returned_at null; presentment has the rest.
    lines = {line["line_item_id"]: line for line in details["line_items"]}
    assert list(lines) == [str(refund), str(credit), str(exchange)]
    for removed in (lines[str(refund)], lines[str(credit)]):
        assert removed["price"] == removed["refund"] == removed["tax"] == "0.00"
        assert removed["returned_at"] is None
    assert lines[str(exchange)]["price"] == "31.65" and lines[str(exchange)]["returned_at"]
    kept = details["presentment"]["line_items"]
    assert [line["line_item_id"] for line in kept] == [str(exchange)]


@pytest.mark.parametrize(
    ("which", "start", "code"),
    [
        pytest.param("exchange", "open", None, id="none qualify"),
        pytest.param("refund+exchange", "open", None, id="not all qualify"),
        pytest.param("refund+unknown", "open", None, id="unknown line"),
        pytest.param("refund", "closed", "UNPROCESSABLE_RETURN", id="cannot be modified"),
    ],
)
def test_return_actions_remove_errors(
    sb: SandboxHandle, order: Order, which: str, start: str, code: str | None
) -> None:
    created = mixed(sb, order)
    if start != "open":
        api(sb).post(f"/warehouse/return/{created['id']}/close")
    by_outcome = {line["requested_outcome"]: line["line_item_id"] for line in created["line_items"]}
    by_outcome["unknown"] = 1
    params = {"line_item_id": ",".join(str(by_outcome[w]) for w in which.split("+"))}
    response = api(sb).post(f"/warehouse/return/{created['id']}/remove", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]["message"]
    assert response.json()["errors"].get("code") == code
    assert len(sb.admin.get(f"/returns/{created['id']}").json()["line_items"]) == 3


def test_return_actions_remove_without_line_ids_is_422_with_a_singular_error(
    sb: SandboxHandle, order: Order
) -> None:
    created = mixed(sb, order)
    response = api(sb).post(f"/warehouse/return/{created['id']}/remove")
    assert response.status_code == 422
    assert set(response.json()) == {"error"} and response.json()["error"]["message"]


def test_return_actions_remove_answers_500_when_processing_fails(
    sb: SandboxHandle, order: Order
) -> None:
    created = mixed(sb, order)
    refund = created["line_items"][0]["line_item_id"]
    sb.admin.configure(process_fail_rate=1.0)
    try:
        response = api(sb).post(
            f"/warehouse/return/{created['id']}/remove", params={"line_item_id": str(refund)}
        )
    finally:
        sb.admin.configure(process_fail_rate=0.0)
    assert response.status_code == 500 and response.json()["errors"]["message"]
    flush(sb)
    stored = sb.admin.get(f"/returns/{created['id']}").json()
    assert stored["state"] == "open" and stored["edited_at"] is None
