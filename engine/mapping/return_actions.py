"""`return_actions:` compiled: each source's expressions (JMESPath with `vars`) and note
template, checked at `etl check`; `plan(record)` turns one platform record into the action it
asks for, or the reasons it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template

from engine.errors import Problem
from engine.mapping.functions import make_options
from engine.mapping.jinja_env import make_environment
from engine.mapping.model import Mapping, ReturnActionSource
from engine.mapping.runtime import describe_error
from engine.mapping.snippets import compile_expression, compile_text, evaluate

ACTIONS = ("process", "flag", "note", "close", "cancel", "remove")
_EXPRESSIONS = ("key", "action", "return_id", "order", "order_name", "lines")


@dataclass
class PlannedAction:
    """What one record asks: its key, the return (by id, or its order), the action and its
    arguments; `issues` when the record cannot be turned into one."""

    key: str | None = None
    action: str | None = None
    return_id: str | None = None
    order: str | None = None
    order_name: str | None = None
    note: str | None = None
    lines: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """What was asked, for the ID map's hash: the same key asking anew acts anew."""
        parts = [self.action, self.note, ",".join(self.lines), repr(sorted(self.details.items()))]
        return "|".join(str(p) for p in parts)


@dataclass(frozen=True)
class CompiledReturnActions:
    source: ReturnActionSource
    expressions: dict[str, Any]  # name -> jmespath ParsedResult ("detail:KEY" for details)
    note: Template | None
    options: Any
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        return self.source.name

    def plan(self, record: Any) -> PlannedAction:
        out = PlannedAction()
        values = {name: self._eval(name, record, out) for name in self.expressions}
        out.key = _text(values.get("key"))
        out.action = _text(values.get("action"))
        out.return_id = _text(values.get("return_id"))
        out.order = _text(values.get("order"))
        out.order_name = _text(values.get("order_name"))
        out.lines = _lines(values.get("lines"))
        out.details = {
            k.removeprefix("detail:"): str(v)
            for k, v in values.items()
            if k.startswith("detail:") and v is not None
        }
        if self.note is not None and isinstance(record, dict):
            try:
                out.note = str(self.note.render({**record, "this": record, "vars": self.variables}))
            except Exception as exc:
                out.issues.append(f"note: {describe_error(exc)}")
        self._check(out)
        return out

    def _eval(self, name: str, record: Any, out: PlannedAction) -> Any:
        try:
            return evaluate(self.expressions[name], record, self.options, self.variables)
        except Exception as exc:
            out.issues.append(f"{name}: {describe_error(exc)}")
            return None

    def _check(self, out: PlannedAction) -> None:
        if out.key is None:
            out.issues.append("key: the record has no key")
        if out.action is not None and out.action not in ACTIONS:
            out.issues.append(f"action: {out.action!r} is not one of {', '.join(ACTIONS)}")
        if out.action == "remove" and not out.lines:
            out.issues.append("lines: remove needs the line item ids")
        if out.action == "note" and not out.note:
            out.issues.append("note: the note action needs a note")
        if out.action and not (out.return_id or out.order or out.order_name):
            out.issues.append("the record names no return, order or order name")


def _text(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    return str(value)


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def compile_return_actions(
    mapping: Mapping,
) -> tuple[tuple[CompiledReturnActions, ...], list[Problem]]:
    options = make_options(mapping.timezone)
    env = make_environment(mapping.timezone, vars=mapping.vars)
    problems: list[Problem] = []
    out = []
    for source in mapping.return_actions:
        before = len(problems)
        expressions: dict[str, Any] = {}
        texts = {name: getattr(source, name) for name in _EXPRESSIONS}
        texts |= {f"detail:{k}": v for k, v in source.details.items()}
        for name, text in texts.items():
            if text is not None:
                where = (*source.path, *name.split(":"))
                expressions[name] = compile_expression(text, where, mapping, options, problems)
        note = None
        if source.note is not None:
            note = compile_text(source.note, (*source.path, "note"), mapping, env, problems)
        if len(problems) == before:
            out.append(CompiledReturnActions(source, expressions, note, options, mapping.vars))
    return tuple(out), problems
