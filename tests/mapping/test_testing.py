"""`etl test` cases (engine.mapping.testing): subset comparison, null meaning absent."""

from __future__ import annotations

from collections.abc import Callable

from engine.mapping.compile import CompiledMapping
from engine.mapping.testing import run_tests, subset_differences


def test_subset_null_expected_passes_when_the_field_is_absent_or_null() -> None:
    assert subset_differences({"note": None}, {"name": "A"}) == []
    assert subset_differences({"note": None}, {"note": None}) == []
    assert subset_differences({"a": {"note": None}}, {"a": {}}) == []


def test_subset_null_expected_fails_when_the_field_has_a_value() -> None:
    assert subset_differences({"note": None}, {"note": "x"}) == ["note: expected None, got 'x'"]


def test_subset_other_absent_fields_still_fail() -> None:
    assert subset_differences({"note": "x"}, {}) == ["note: expected 'x', but the field is absent"]


def test_testing_expect_null_asserts_a_left_out_field(
    compiled: Callable[..., CompiledMapping],
) -> None:
    body = """\
    entities:
      orders:
        extract: {path: o.json}
        map:
          name: name
          note: note
    tests:
      - {name: absent, entity: orders, validate: false, input: {name: A}, expect: {note: null}}
      - {name: present, entity: orders, validate: false, input: {name: A, note: hi},
         expect: {note: null}}
    """
    absent, present = run_tests(compiled(body))
    assert absent.passed, absent.differences
    assert not present.passed
    assert present.differences == ["note: expected None, got 'hi'"]
