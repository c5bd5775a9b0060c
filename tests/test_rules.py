"""Rules applied to Loop events: once per return and rule (claimed in a real state file), in
order, the first failure recorded with Loop's words. The return actions are the seam
(`ReturnActions`); end to end against the sandbox in tests/serve/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.errors import EngineError
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.rules import apply_rules, return_id_of
from engine.state import State

HEADER = "version: 1\nname: t\nsource: {connector: files, root: data}\n"
ENTITY = "entities:\n  customers: {extract: {path: c.json}, map: {email: e}}\n"
RULES = """rules:
  - name: inspect
    trigger: [return.created]
    when: "to_number(total) > `100`"
    actions:
      - flag: "Inspect {{ order_name }}"
      - note: "by loop-etl"
"""
EVENT = {"topic": "return", "trigger": "return.created", "id": 77, "total": "250.00",
         "order_name": "#1001"}  # fmt: skip


class Recorder:
    """Records the return actions asked for; `fail` names one that Loop refuses."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail

    def _call(self, *call: Any) -> bool:
        self.calls.append(call)
        if call[0] == self.fail:
            raise EngineError("Return is closed and therefore cannot be flagged. (UNPROCESSABLE)")
        return True

    def flag(self, return_id: str) -> Any:
        return self._call("flag", return_id)

    def note(self, return_id: str, text: str) -> Any:
        return self._call("note", return_id, text)

    def process(self, return_id: str, details: dict[str, str] | None = None) -> Any:
        return self._call("process", return_id, details)

    def close(self, return_id: str) -> Any:
        return self._call("close", return_id)

    def cancel(self, return_id: str) -> Any:
        return self._call("cancel", return_id)


@pytest.fixture
def mapping(tmp_path: Path) -> CompiledMapping:
    path = tmp_path / "m.yaml"
    path.write_text(HEADER + ENTITY + RULES)
    return load_and_compile(path, env={})


def test_a_rule_fires_once_per_return_however_often_the_event_comes(
    mapping: CompiledMapping, tmp_path: Path
) -> None:
    loop = Recorder()
    with State(tmp_path / "s.duckdb") as state:
        first = apply_rules(mapping.rules, EVENT, loop, state)
        again = [apply_rules(mapping.rules, EVENT, loop, state) for _ in range(9)]
        firings = state.rule_firings("77")
    assert [(f.status, f.actions) for f in first] == [("done", ["flag", "note"])]
    assert all(f.status == "skipped" for batch in again for f in batch)
    assert loop.calls == [
        ("flag", "77"),
        ("note", "77", "Inspect #1001"),
        ("note", "77", "by loop-etl"),
    ]
    assert [(f["rule"], f["status"]) for f in firings] == [("inspect", "done")]


def test_a_refused_action_stops_the_rule_and_is_recorded(
    mapping: CompiledMapping, tmp_path: Path
) -> None:
    with State(tmp_path / "s.duckdb") as state:
        [firing] = apply_rules(mapping.rules, EVENT, Recorder(fail="flag"), state)
        [stored] = state.rule_firings()
    assert firing.status == "failed" and "cannot be flagged" in (firing.reason or "")
    assert (stored["status"], stored["actions"]) == ("failed", [])


def test_rules_that_do_not_match_do_nothing(mapping: CompiledMapping, tmp_path: Path) -> None:
    loop = Recorder()
    with State(tmp_path / "s.duckdb") as state:
        assert apply_rules(mapping.rules, EVENT | {"total": "5.00"}, loop, state) == []
        assert apply_rules(mapping.rules, EVENT | {"trigger": "return.closed"}, loop, state) == []
        assert state.rule_firings() == []
    assert loop.calls == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"topic": "return", "id": "6042537"}, "6042537", id="return, string id"),
        pytest.param({"topic": "return", "id": 6042537}, "6042537", id="return, integer id"),
        pytest.param({"topic": "label", "id": "12"}, "12", id="label: id is the return's"),
        pytest.param({"topic": "giftcard", "id": None, "return_id": 9}, "9", id="gift card"),
        pytest.param({"topic": "return.processing", "return_id": 5}, "5", id="processing failed"),
        pytest.param({"topic": "return"}, None, id="no id"),
    ],
)
def test_the_return_id_of_each_event_kind(event: dict[str, Any], expected: str | None) -> None:
    assert return_id_of(event) == expected
