"""Outcome steps in the platform: a file written once and atomically, SQL statements with their
check in one transaction, and an HTTP step that never resends blindly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.mapping.compile import load_and_compile
from engine.mapping.outcomes import CompiledStep
from engine.outcomes.steps import Platform, Refused, run_step

MAPPING = """\
version: 1
name: steps
source: {connector: files, root: data}
target: {base_url: embedded}
entities:
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email}
outcomes:
  refund:
    trigger: [return.closed]
    steps:
"""

FILE_STEP = """\
      - name: memo
        file:
          folder: imports
          name: "memo_{{ return_id }}.csv"
          delimiter: ";"
          also_done_if: ["applied/memo_{{ return_id }}.csv"]
          rows:
            each: lines
            map: {SO_NO: root.order.external_id, AMOUNT: "{{ refund_minor | decimal('USD') }}"}
"""

SQL_STEP = """\
      - name: rows
        sql:
          check: {sql: "SELECT 1 FROM refunds WHERE reference = :ref", params: {ref: return_id}}
          statements:
            - sql: "INSERT INTO refunds (reference, amount) VALUES (:ref, :amount)"
              params: {ref: return_id, amount: refund_minor}
            - sql: "INSERT INTO refund_lines (reference, line) VALUES (:ref, :line)"
              each: lines
              params: {ref: return_id, line: item.line_item_id}
"""

HTTP_STEP = """\
      - name: call
        http: {method: POST, path: "/refunds", body: {note: "Loop return {{ return_id }}"}}
"""

CONTEXT: dict[str, Any] = {
    "return_id": "42",
    "order": {"external_id": "SO-1"},
    "lines": [
        {"line_item_id": "1", "refund_minor": 1250},
        {"line_item_id": "2", "refund_minor": 5},
    ],
    "refund_minor": 1255,
    "steps": {},
}


def _step(tmp_path: Path, text: str) -> CompiledStep:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING + text)
    [outcome] = load_and_compile(path).outcomes
    return outcome.steps[0]


def _platform(tmp_path: Path, **source: Any) -> Platform:
    return Platform({"connector": "files", "root": "data", **source}, tmp_path, None)


def _run(step: CompiledStep, platform: Platform, again: bool = False) -> tuple[Any, str, list[Any]]:
    recorded: list[Any] = []
    answer, how = run_step(step, CONTEXT, platform, again, lambda r, k: recorded.append(r))
    return answer, how, recorded


def test_file_step_writes_the_rows_once_under_the_source_root(tmp_path: Path) -> None:
    step, platform = _step(tmp_path, FILE_STEP), _platform(tmp_path)
    answer, how, recorded = _run(step, platform)
    written = (tmp_path / "data" / "imports" / "memo_42.csv").read_text()
    found, how_again, recorded_again = _run(step, platform, again=True)
    assert found == {"file": "memo_42.csv"}
    assert written.splitlines() == ["SO_NO;AMOUNT", "SO-1;12.50", "SO-1;0.05"]
    assert answer == {"file": "memo_42.csv", "rows": 2} and how == "written"
    assert len(recorded) == 1 and recorded_again == []  # the second run only found the file
    assert how_again == "the file exists already"
    assert [p.name for p in (tmp_path / "data" / "imports").iterdir()] == ["memo_42.csv"]


def test_file_step_is_done_when_the_platform_moved_the_file_away(tmp_path: Path) -> None:
    step, platform = _step(tmp_path, FILE_STEP), _platform(tmp_path)
    applied = tmp_path / "data" / "imports" / "applied"
    applied.mkdir(parents=True)
    (applied / "memo_42.csv").write_text("applied before")
    _, how, recorded = _run(step, platform)
    assert how == "the file exists already" and recorded == []
    assert not (tmp_path / "data" / "imports" / "memo_42.csv").exists()


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "oms.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE refunds (reference TEXT, amount INTEGER)")
        db.execute("CREATE TABLE refund_lines (reference TEXT, line TEXT)")
    return path


def test_sql_step_runs_its_statements_once_in_a_transaction(tmp_path: Path) -> None:
    database = _database(tmp_path)
    step = _step(tmp_path, SQL_STEP)
    platform = _platform(tmp_path, connector="sql", database=str(database), type="sqlite")
    first = _run(step, platform)
    second = _run(step, platform, again=True)
    with sqlite3.connect(database) as db:
        refunds = db.execute("SELECT * FROM refunds").fetchall()
        lines = db.execute("SELECT * FROM refund_lines ORDER BY line").fetchall()
    assert first[:2] == ({"statements": 3}, "committed")
    assert second[1] == "found in the database by the step's check"
    assert refunds == [("42", 1255)] and lines == [("42", "1"), ("42", "2")]


def test_sql_step_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    database = _database(tmp_path)
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE refund_lines")
    step = _step(tmp_path, SQL_STEP)
    platform = _platform(tmp_path, connector="sql", database=str(database), type="sqlite")
    with pytest.raises(Refused, match="refund_lines"):
        _run(step, platform)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM refunds").fetchone() == (0,)


def test_http_step_without_key_or_check_is_not_sent_again(tmp_path: Path) -> None:
    step = _step(tmp_path, HTTP_STEP)
    platform = Platform({}, tmp_path, sender=object())  # type: ignore[arg-type]
    with pytest.raises(Refused, match="neither an idempotency_key nor a check"):
        _run(step, platform, again=True)


def test_outcome_problems_are_reported_with_their_line(tmp_path: Path) -> None:
    bad = HTTP_STEP.replace('"/refunds"', '"/refunds/{{ order.external_id | nope }}"')
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING + bad + "    sync: [orders]\n")
    with pytest.raises(ConfigError) as caught:
        load_and_compile(path)
    said = [str(p) for p in caught.value.problems]
    assert any("unknown filter 'nope'" in p and ":14:" in p and "http.path" in p for p in said)
    assert any("outcomes.refund.sync[0]: unknown entity 'orders'" in p for p in said), said
