"""`rules:` compiled: each condition a JMESPath expression with the mapping's functions, each
text a sandboxed, bounded Jinja template, checked at `etl check` with `file:line:col`.

A rule is evaluated against one Loop event (a return as Loop sends it: its fields at the top,
`trigger` among them); `matches` says whether it fires, `actions` renders what it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Template

from engine.errors import Problem, RecordError
from engine.mapping.functions import make_options
from engine.mapping.jinja_env import make_environment
from engine.mapping.model import Mapping, Rule
from engine.mapping.runtime import describe_error
from engine.mapping.snippets import compile_expression, compile_text, evaluate
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
            return truthy(evaluate(self.condition, event, self.options, self.variables))
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
    return compile_expression(rule.when, (*rule.path, "when"), mapping, options, problems)


def _templates(
    rule: Rule, env: Any, mapping: Mapping, problems: list[Problem]
) -> dict[tuple[int, str], Template]:
    out: dict[tuple[int, str], Template] = {}
    for index, action in enumerate(rule.actions):
        texts = {"": action.text} if action.text is not None else {}
        texts.update(action.details)
        for key, text in texts.items():
            where: KeyPath = (*rule.path, "actions", index, action.kind, *([key] if key else []))
            template = compile_text(text, where, mapping, env, problems)
            if template is not None:
                out[(index, key)] = template
    return out
