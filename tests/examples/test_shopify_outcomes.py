"""The shopify-like demo's side of outcome execution: Idempotency-Key on creating writes, gift
cards, refund refusals and the refunds_fail fault (idempotency.py, gift_cards.py, writes.py)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from examples.shopify_like import ShopHandle
from examples.shopify_like.idempotency import IdempotencyTable, Remembered, fingerprint

KEY = "Idempotency-Key"


def _order_body(c: httpx.Client, note: str = "exchange") -> dict[str, Any]:
    product = c.get("/products.json", params={"limit": 1}).json()["products"][0]
    line = {"variant_id": product["variants"][0]["id"], "quantity": 1, "price": "0.00"}
    return {"order": {"line_items": [line], "tags": "exchange", "note": note}}


def _count(c: httpx.Client) -> int:
    return int(c.get("/orders/count.json", params={"status": "any"}).json()["count"])


def _refundable_order(c: httpx.Client) -> dict[str, Any]:
    orders = c.get("/orders.json", params={"status": "closed", "limit": 50}).json()["orders"]
    return next(o for o in orders if not o["refunds"] and o["line_items"][0]["quantity"] >= 1)


def _refund_body(line_id: int, note: str = "Loop return 1", amount: str = "1.00") -> Any:
    return {"refund": {"note": note, "refund_line_items": [
        {"line_item_id": line_id, "quantity": 1, "restock_type": "no_restock"}],
        "transactions": [{"kind": "refund", "gateway": "shopify_payments", "amount": amount}]}}  # fmt: skip


def test_idempotency_repeat_answers_the_same_order_and_creates_nothing(
    fresh_shop: ShopHandle,
) -> None:
    with fresh_shop.client() as c:
        body, before = _order_body(c), _count(c)
        first = c.post("/orders.json", json=body, headers={KEY: "exchange-R1"})
        # The same request with its keys in another order and other spacing is the same request.
        raw = json.dumps({"order": dict(reversed(list(body["order"].items())))}, indent=2)
        again = c.post("/orders.json", content=raw, headers={KEY: "exchange-R1"})
        after = _count(c)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers and after == before + 1
    writes = fresh_shop.writes()
    assert [(w["status"], w["replayed"], w["idempotency_key"]) for w in writes] == [
        (201, False, "exchange-R1"),
        (201, True, "exchange-R1"),
    ]
    assert writes[0]["result_id"] == writes[1]["result_id"] == first.json()["order"]["id"]


def test_idempotency_same_key_with_another_body_is_422(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        assert c.post("/orders.json", json=_order_body(c), headers={KEY: "k"}).status_code == 201
        before = _count(c)
        other = c.post("/orders.json", json=_order_body(c, note="other"), headers={KEY: "k"})
        assert _count(c) == before
    assert other.status_code == 422
    assert other.json() == {"errors": {"idempotency_key": ["was used with a different request"]}}
    assert fresh_shop.writes()[-1]["status"] == 422


def test_idempotency_refusal_is_not_remembered(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        bad = c.post("/orders.json", json={"order": {"line_items": []}}, headers={KEY: "k2"})
        good = c.post("/orders.json", json=_order_body(c), headers={KEY: "k2"})
    assert bad.status_code == 422 and good.status_code == 201


def test_idempotency_key_expires_after_24_hours_of_demo_time(fresh_shop: ShopHandle) -> None:
    start = time.time()
    fresh_shop.store.clock = lambda: start
    with fresh_shop.client() as c:
        body = _order_body(c)
        first = c.post("/orders.json", json=body, headers={KEY: "k3"}).json()["order"]["id"]
        fresh_shop.store.clock = lambda: start + 24 * 3600 - 1
        kept = c.post("/orders.json", json=body, headers={KEY: "k3"}).json()["order"]["id"]
        fresh_shop.store.clock = lambda: start + 24 * 3600
        later = c.post("/orders.json", json=body, headers={KEY: "k3"}).json()["order"]["id"]
    assert kept == first and later == first + 1


def test_idempotency_concurrent_repeats_create_one_order(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        body, before = _order_body(c), _count(c)
    answers: list[int] = []

    def send() -> None:
        with fresh_shop.client() as c:
            r = c.post("/orders.json", json=body, headers={KEY: "race"})
            answers.append(r.json()["order"]["id"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with fresh_shop.client() as c:
        assert _count(c) == before + 1
    assert len(answers) == 8 and len(set(answers)) == 1


def test_idempotency_key_must_be_1_to_255_characters(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        body = _order_body(c)
        long_key = c.post("/orders.json", json=body, headers={KEY: "x" * 256})
        blank = c.post("/orders.json", json=body, headers={KEY: ""})
    assert long_key.status_code == blank.status_code == 400
    assert "idempotency_key" in long_key.json()["errors"]


def test_idempotency_table_drops_the_oldest_beyond_its_cap() -> None:
    table = IdempotencyTable(ttl_s=100, max_keys=3)
    for n in range(5):
        table.remember(f"k{n}", Remembered("f", 201, b"{}", n))
    assert len(table) == 3 and table.get("k0", 5) is None and table.get("k1", 5) is None
    assert table.get("k4", 5) is not None
    assert table.get("k2", 103) is None and len(table) == 1  # k2, k3 expired on the way
    assert fingerprint("POST", "/a", b'{"a":1,"b":2}') == fingerprint(
        "POST", "/a", b'{"b":2,"a":1}'
    )
    assert fingerprint("POST", "/a", b"{}") != fingerprint("POST", "/b", b"{}")


def test_gift_cards_create_read_list_and_record(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        customer = c.get("/customers.json", params={"limit": 1}).json()["customers"][0]
        body = {"gift_card": {"initial_value": "25.00", "note": "Loop return 42",
                              "customer_id": customer["id"]}}  # fmt: skip
        created = c.post("/gift_cards.json", json=body, headers={KEY: "gc-42"})
        replay = c.post("/gift_cards.json", json=body, headers={KEY: "gc-42"})
        chosen = c.post(
            "/gift_cards.json", json={"gift_card": {"initial_value": 5, "code": "ABCD1234EFGH"}}
        )
        card = created.json()["gift_card"]
        shown = c.get(f"/gift_cards/{card['id']}.json")
        listed = c.get("/gift_cards.json").json()["gift_cards"]
        after = c.get("/gift_cards.json", params={"since_id": card["id"], "limit": 5}).json()
        missing = c.get("/gift_cards/1.json")
    assert created.status_code == 201 and replay.json() == created.json()
    assert card["balance"] == card["initial_value"] == "25.00" and card["currency"] == "USD"
    assert len(card["code"]) == 16 and card["code"].isalnum()
    assert card["last_characters"] == card["code"][-4:] and card["disabled_at"] is None
    assert card["customer_id"] == customer["id"] and card["note"] == "Loop return 42"
    assert card["created_at"] == card["updated_at"]
    assert chosen.status_code == 201 and chosen.json()["gift_card"]["last_characters"] == "EFGH"
    assert shown.json()["gift_card"] == {k: v for k, v in card.items() if k != "code"}
    assert [g["id"] for g in listed] == [card["id"], chosen.json()["gift_card"]["id"]]
    assert [g["id"] for g in after["gift_cards"]] == [chosen.json()["gift_card"]["id"]]
    assert missing.status_code == 404
    writes = fresh_shop.writes()
    assert [(w["path"].endswith("/gift_cards.json"), w["status"], w["replayed"]) for w in writes] == [
        (True, 201, False), (True, 201, True), (True, 201, False)]  # fmt: skip
    assert writes[0]["result_id"] == card["id"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({"initial_value": "abc"}, "initial_value", id="not a number"),
        pytest.param({"initial_value": "0.00"}, "initial_value", id="zero"),
        pytest.param({"initial_value": "-5.00"}, "initial_value", id="negative"),
        pytest.param({"initial_value": "1.234"}, "initial_value", id="three decimals"),
        pytest.param({}, "initial_value", id="missing"),
        pytest.param({"initial_value": "5", "currency": "EUR"}, "currency", id="other currency"),
        pytest.param({"initial_value": "5", "customer_id": 1}, "customer_id", id="no customer"),
        pytest.param({"initial_value": "5", "code": "short"}, "code", id="bad code"),
    ],
)
def test_gift_cards_refuse_bad_requests(
    fresh_shop: ShopHandle, spec: dict[str, Any], field: str
) -> None:
    with fresh_shop.client() as c:
        response = c.post("/gift_cards.json", json={"gift_card": spec})
        assert c.get("/gift_cards.json").json()["gift_cards"] == []
    assert response.status_code == 422 and field in response.json()["errors"]


def test_gift_cards_code_must_be_unique(fresh_shop: ShopHandle) -> None:
    body = {"gift_card": {"initial_value": "5.00", "code": "SAMECODE1"}}
    with fresh_shop.client() as c:
        assert c.post("/gift_cards.json", json=body).status_code == 201
        again = c.post("/gift_cards.json", json=body)
    assert again.status_code == 422 and again.json()["errors"] == {
        "code": ["has already been taken"]
    }


def test_refunds_are_listed_with_note_and_created_at(fresh_shop: ShopHandle) -> None:
    with fresh_shop.client() as c:
        order = _refundable_order(c)
        line_id = order["line_items"][0]["id"]
        made = c.post(f"/orders/{order['id']}/refunds.json",
                      json=_refund_body(line_id, note="Loop return 7781234 (refund)"))  # fmt: skip
        refunds = c.get(f"/orders/{order['id']}/refunds.json").json()["refunds"]
    assert made.status_code == 201
    found = [r for r in refunds if "7781234" in (r["note"] or "")]
    assert [r["id"] for r in found] == [made.json()["refund"]["id"]]
    assert found[0]["created_at"] == made.json()["refund"]["created_at"]


def test_refunds_refuse_a_line_of_another_order_money_and_units_left(
    fresh_shop: ShopHandle,
) -> None:
    with fresh_shop.client() as c:
        order = _refundable_order(c)
        path, line = f"/orders/{order['id']}/refunds.json", order["line_items"][0]
        stranger = c.post(path, json=_refund_body(123))
        too_much = c.post(path, json=_refund_body(line["id"], amount="99999.00"))
        negative = c.post(path, json=_refund_body(line["id"], amount="-1.00"))
        units = _refund_body(line["id"])
        units["refund"]["refund_line_items"][0]["quantity"] = line["quantity"] + 1
        too_many = c.post(path, json=units)
        assert c.get(path).json()["refunds"] == []
    assert stranger.status_code == 422
    assert stranger.json()["errors"] == {
        "refund_line_items.line_item_id": [f"123 is not a line item of order {order['id']}"]
    }
    assert too_much.status_code == 422 and "exceeds" in too_much.json()["errors"]["base"][0]
    assert negative.status_code == 422 and "transactions.amount" in negative.json()["errors"]
    assert too_many.status_code == 422
    assert "refund_line_items.quantity" in too_many.json()["errors"]


def test_refunds_fail_fault_refuses_then_a_retry_succeeds(fresh_shop: ShopHandle) -> None:
    faults = f"{fresh_shop.base_url}/_demo/faults"
    with fresh_shop.client() as c:
        order = _refundable_order(c)
        path, body = (
            f"/orders/{order['id']}/refunds.json",
            _refund_body(order["line_items"][0]["id"]),
        )
        armed = httpx.post(faults, json={"refunds_fail": {"order_id": order["id"], "count": 2}})
        refused = [c.post(path, json=body) for _ in range(2)]
        assert c.get(path).json()["refunds"] == []
        retried = c.post(path, json=body)
    assert armed.json() == {"faults": {"refunds_fail": {str(order["id"]): 2}, "answer_delay": {}}}
    assert [r.status_code for r in refused] == [422, 422]
    assert "demo fault" in refused[0].json()["errors"]["base"][0]
    assert retried.status_code == 201
    assert httpx.get(faults).json() == {"faults": {"refunds_fail": {}, "answer_delay": {}}}
    assert [w["status"] for w in fresh_shop.writes()] == [422, 422, 201]


def test_refunds_fail_fault_validates_and_clears(fresh_shop: ShopHandle) -> None:
    faults = f"{fresh_shop.base_url}/_demo/faults"
    order_id = 5_000_000_000_000
    assert httpx.post(faults, json={"refunds_fail": {"order_id": 1, "count": 1}}).status_code == 422
    assert (
        httpx.post(faults, json={"refunds_fail": {"order_id": order_id, "count": -1}}).status_code
        == 422
    )
    assert httpx.post(faults, json={"other": {}}).status_code == 422
    httpx.post(faults, json={"refunds_fail": {"order_id": order_id, "count": 3}})
    cleared = httpx.post(faults, json={"refunds_fail": {"order_id": order_id, "count": 0}})
    assert cleared.json() == {"faults": {"refunds_fail": {}, "answer_delay": {}}}
    httpx.post(faults, json={"refunds_fail": {"order_id": order_id, "count": 3}})
    assert fresh_shop.fail_refunds(order_id, 2) == {
        "refunds_fail": {str(order_id): 2},
        "answer_delay": {},
    }
    httpx.post(f"{fresh_shop.base_url}/_demo/reset")
    assert httpx.get(faults).json() == {"faults": {"refunds_fail": {}, "answer_delay": {}}}


def test_answer_delay_applies_the_write_at_once_and_answers_late(fresh_shop: Any) -> None:
    import time

    faults = f"{fresh_shop.base_url}/_demo/faults"
    bad = httpx.post(faults, json={"answer_delay": {"path_suffix": "/orders.json", "seconds": 99}})
    armed = httpx.post(
        faults, json={"answer_delay": {"path_suffix": "/orders.json", "seconds": 1.5}}
    )
    assert bad.status_code == 422 and armed.status_code == 200, armed.text
    assert armed.json()["faults"]["answer_delay"] == {"/orders.json": [1.5, 1]}
    variant = fresh_shop.client().get("/products.json").json()["products"][0]["variants"][0]
    body = {"order": {"line_items": [{"variant_id": variant["id"], "quantity": 1}]}}
    with fresh_shop.client(timeout=0.5) as api:  # gives up before the answer comes
        try:
            api.post("/orders.json", json=body)
            raise AssertionError("answered before the delay")
        except httpx.ReadTimeout:
            pass
    [write] = [w for w in fresh_shop.writes() if w["path"].endswith("/orders.json")]
    assert write["status"] == 201  # applied, though its answer never arrived
    started = time.perf_counter()
    with fresh_shop.client() as api:  # the fault is spent: the next answer is at once
        assert api.post("/orders.json", json=body).status_code == 201
    assert time.perf_counter() - started < 1.0
