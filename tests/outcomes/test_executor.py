"""The executor's own rules: a condition that cannot be read on an event is recorded as a failed
run (never dropped), and a step the mapping no longer has fails rather than crash."""

from __future__ import annotations

from pathlib import Path

from engine.mapping.compile import load_and_compile
from engine.outcomes import Executor, Platform
from engine.state import State
from tests.outcomes.test_steps import MAPPING

WHEN = """\
      - name: memo
        file: {folder: imports, name: "m_{{ return_id }}.csv", rows: {each: lines, map: {A: "'1'"}}}
"""


def _executor(tmp_path: Path, text: str, state: State) -> Executor:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    compiled = load_and_compile(path)
    return Executor(compiled, state, Platform({"root": "data"}, tmp_path, None))


def test_executor_records_a_condition_it_cannot_read_as_a_failed_run(tmp_path: Path) -> None:
    text = MAPPING.replace("    steps:\n", '    when: "cents(return.total) > `0`"\n    steps:\n')
    event = {"topic": "return", "trigger": "return.closed", "id": "42", "total": "12,3x"}
    with State(tmp_path / "s.duckdb") as state:
        results = _executor(tmp_path, text + WHEN, state).on_event(event, "k")
        [row] = state.outbox.every()
        run = state.outbox.run("42", "refund")
    assert [(r.status, r.outcome) for r in results] == [("failed", "refund")]
    assert row.status == "failed" and row.reason is not None and row.reason.startswith("when: ")
    assert "12,3x" in row.reason
    assert run is not None and run.status == "failed"
    assert not (tmp_path / "data" / "imports").exists()  # nothing was written


def test_executor_fails_a_step_the_mapping_no_longer_has(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        state.outbox.claim("43", "refund", [("gone", None, "http")], {"steps": {}}, None, None)
        result = _executor(tmp_path, MAPPING + WHEN, state).execute("43", "refund")
        [row] = state.outbox.every()
    assert result.status == "failed" and "no longer has this step" in (result.reason or "")
    assert row.status == "failed"
