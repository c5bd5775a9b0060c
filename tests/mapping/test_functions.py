"""The mapping's value functions as JMESPath custom functions (engine.mapping.functions)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import jmespath
import jmespath.exceptions
import pytest
from jmespath.functions import Functions

from engine.errors import RecordError
from engine.mapping.filters import FILTER_NAMES
from engine.mapping.functions import FUNCTION_NAMES, LoopFunctions, make_options

OPTIONS = make_options("America/New_York")

RECORD: dict[str, Any] = {
    "price": "19.99",
    "yen": "1200.5",
    "currency": "jpy",
    "created_at": "2024-03-01 10:00:00",
    "status": "Open",
    "table": {"open": "active", "closed": "archived"},
    "tags": "a, b ,c",
    "emails": [None, "a@example.com"],
    "name": "  Ada ",
    "qty": "12.0",
    "weight": 2.675,
    "none": None,
    "amount": Decimal("5.005"),
    "placed": datetime(2024, 3, 1, 10, 0),
}


def search(expression: str, data: Any = None) -> Any:
    return jmespath.search(expression, RECORD if data is None else data, OPTIONS)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("cents(price)", 1999, id="cents"),
        pytest.param("cents(yen, currency)", 1201, id="cents with currency"),
        pytest.param("cents(price, none)", 1999, id="cents null currency means two digits"),
        pytest.param("cents(`12.5`)", 1250, id="cents of a number literal"),
        pytest.param("cents(amount)", 501, id="cents of a Decimal from SQL"),
        pytest.param("cents(none)", None, id="cents of null"),
        pytest.param(
            "rfc3339(created_at)", "2024-03-01T15:00:00+00:00", id="rfc3339 in default zone"
        ),
        pytest.param(
            "rfc3339(created_at, 'UTC')", "2024-03-01T10:00:00+00:00", id="rfc3339 with zone"
        ),
        pytest.param("rfc3339(placed)", "2024-03-01T15:00:00+00:00", id="rfc3339 of a datetime"),
        pytest.param(
            "rfc3339(`1709287200000`)", "2024-03-01T10:00:00+00:00", id="rfc3339 epoch ms"
        ),
        pytest.param("enum(status, table, 'unknown')", "unknown", id="enum default"),
        pytest.param("enum(status, table, `null`, `true`)", "active", id="enum ignore case"),
        pytest.param("enum(lower(status), table)", "active", id="enum of lower"),
        pytest.param("split(tags)", ["a", "b", "c"], id="split"),
        pytest.param("split('a|b', '|')", ["a", "b"], id="split separator"),
        pytest.param("join('-', split(tags))", "a-b-c", id="builtin join separator first"),
        pytest.param("lower(status)", "open", id="lower"),
        pytest.param("upper(status)", "OPEN", id="upper"),
        pytest.param("strip(name)", "Ada", id="strip"),
        pytest.param("default(none, 'x')", "x", id="default"),
        pytest.param("default(missing, 'x')", "x", id="default of missing key"),
        pytest.param("to_int(qty)", 12, id="to_int"),
        pytest.param("round(weight, `2`)", 2.68, id="round half up"),
        pytest.param("round(`2.5`)", 3, id="round to int"),
        pytest.param("first(emails)", "a@example.com", id="first"),
        pytest.param("to_string(`12`)", "12", id="builtin to_string"),
        pytest.param("to_string(missing)", None, id="to_string keeps null null"),
        pytest.param("to_number('12.5')", 12.5, id="builtin to_number"),
        pytest.param("to_number('abc')", None, id="builtin to_number keeps null on garbage"),
        pytest.param("type(price)", "string", id="builtin type"),
    ],
)
def test_function_evaluates(expression: str, expected: Any) -> None:
    result = search(expression)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("cents('abc')", "not an amount: 'abc'", id="cents garbage"),
        pytest.param("cents(`true`)", "not an amount: True", id="cents of bool"),
        pytest.param(
            "cents(price, 'ZZZ')", "unknown currency code 'ZZZ'", id="cents unknown currency"
        ),
        pytest.param("rfc3339('soon')", "not a timestamp: 'soon'", id="rfc3339 garbage"),
        pytest.param(
            "enum(status, table)",
            "unmapped value 'Open' (allowed: 'closed', 'open')",
            id="enum unmapped",
        ),
        pytest.param("to_int('12.5')", "not a whole number: '12.5'", id="to_int fraction"),
        pytest.param("lower(`1`)", "lower needs text, got 1", id="lower of a number"),
    ],
)
def test_function_record_error_propagates(expression: str, message: str) -> None:
    with pytest.raises(RecordError) as caught:
        search(expression)
    assert message in str(caught.value)
    assert not isinstance(caught.value, jmespath.exceptions.JMESPathError)


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        pytest.param(
            "cents()", "Expected 1 to 2 arguments for function cents(), received 0", id="too few"
        ),
        pytest.param(
            "cents(price, currency, currency)", "Expected 1 to 2 arguments", id="too many"
        ),
        pytest.param(
            "enum(status)", "Expected 2 to 4 arguments for function enum()", id="enum without table"
        ),
        pytest.param(
            "lower(status, status)", "Expected 1 argument for function lower()", id="fixed arity"
        ),
        pytest.param(
            "default(status)",
            "Expected 2 arguments for function default()",
            id="default needs fallback",
        ),
    ],
)
def test_function_arity_errors_are_jmespath_errors(expression: str, error: str) -> None:
    with pytest.raises(
        jmespath.exceptions.ArityError, match=error.replace("(", r"\(").replace(")", r"\)")
    ):
        search(expression)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("cents(price, `1`)", id="currency must be text"),
        pytest.param("enum(status, 'open')", id="table must be an object"),
        pytest.param("enum(status, table, 'x', 'yes')", id="ignore_case must be boolean"),
        pytest.param("round(weight, 'two')", id="ndigits must be a number"),
    ],
)
def test_function_checks_mapping_argument_types(expression: str) -> None:
    with pytest.raises(jmespath.exceptions.JMESPathTypeError):
        search(expression)


def test_functions_override_no_builtin_but_to_string() -> None:
    builtins = Functions.FUNCTION_TABLE
    table = LoopFunctions.FUNCTION_TABLE
    assert not set(FUNCTION_NAMES) & set(builtins)
    for name, spec in builtins.items():
        if name == "to_string":  # null stays null (JMESPath's gives the text "null")
            assert table[name]["function"] is not spec["function"]
            continue
        assert table[name]["function"] is spec["function"], name
    assert {"join", "to_string", "to_number", "type", "length", "sort_by"} <= set(builtins)


def test_functions_are_the_filters_except_builtin_names() -> None:
    assert set(FUNCTION_NAMES) == set(FILTER_NAMES) - {"join", "to_string", "to_number"}
    assert list(FUNCTION_NAMES) == sorted(FUNCTION_NAMES)


def test_builtin_join_keeps_separator_first() -> None:
    assert search("join(', ', ['a', 'b'])", {}) == "a, b"
    with pytest.raises(jmespath.exceptions.JMESPathTypeError):
        search("join(['a', 'b'], ', ')", {})


def test_make_options_uses_plain_dicts_and_the_zone() -> None:
    options = make_options()
    assert options.dict_cls is dict
    assert isinstance(options.custom_functions, LoopFunctions)
    result = jmespath.search("{a: rfc3339(t)}", {"t": "2024-03-01 10:00:00"}, options)
    assert type(result) is dict
    assert result == {"a": "2024-03-01T10:00:00+00:00"}


def test_compiled_expression_reuses_options() -> None:
    compiled = jmespath.compile("cents(price, currency)")
    assert [compiled.search({"price": p, "currency": "KWD"}, OPTIONS) for p in ("1.234", "2")] == [
        1234,
        2000,
    ]
