"""The payload schemas accept what Loop accepts and report every broken rule with its path.

Example payloads live in data/:
  valid/<schema>/*.json     a payload that must produce no errors
  invalid/<schema>/*.json   {"description", "payload"} or {"description", "base", "set", "remove"}
                            (a valid file with a few changes, so the change is what breaks it),
                            "expect_paths": the exact set of JSON paths reported, and optionally
                            "expect_messages": substrings that some error message must contain.
Paths in "set" and "remove" use the same syntax the validator reports: $.a.b[0].c
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.validation import ValidationIssue, validator

DATA = Path(__file__).parent / "data"
PAYLOAD_SCHEMAS = [
    "product",
    "variant",
    "customer",
    "location",
    "inventory",
    "collection",
    "order",
    "return",
    "label",
    "restock",
]
EVENT_SCHEMAS = ["return", "label", "restock"]
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def steps(path: str) -> list[str | int]:
    """'$.a[0].b' -> ['a', 0, 'b']; rejects anything it cannot read."""
    assert path.startswith("$"), path
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        assert match, f"cannot read path {path!r} at {pos}"
        out.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    return out


def set_at(doc: Any, path: str, value: Any) -> None:
    *parents, last = steps(path)
    for step in parents:
        doc = doc[step]
    doc[last] = value


def remove_at(doc: Any, path: str) -> None:
    *parents, last = steps(path)
    for step in parents:
        doc = doc[step]
    del doc[last]


def build(case: dict[str, Any]) -> Any:
    """The payload an invalid case describes."""
    if "payload" in case:
        return case["payload"]
    payload = copy.deepcopy(load(DATA / "valid" / case["base"]))
    for path, value in case.get("set", {}).items():
        set_at(payload, path, value)
    for path in case.get("remove", []):
        remove_at(payload, path)
    return payload


def errors(schema: str, payload: Any) -> list[ValidationIssue]:
    return validator(schema).errors(payload)


def _case_id(path: Path) -> str:
    return f"{path.parent.name} {path.stem.replace('-', ' ')}"


def _files(kind: str) -> list[Any]:
    return [
        pytest.param(path.parent.name, path, id=_case_id(path))
        for path in sorted((DATA / kind).glob("*/*.json"))
    ]


def order() -> dict[str, Any]:
    return copy.deepcopy(load(DATA / "valid/order/shopify-order-1001-first-push.json"))


# ------------------------------------------------------------------ data files


@pytest.mark.parametrize(("schema", "path"), _files("valid"))
def test_schema_accepts_valid_example(schema: str, path: Path) -> None:
    assert errors(schema, load(path)) == []


@pytest.mark.parametrize(("schema", "path"), _files("invalid"))
def test_schema_rejects_invalid_example_at_expected_paths(schema: str, path: Path) -> None:
    case = load(path)
    assert case.get("description"), "say in plain words which rule the case proves"
    found = errors(schema, build(case))
    assert sorted({issue.path for issue in found}) == sorted(case["expect_paths"]), found
    for expected in case.get("expect_messages", []):
        assert any(expected in issue.message for issue in found), (expected, found)


@pytest.mark.parametrize(("schema", "path"), _files("invalid"))
def test_schema_invalid_example_base_is_valid(schema: str, path: Path) -> None:
    # A mutated case proves its rule only if the payload it starts from passes.
    case = load(path)
    if "base" in case:
        assert case["base"].split("/")[0] == schema
        assert errors(schema, load(DATA / "valid" / case["base"])) == []


@pytest.mark.parametrize("schema", PAYLOAD_SCHEMAS)
def test_schema_has_valid_and_invalid_examples(schema: str) -> None:
    assert list((DATA / "valid" / schema).glob("*.json")), "no valid example"
    assert list((DATA / "invalid" / schema).glob("*.json")), "no invalid example"


def test_example_folders_name_known_schemas() -> None:
    folders = {p.name for kind in ("valid", "invalid") for p in (DATA / kind).iterdir()}
    assert folders == set(PAYLOAD_SCHEMAS)


# ------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("$", [], id="root"),
        pytest.param("$.a", ["a"], id="one key"),
        pytest.param(
            "$.line_items[10].unit_price.amount",
            ["line_items", 10, "unit_price", "amount"],
            id="keys and indexes",
        ),
    ],
)
def test_steps_reads_validator_paths(path: str, expected: list[str | int]) -> None:
    assert steps(path) == expected


# ------------------------------------------------------------------ rules, as tables


def test_validator_reports_every_error_at_once() -> None:
    payload = order()
    payload["status"] = "open"
    payload["created_at"] = "2008-01-10T16:00:00.5Z"
    payload["line_items"][2]["unit_price"]["amount"] = "199.00"
    paths = {issue.path for issue in errors("order", payload)}
    assert paths == {"$.status", "$.created_at", "$.line_items[2].unit_price.amount"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param("2008-01-10T16:00:00Z", True, id="utc with Z"),
        pytest.param("2008-01-10T16:00:00+00:00", True, id="utc with offset"),
        pytest.param("2008-01-10T11:00:00-05:00", True, id="negative offset as Shopify sends"),
        pytest.param("2008-01-10T16:00:00.123Z", False, id="milliseconds"),
        pytest.param("2008-01-10T16:00:00.000000+00:00", False, id="microseconds"),
        pytest.param("2008-01-10T16:00:00", False, id="naive"),
        pytest.param("2008-01-10 16:00:00+00:00", False, id="space instead of T"),
        pytest.param("2008-01-10T16:00:00+0000", False, id="offset without colon"),
        pytest.param("2008-01-10", False, id="date only"),
        pytest.param("2008-13-10T16:00:00Z", False, id="month 13"),
        pytest.param(1200000000, False, id="unix seconds"),
    ],
)
def test_datetime_accepts_rfc3339_without_fractions(value: Any, ok: bool) -> None:
    payload = order()
    payload["created_at"] = value
    paths = {issue.path for issue in errors("order", payload)}
    assert paths == (set() if ok else {"$.created_at"})


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        pytest.param(19900, True, id="integer cents"),
        pytest.param(0, True, id="zero"),
        pytest.param(-500, True, id="negative adjustment"),
        pytest.param(199.5, False, id="float with fraction"),
        # JSON Schema counts 19900.0 as an integer and no keyword can tell them apart; the
        # mapping's `cents` filter returns ints, so a float only appears with a fraction.
        pytest.param(19900.0, True, id="integral float is an integer to JSON Schema"),
        pytest.param("19900", False, id="digit string"),
        pytest.param("199.00", False, id="decimal string"),
        pytest.param(None, False, id="null"),
    ],
)
def test_money_amount_is_integer_minor_units(amount: Any, ok: bool) -> None:
    payload = order()
    payload["line_items"][0]["unit_price"]["amount"] = amount
    paths = {issue.path for issue in errors("order", payload)}
    assert paths == (set() if ok else {"$.line_items[0].unit_price.amount"})


@pytest.mark.parametrize(
    ("loop_id", "ok"),
    [
        pytest.param(2**53 + 1, True, id="integer above 2 to the 53"),
        pytest.param(str(2**53 + 1), True, id="digit string above 2 to the 53"),
        pytest.param(1234567890123456789, True, id="18 digit integer"),
        pytest.param("1234567890123456789", True, id="18 digit string"),
        pytest.param(2**63 - 1, True, id="largest int64"),
        pytest.param(2**63, False, id="above int64"),
        pytest.param("9223372036854775807000", False, id="string too long for int64"),
        pytest.param(0, False, id="zero"),
        pytest.param(-1, False, id="negative"),
        pytest.param("0123", False, id="leading zero"),
        pytest.param("12a", False, id="not digits"),
        pytest.param(1.5, False, id="float with fraction"),
    ],
)
def test_loop_id_accepts_64_bit_integers_and_digit_strings(loop_id: Any, ok: bool) -> None:
    payload = order()
    payload["line_items"][0]["product"] = {"id": loop_id}
    paths = {issue.path for issue in errors("order", payload)}
    assert paths == (set() if ok else {"$.line_items[0].product.id"})


VARIANT = "$.line_items[0].product_variant"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param({"id": 1234567890123456789}, {}, id="by Loop id"),
        pytest.param({"external_id": "632910392"}, {}, id="by external id"),
        pytest.param({"id": 1, "external_id": "632910392"}, {VARIANT: "more than one"}, id="both"),
        pytest.param({}, {VARIANT: "not valid under any"}, id="neither"),
        pytest.param({"external_id": ""}, {VARIANT + ".external_id": "shorter than"}, id="empty"),
        pytest.param({"sku": "IPOD2008RED"}, {VARIANT: "not valid under any"}, id="other key only"),
    ],
)
def test_reference_takes_id_xor_external_id(
    reference: dict[str, Any], expected: dict[str, str]
) -> None:
    payload = order()
    payload["line_items"][0]["product_variant"] = reference
    found = errors("order", payload)
    assert {i.path for i in found} == set(expected)
    for path, words in expected.items():
        assert any(i.path == path and words in i.message for i in found), found


@pytest.mark.parametrize(
    ("schema", "pointer", "values"),
    [
        pytest.param(
            "order", "$.status", ["active", "archived", "cancelled", "unknown"], id="order status"
        ),
        pytest.param(
            "order", "$.refunds[0].type", ["line_item", "shipping", "other"], id="refund type"
        ),
        pytest.param(
            "order",
            "$.fulfillments[0].status",
            ["success", "failure", "cancelled", "pending", "open", "error"],
            id="fulfillment status",
        ),
        pytest.param(
            "order",
            "$.order_discounts[0].discount_type",
            [
                "amount",
                "percentage",
                "bonus",
                "bonus_choice",
                "fixed_price",
                "free",
                "percentage_off_options",
                "price_book_price",
                "total_fixed_price",
            ],
            id="discount type",
        ),
        pytest.param("location", "$.status", ["active", "inactive"], id="location status"),
        pytest.param(
            "return",
            "$.state",
            ["open", "closed", "cancelled", "expired", "review"],
            id="return state",
        ),
        pytest.param(
            "return",
            "$.trigger",
            ["return.created", "return.updated", "return.closed"],
            id="return trigger",
        ),
        pytest.param("label", "$.trigger", ["label.created", "label.updated"], id="label trigger"),
    ],
)
def test_enum_accepts_each_documented_value_and_nothing_else(
    schema: str, pointer: str, values: list[str]
) -> None:
    bases = {
        "order": {
            **order(),
            "refunds": [{"type": "other"}],
            "fulfillments": [{}],
            "order_discounts": [{}],
        },
        "location": load(DATA / "valid/location/shopify-fifth-avenue.json"),
        "return": load(DATA / "valid/return/created-as-documented.json"),
        "label": load(DATA / "valid/label/updated-minimal.json"),
    }
    for value in [*values, "ACTIVE", "not-a-value", ""]:
        payload = copy.deepcopy(bases[schema])
        set_at(payload, pointer, value)
        paths = {issue.path for issue in errors(schema, payload)}
        assert paths == (set() if value in values else {pointer}), value


@pytest.mark.parametrize(
    ("schema", "base", "top_level"),
    [
        pytest.param("product", "product/shopify-ipod-nano.json", "handle", id="product"),
        pytest.param(
            "variant", "variant/shopify-ipod-pink.json", "inventory_quantity", id="variant"
        ),
        pytest.param("customer", "customer/shopify-bob-norman.json", "orders_count", id="customer"),
        pytest.param("location", "location/shopify-fifth-avenue.json", "deleted_at", id="location"),
        pytest.param(
            "inventory", "inventory/ten-available.json", "inventory_item_id", id="inventory"
        ),
        pytest.param(
            "collection", "collection/ipods-with-products.json", "handle", id="collection"
        ),
        pytest.param(
            "order", "order/shopify-order-1001-first-push.json", "financial_status", id="order"
        ),
    ],
)
def test_loop_payload_rejects_unknown_top_level_key(schema: str, base: str, top_level: str) -> None:
    payload = load(DATA / "valid" / base)
    payload[top_level] = None
    found = errors(schema, payload)
    assert [i.path for i in found] == ["$"]
    assert top_level in found[0].message


@pytest.mark.parametrize(
    ("schema", "base"),
    [
        pytest.param("return", "return/created-as-documented.json", id="return"),
        pytest.param("label", "label/updated-minimal.json", id="label"),
        pytest.param("restock", "restock/requested-as-documented.json", id="restock"),
    ],
)
def test_event_tolerates_fields_loop_adds(schema: str, base: str) -> None:
    payload = load(DATA / "valid" / base)
    payload["added_later"] = {"any": ["shape", 1, None]}
    for value in payload.values():
        if isinstance(value, dict):
            value["added_later"] = 1
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item["added_later"] = 1
    assert errors(schema, payload) == []


@pytest.mark.parametrize("schema", EVENT_SCHEMAS)
def test_event_requires_topic_and_trigger(schema: str) -> None:
    assert {i.message for i in errors(schema, {})} >= {
        '"topic" is a required property',
        '"trigger" is a required property',
    }
