"""`rules:` compiled: each condition a JMESPath expression with the mapping's functions, each
text a sandboxed, bounded Jinja template, checked at `etl check` with `file:line:col`.

A rule is evaluated against one Loop event (a return as Loop sends it: its fields at the top,
`trigger` among them); `matches` says whether it fires, `actions` renders what it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
from jinja2 import Template, TemplateError

from engine.errors import Problem, RecordError
from engine.mapping.functions import make_options
from engine.mapping.jinja_env import compile_template, make_environment
from engine.mapping.model import Mapping, Rule
from engine.mapping.runtime import ScopedInterpreter, describe_error
from engine.mapping.yamlsource import KeyPath

# A rule's rendered action: (kind, note text or None, process details).
Action = tuple[str, str | None, dict[str, str]]


def truthy(value: Any) -> bool:
    """JMESPath's truth: not null, false, '', [] or {}."""
    return not (value is None or value is False or value in ("", [], {}))


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: Any  # a jmespath ParsedResult, or None (always)
    templates: dict[tuple[int, str], Template]  # (action index, detail key or "") -> template
    options: Any
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        return self.rule.name

    def matches(self, event: dict[str, Any]) -> bool:
        """The event's trigger is one the rule listens to, and its condition holds.
        A condition that fails on this event (a bound, a bad value) is a RecordError."""
        if event.get("trigger") not in self.rule.triggers:
            return False
        if self.condition is None:
            return True
        try:
            interpreter = ScopedInterpreter(self.options, event, {"vars": self.variables})
            return truthy(interpreter.visit(self.condition.parsed, event))
        except Exception as exc:
            raise RecordError(f"rule {self.name!r}: when: {describe_error(exc)}") from None

    def actions(self, event: dict[str, Any]) -> list[Action]:
        """What the rule does for this event, its texts rendered."""
        context = {**event, "this": event, "vars": self.variables}
        out: list[Action] = []
        for index, action in enumerate(self.rule.actions):
            text = self._render((index, ""), context) if action.text is not None else None
            details = {key: self._render((index, key), context) for key in sorted(action.details)}
            out.append((action.kind, text, details))
        return out

    def _render(self, slot: tuple[int, str], context: dict[str, Any]) -> str:
        try:
            value = self.templates[slot].render(context)
        except Exception as exc:
            raise RecordError(f"rule {self.name!r}: {describe_error(exc)}") from None
        return "" if value is None else str(value)


def compile_rules(mapping: Mapping) -> tuple[tuple[CompiledRule, ...], list[Problem]]:
    """Every rule compiled, and the problems found (reported with the mapping's others)."""
    options = make_options(mapping.timezone)
    env = make_environment(mapping.timezone, vars=mapping.vars)
    problems: list[Problem] = []
    compiled = []
    for rule in mapping.rules:
        before = len(problems)
        condition = _condition(rule, options, mapping, problems)
        templates = _templates(rule, env, mapping, problems)
        if len(problems) == before:
            compiled.append(CompiledRule(rule, condition, templates, options, mapping.vars))
    return tuple(compiled), problems


def _condition(rule: Rule, options: Any, mapping: Mapping, problems: list[Problem]) -> Any:
    if rule.when is None:
        return None
    where: KeyPath = (*rule.path, "when")
    try:
        parsed = jmespath.compile(rule.when)
    except jmespath.exceptions.JMESPathError as exc:
        message = " ".join(str(exc).split())
        problems.append(mapping.positions.problem(where, f"JMESPath syntax error: {message}"))
        return None
    except RecursionError:
        problems.append(mapping.positions.problem(where, "the condition nests too deeply"))
        return None
    known = options.custom_functions.FUNCTION_TABLE
    for name in _functions(parsed.parsed):
        if name not in known:
            problems.append(mapping.positions.problem(where, f"unknown function {name}()"))
    return parsed


def _functions(node: Any) -> list[str]:
    found, pending = [], [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            if current.get("type") == "function_expression":
                found.append(str(current["value"]))
            pending.extend(current.get("children", ()))
    return found


def _templates(
    rule: Rule, env: Any, mapping: Mapping, problems: list[Problem]
) -> dict[tuple[int, str], Template]:
    out: dict[tuple[int, str], Template] = {}
    for index, action in enumerate(rule.actions):
        texts = {"": action.text} if action.text is not None else {}
        texts.update(action.details)
        for key, text in texts.items():
            where: KeyPath = (*rule.path, "actions", index, action.kind, *([key] if key else []))
            try:
                out[(index, key)] = compile_template(env, text)
            except (TemplateError, RecursionError) as exc:
                message = getattr(exc, "message", None) or str(exc) or "too deeply nested"
                problems.append(mapping.positions.problem(where, f"Jinja error: {message}"))
    return out
