"""`etl test` cases that start from source fixtures (files, tables, responses) and run the
entity's real extract before the map (engine.mapping.testing with engine.mapping.fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.mapping.compile import CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping
from engine.mapping.testing import CaseResult, run_tests

FILES = """\
version: 1
name: t
source: {connector: files, root: embedded}
entities:
  orders:
    extract:
      path: lines.csv
      group: {by: doc}
      join: [{path: fulfillments.csv, key: order, match: doc, as: fulfillments}]
    map:
      external_id: doc
      line_items: {each: lines, map: {sku: sku}}
      tracking: fulfillments[0].tracking
tests:
  - name: lines grouped, fulfillments joined
    entity: orders
    validate: false
    files:
      lines.csv: "doc,sku\\nSO1,A\\nSO2,C\\nSO1,B\\n"
      fulfillments.csv: "order,tracking\\nSO1,1Z\\n"
    expect:
      - {external_id: SO1, line_items: [{sku: A}, {sku: B}], tracking: 1Z}
      - {external_id: SO2, line_items: [{sku: C}], tracking: null}
"""

SQL = """\
version: 1
name: t
source: {connector: sql, database: embedded, type: TYPE}
entities:
  orders:
    extract:
      query: >-
        SELECT o.id, o.status, o.updated_at, (SELECT count(*) FROM lines l WHERE l.order_id = o.id) AS n
        FROM orders o WHERE o.updated_at > $cursor ORDER BY o.id
      cursor: {field: updated_at, initial: 10}
    map:
      external_id: to_string(id)
      status: status
      line_count: n
tests:
  - name: the query joins its tables from the initial cursor
    entity: orders
    validate: false
    tables:
      orders:
        - {id: 1, status: open, updated_at: 20}
        - {id: 2, status: closed, updated_at: 5}
        - {id: 3, status: open, updated_at: 30}
      lines: [{order_id: 1}, {order_id: 1}, {order_id: 3}]
    expect:
      - {external_id: "1", status: open, line_count: 2}
      - {external_id: "3", line_count: 1}
"""

HTTP = """\
version: 1
name: t
source:
  connector: http
  base_url: https://shop.invalid/wp-json/wc/v3
  auth: {type: bearer, token: not-sent}
  pagination: {type: page_number, param: page}
entities:
  products:
    extract:
      path: /products
      include: [{field: variations, path: "/products/{id}/variations"}]
    fan_out: variations
    map:
      external_id: to_string(id)
      sku: sku
      product: parent.name
tests:
  - name: one product's variations fan out
    entity: products
    validate: false
    responses:
      /products?page=1&limit=100: [{id: 7, name: Tee}]
      /products/7/variations: '[{"id": 71, "sku": "TEE-S"}, {"id": 72, "sku": "TEE-M"}]'
    expect:
      - {external_id: "71", sku: TEE-S, product: Tee}
      - {external_id: "72", sku: TEE-M, product: Tee}
"""


@pytest.fixture
def run(tmp_path: Path) -> Callable[[str], list[CaseResult]]:
    def go(text: str) -> list[CaseResult]:
        path = tmp_path / "m.yaml"
        path.write_text(text, encoding="utf-8")
        compiled: CompiledMapping = compile_mapping(load_mapping(path, env={}))
        return run_tests(compiled)

    return go


def _load_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_mapping(path, env={})
    return [str(p) for p in err.value.problems]


def test_testing_files_fixture_runs_group_and_join(run: Callable[[str], list[CaseResult]]) -> None:
    (result,) = run(FILES)
    assert result.passed, result.differences


def test_testing_files_fixture_fails_when_a_grouped_line_is_missing(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(FILES.replace("SO1,B\\n", ""))
    assert not result.passed
    assert result.differences == ["[0].line_items: expected 2 item(s), got 1"]
    assert result.where.endswith("m.yaml:15:5")


def test_testing_files_fixture_names_a_file_the_extract_reads_but_the_test_lacks(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(FILES.replace("fulfillments.csv: ", "fulfilments.csv: "))
    assert result.differences == [
        "error: fixture: extract.join[0].path 'fulfillments.csv' is not among the test's "
        "files (fulfilments.csv, lines.csv)"
    ]


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_testing_tables_fixture_runs_the_query(
    run: Callable[[str], list[CaseResult]], kind: str
) -> None:
    (result,) = run(SQL.replace("TYPE", kind))
    assert result.passed, result.differences


def test_testing_tables_fixture_fails_when_a_payload_differs(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(SQL.replace("TYPE", "duckdb").replace("{order_id: 3}", "{order_id: 1}"))
    assert result.differences == [
        "[0].line_count: expected 2, got 3",
        "[1].line_count: expected 1, got 0",
    ]


def test_testing_tables_fixture_refuses_mixed_column_types(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(SQL.replace("TYPE", "sqlite").replace("status: closed", "status: 4"))
    assert result.differences == [
        "error: fixture: tables.orders: column 'status' holds int, str: one scalar type per column"
    ]


def test_testing_tables_fixture_reports_a_query_error(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(SQL.replace("TYPE", "duckdb").replace("lines:", "line:"))
    assert not result.passed
    assert result.differences[0].startswith("error: fixture: ")
    assert "lines" in result.differences[0]


def test_testing_responses_fixture_includes_and_fans_out(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(HTTP)
    assert result.passed, result.differences


def test_testing_responses_fixture_names_a_request_no_key_answers(
    run: Callable[[str], list[CaseResult]],
) -> None:
    (result,) = run(HTTP.replace("/products/7/variations", "/products/8/variations"))
    assert not result.passed
    assert result.differences == [
        "error: fixture: no response for GET /products/7/variations?limit=100&page=1 "
        "(responses: /products/8/variations, /products?page=1&limit=100)"
    ]


def test_testing_one_payload_expected_but_the_fixture_gave_two(
    run: Callable[[str], list[CaseResult]],
) -> None:
    one = HTTP.replace("expect:\n      - ", "expect: ").split('\n      - {external_id: "72"')[0]
    (result,) = run(one + "\n")
    assert result.differences == ["payload: expected one record (expect is an object), got 2"]


def test_load_refuses_a_body_that_is_not_json(tmp_path: Path) -> None:
    problems = _load_problems(tmp_path, HTTP.replace('\'[{"id": 71', "'[{id: 71"))
    assert len(problems) == 1
    assert (
        "m.yaml:24:31: tests[0].responses./products/7/variations: the body is not JSON"
        in (problems[0])
    )


def test_load_refuses_a_fixture_that_does_not_fit_the_connector(tmp_path: Path) -> None:
    problems = _load_problems(
        tmp_path, FILES.replace("    files:", "    tables: {x: [{a: 1}]}\n    files:")
    )
    assert problems == [
        f"{tmp_path / 'm.yaml'}:18:5: tests[0].tables: `tables` stands in for the sql "
        "connector, not files"
    ]


def test_load_refuses_input_and_fixture_together(tmp_path: Path) -> None:
    problems = _load_problems(
        tmp_path, FILES.replace("    files:", "    input: {doc: SO1}\n    files:")
    )
    assert len(problems) == 1
    assert "give `input` (an extracted record) or source fixtures" in problems[0]
    assert problems[0].endswith("not both")
