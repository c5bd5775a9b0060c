"""`etl test`: runs a mapping's `tests:` and explains each failure as a readable diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.mapping.compile import CompiledMapping
from engine.mapping.fixture_sources import FixtureError
from engine.mapping.fixtures import extract_fixture
from engine.mapping.model import TestCase
from engine.mapping.records import RecordResult, map_one, map_records

_NOTHING = object()


@dataclass
class CaseResult:
    case: TestCase
    where: str
    passed: bool
    differences: list[str] = field(default_factory=list)


def subset_differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` fails to contain `expected`: dict keys given must match, lists by element.

    A key expected `null` passes when the field is null or absent: the payload leaves null
    fields out, so `expect: {note: null}` is how a test says "no note is sent".
    """
    here = path or "payload"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{here}: expected an object, got {_show(actual)}"]
        out: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                if value is None:
                    continue
                out.append(f"{sub}: expected {_show(value)}, but the field is absent")
            else:
                out += subset_differences(value, actual[key], sub)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{here}: expected a list, got {_show(actual)}"]
        out = []
        if len(expected) != len(actual):
            out.append(f"{here}: expected {len(expected)} item(s), got {len(actual)}")
        for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
            out += subset_differences(want, got, f"{path}[{i}]")
        return out
    if type(expected) is bool or type(actual) is bool:
        same = expected is actual
    else:
        same = expected == actual
    return [] if same else [f"{here}: expected {_show(expected)}, got {_show(actual)}"]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def run_case(compiled: CompiledMapping, case: TestCase) -> CaseResult:
    positions = compiled.mapping.positions
    line, col = positions.at(case.path)
    where = f"{positions.file}:{line}:{col}"
    try:
        results = _results(compiled, case)
    except FixtureError as exc:  # the extract failed: no record to compare
        return _failed_extract(case, where, f"fixture: {exc}")
    errors = [e for r in results for e in r.errors]
    if case.expect_error:
        return _expected_error(case, where, errors)
    diffs = [f"error: {e}" for e in errors]
    if case.expect is not None:
        diffs += _differences(compiled, case, [r.payload for r in results])
    return CaseResult(case, where, not diffs, diffs)


def _expected_error(case: TestCase, where: str, errors: list[str]) -> CaseResult:
    missing = [t for t in case.expect_error if not any(t in e for e in errors)]
    diffs = [f"expected an error containing {t!r}" for t in missing]
    if missing:
        diffs += [f"  got: {e}" for e in errors] or ["  got: no error at all"]
    return CaseResult(case, where, not missing, diffs)


def _failed_extract(case: TestCase, where: str, error: str) -> CaseResult:
    if case.expect_error:  # a test may expect the extract to fail (a null group key)
        return _expected_error(case, where, [error])
    return CaseResult(case, where, False, [f"error: {error}"])


def _differences(compiled: CompiledMapping, case: TestCase, payloads: list[Any]) -> list[str]:
    """`expect` against the payloads: a list against all of them; an object against the one
    payload (a fixture that gave another number of records is a difference)."""
    entity = compiled.entities[case.entity].entity
    if case.fixture is None:
        many = entity.parent or entity.fan_out
        return subset_differences(case.expect, payloads if many else payloads[0])
    if isinstance(case.expect, list):
        return subset_differences(case.expect, payloads)
    if len(payloads) != 1:
        return [f"payload: expected one record (expect is an object), got {len(payloads)}"]
    return subset_differences(case.expect, payloads[0])


def _results(compiled: CompiledMapping, case: TestCase) -> list[RecordResult]:
    entity = compiled.entities[case.entity]
    if case.fixture is not None:
        records = extract_fixture(compiled.mapping, case.entity, case.fixture)
        return list(map_records(entity, iter(records), case.lookups, case.validate))
    if entity.items_fn is None:
        return [map_one(entity, case.input, None, case.lookups, case.validate)]
    return [
        map_one(entity, item, case.input, case.lookups, case.validate)
        for item in entity.items(case.input)
    ]


def run_tests(compiled: CompiledMapping) -> list[CaseResult]:
    return [run_case(compiled, case) for case in compiled.mapping.tests]
