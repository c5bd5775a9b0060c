"""`rules:` in the mapping: checked at `etl check` with positions, compiled, evaluated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ConfigError, RecordError
from engine.mapping.compile import CompiledMapping

Build = Callable[..., CompiledMapping]
ENTITY = "entities:\n  customers: {extract: {path: c.json}, map: {email: e}}\n"
EVENT = {
    "topic": "return",
    "trigger": "return.created",
    "id": "6042537",
    "state": "open",
    "total": "250.00",
    "currency": "USD",
    "order_name": "#1001",
}


def _rules(body: str) -> str:
    return ENTITY + "rules:\n" + "".join(f"  {line}\n" for line in body.strip().splitlines())


def test_a_rule_matches_its_trigger_and_condition_and_renders_its_texts(compiled: Build) -> None:
    mapping = compiled(
        "vars: {limit: 200}\n"
        + _rules(
            """
- name: inspect high-value returns
  trigger: [return.created, return.updated]
  when: "to_number(total) > vars.limit"
  actions:
    - flag: "Inspect: {{ total }} {{ currency }} on {{ order_name }}"
    - process: {inspected_by: "loop-etl {{ vars.limit }}"}
"""
        )
    )
    [rule] = mapping.rules
    assert rule.matches(EVENT)
    assert not rule.matches(EVENT | {"total": "20.00"})
    assert not rule.matches(EVENT | {"trigger": "return.closed"})
    assert rule.actions(EVENT) == [
        ("flag", "Inspect: 250.00 USD on #1001", {}),
        ("process", None, {"inspected_by": "loop-etl 200"}),
    ]


def test_rule_mistakes_are_mapping_errors_with_positions(compiled: Build) -> None:
    with pytest.raises(ConfigError) as caught:
        compiled(
            _rules(
                """
- name: a
  trigger: [return.created]
  when: "to_nmber(total) > `1`"
  actions: [{note: "{{ total | nope }}"}]
"""
            )
        )
    text = "\n".join(caught.value.lines())
    assert "rules[0].when: unknown function to_nmber()" in text
    assert "rules[0].actions[0].note: Jinja error" in text


def test_two_rules_of_one_name_are_refused(compiled: Build) -> None:
    with pytest.raises(ConfigError) as caught:
        compiled(_rules("- {name: a, trigger: [return.created], actions: [{close: true}]}\n" * 2))
    assert "rules[1].name: a second rule named 'a'" in "\n".join(caught.value.lines())


def test_rule_shapes_are_checked_by_the_schema(compiled: Build) -> None:
    with pytest.raises(ConfigError) as caught:
        compiled(
            _rules("- {name: b, trigger: [return.opened], actions: [{close: true, cancel: true}]}")
        )
    text = "\n".join(caught.value.lines())
    assert "rules[0].trigger[0]" in text and "rules[0].actions[0]" in text


def test_a_condition_that_fails_on_an_event_is_a_record_error(compiled: Build) -> None:
    mapping = compiled(
        _rules(
            '- {name: a, trigger: [return.created], when: "cents(state) > `1`", actions: [{close: true}]}'
        )
    )
    with pytest.raises(RecordError, match="rule 'a': when:"):
        mapping.rules[0].matches(EVENT)


def test_the_shipped_schema_documents_rules(tmp_path: Path) -> None:
    import json

    from engine.resources import schemas_dir

    schema = json.loads((schemas_dir() / "mapping.schema.json").read_text())
    rule = schema["$defs"]["rule"]
    assert {"name", "trigger", "when", "actions"} <= set(rule["properties"])
    assert all("description" in p for p in rule["properties"].values())
