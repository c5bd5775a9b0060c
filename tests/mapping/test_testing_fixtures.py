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


def test_testing_files_fixture_feeds_read_csv_in_a_sql_query(
    run: Callable[[str], list[CaseResult]],
) -> None:
    text = """\
version: 1
name: t
source: {connector: sql, database: ":memory:", root: exports}
entities:
  orders:
    extract: {query: "SELECT doc, count(*) AS n FROM read_csv('lines.csv') GROUP BY doc ORDER BY doc"}
    map: {external_id: doc, line_count: n}
tests:
  - name: read_csv reads the fixture file
    entity: orders
    validate: false
    files: {lines.csv: "doc,sku\\nSO1,A\\nSO2,C\\nSO1,B\\n"}
    expect: [{external_id: SO1, line_count: 2}, {external_id: SO2, line_count: 1}]
"""
    (result,) = run(text)
    assert result.passed, result.differences
    (result,) = run(text.replace("SO1,B\\n", ""))
    assert result.differences == ["[0].line_count: expected 2, got 1"]


def test_testing_responses_exact_query_wins_over_the_path_alone(
    run: Callable[[str], list[CaseResult]],
) -> None:
    other = "      /products: [{id: 8, name: Mug}]\n      /products?page=1"
    (result,) = run(HTTP.replace("      /products?page=1", other))
    assert result.passed, result.differences
    (result,) = run(HTTP.replace("/products?page=1&limit=100", "/products"))
    assert result.passed, result.differences  # the path alone answers any query


def test_testing_responses_fixture_stops_a_pagination_that_never_ends(
    run: Callable[[str], list[CaseResult]],
) -> None:
    # every page full (one record) and the path alone answers every page: page=1, 2, 3, ...
    looping = HTTP.replace("/products?page=1&limit=100:", "/products:")
    looping = looping.replace(
        "      path: /products\n", "      path: /products\n      page_size: 1\n"
    )
    (result,) = run(looping)
    assert result.differences == [
        "error: fixture: more than 200 requests: the same body was served again and again; "
        "give each page its own key with its query (/orders?page=2)"
    ]


def test_testing_expect_error_matches_an_extract_error(
    run: Callable[[str], list[CaseResult]],
) -> None:
    null_key = FILES.replace("SO2,C", ",C").replace(
        "group: {by: doc}", "group: {by: doc}\n      csv: {blank_as_null: true}"
    )
    text = null_key.split("    expect:\n")[0] + "    expect_error: lines.csv\n"
    (result,) = run(text)
    assert result.passed, result.differences
    (result,) = run(text.replace("expect_error: lines.csv", "expect_error: boom"))
    assert not result.passed
    assert result.differences[0] == "expected an error containing 'boom'"


def test_load_refuses_a_case_with_neither_input_nor_fixture(tmp_path: Path) -> None:
    text = FILES.split("    files:")[0] + "    expect: []\n"
    problems = _load_problems(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].endswith("not neither")


def test_load_refuses_a_file_name_outside_the_fixture_root(tmp_path: Path) -> None:
    problems = _load_problems(tmp_path, FILES.replace("lines.csv: ", "../lines.csv: "))
    assert len(problems) == 1
    assert "tests[0].files.../lines.csv: a file name relative to the fixture root" in problems[0]


def test_testing_responses_fixture_sends_no_credential(
    run: Callable[[str], list[CaseResult]],
) -> None:
    # were the auth kept, the token request to this closed port would fail the extract
    oauth = (
        "{type: oauth2_client_credentials, token_url: 'http://127.0.0.1:9/token', "
        "client_id: app, client_secret: not-sent}"
    )
    (result,) = run(HTTP.replace("{type: bearer, token: not-sent}", oauth))
    assert result.passed, result.differences


def test_testing_variants_fixture_runs_the_parent_products_extract(
    run: Callable[[str], list[CaseResult]],
) -> None:
    text = """\
version: 1
name: t
source: {connector: files, root: data}
entities:
  products:
    extract: {path: items.csv, group: {by: parent, rows: children}}
    map: {external_id: parent, name: name}
    variants:
      each: children
      map: {external_id: sku, sku: sku}
tests:
  - name: a matrix item's child rows become its variants
    entity: variants
    validate: false
    files: {items.csv: "parent,name,sku\\nP1,Tee,TEE-S\\nP1,Tee,TEE-M\\n"}
    expect: [{sku: TEE-S}, {sku: TEE-M}]
"""
    (result,) = run(text)
    assert result.passed, result.differences
    (result,) = run(text.replace("P1,Tee,TEE-M", "P2,Mug,MUG"))
    assert result.differences == ["[1].sku: expected 'TEE-M', got 'MUG'"]
