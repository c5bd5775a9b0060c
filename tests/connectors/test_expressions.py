"""Connector settings' JMESPath: the mapping's functions when given, a plain field read as
JMESPath reads it, and a failure as an ExtractError naming the setting."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest

from connectors.expressions import Expression, function_names, syntax_problem
from engine.errors import ConfigError, ExtractError
from engine.mapping.functions import make_options


@pytest.mark.parametrize(
    "value", [{"a": 1}, {"a": None}, {"b": 2}, {"a": [1, {"x": 2}]}, [1, 2], "text", None, 3]
)
def test_expression_plain_field_reads_as_jmespath_does(value: Any) -> None:
    found = Expression("a", "group.by")
    assert found.field == "a"
    assert found.search(value) == jmespath.search("a", value)


def test_expression_with_the_mappings_functions_calls_them() -> None:
    key = Expression("split(created_from, '#')[-1]", "join[0].key", make_options())
    assert key.search({"created_from": "Sales Order #SO1001"}) == "SO1001"


def test_expression_failing_on_a_record_is_an_extract_error_naming_the_setting() -> None:
    without = Expression("split(created_from, '#')[-1]", "join[0].key")  # no functions given
    with pytest.raises(ExtractError, match=r"join\[0\]\.key: .*Unknown function: split"):
        without.search({"created_from": "x"})
    typed = Expression("abs(a) > `1`", "where", make_options())
    with pytest.raises(ExtractError, match=r"where: 'abs.*invalid type"):
        typed.search({"a": {"nested": True}})
    mapping_function = Expression("cents(a)", "fields.amount", make_options())
    with pytest.raises(ExtractError, match=r"fields\.amount: 'cents\(a\)': not an amount"):
        mapping_function.search({"a": {"nested": True}})


def test_expression_that_does_not_compile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sort: invalid JMESPath 'a =='"):
        Expression("a ==", "sort")
    assert syntax_problem("a ==") is not None and syntax_problem("a") is None


def test_function_names_finds_nested_calls_only() -> None:
    assert sorted(function_names("join('-', [split(a, '#')[0], to_string(b)])")) == [
        "join",
        "split",
        "to_string",
    ]
    assert function_names("a.b[?c == 'split']") == []
    assert function_names("a ==") == []
