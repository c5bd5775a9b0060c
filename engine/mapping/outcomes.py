"""`outcomes:` compiled (bucket IV): each outcome's condition, and each step's texts, values and
answer expressions, checked at `etl check` with `file:line:col`.

A step's texts (a path, a file name, an idempotency key, a check's match values) are Jinja
templates; its values (an HTTP body or query, a file's rows, a statement's parameters) are
field specs compiled like `map:` (JMESPath, templates, `each`/`map`, `const`) into the mapping's
generated module; `keep`, a check's `records` and a statement's `each` are JMESPath. All of them
read the outcome's context (engine.outcomes.context), built once per return and outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import Template

from engine.errors import Problem, RecordError
from engine.mapping.functions import make_options
from engine.mapping.jinja_env import make_environment
from engine.mapping.model import Mapping, Outcome, OutcomeStep
from engine.mapping.rules import truthy
from engine.mapping.runtime import FieldIssue, describe_error
from engine.mapping.snippets import compile_expression, compile_text, evaluate
from engine.mapping.yamlsource import KeyPath

Shape = Callable[[Any, KeyPath, str], str]  # (spec, key path, empty) -> generated function name


@dataclass(frozen=True)
class StepPlan:
    """A step half compiled: its value specs are function names in the mapping's module."""

    step: OutcomeStep
    shapes: dict[str, str]
    texts: dict[str, Template]
    expressions: dict[str, Any]


@dataclass(frozen=True)
class CompiledStep:
    step: OutcomeStep
    shapes: dict[str, Callable[..., Any]]
    texts: dict[str, Template]
    expressions: dict[str, Any]
    options: Any
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def kind(self) -> str:
        return self.step.kind

    @property
    def spec(self) -> dict[str, Any]:
        return self.step.spec

    def has(self, slot: str) -> bool:
        return slot in self.shapes or slot in self.texts or slot in self.expressions

    def value(self, slot: str, context: dict[str, Any]) -> Any:
        """A value spec over the context; every field that fails is named (RecordError)."""
        issues: list[FieldIssue] = []
        value = self.shapes[slot](context, None, context, issues, [], "")
        if issues:
            said = "; ".join(str(i) for i in issues[:5])
            raise RecordError(f"step {self.name!r}: {slot}: {said}")
        return value

    def text(self, slot: str, context: dict[str, Any]) -> str:
        try:
            rendered = self.texts[slot].render(context)
        except Exception as exc:
            raise RecordError(f"step {self.name!r}: {slot}: {describe_error(exc)}") from None
        return "" if rendered is None else str(rendered)

    def items(self, context: dict[str, Any]) -> list[Any] | None:
        """For a step sent once per item (`each`): the items; None for a plain step."""
        if "each" not in self.expressions:
            return None
        found = self.evaluate("each", context)
        if found is None:
            return []
        if not isinstance(found, list):
            raise RecordError(f"step {self.name!r}: each: needs a list, got {type(found).__name__}")
        return found

    def evaluate(self, slot: str, value: Any) -> Any:
        try:
            return evaluate(self.expressions[slot], value, self.options, self.variables)
        except Exception as exc:
            raise RecordError(f"step {self.name!r}: {slot}: {describe_error(exc)}") from None


@dataclass(frozen=True)
class CompiledOutcome:
    outcome: Outcome
    condition: Any  # a jmespath ParsedResult, or None (always)
    steps: tuple[CompiledStep, ...]
    options: Any
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        return self.outcome.name

    def matches(self, trigger: str | None, context: dict[str, Any]) -> bool:
        """The trigger is one the outcome listens to, and its condition holds over the context
        (a condition that fails on it is a RecordError)."""
        if trigger not in self.outcome.triggers:
            return False
        if self.condition is None:
            return True
        try:
            return truthy(evaluate(self.condition, context, self.options, self.variables))
        except Exception as exc:
            raise RecordError(f"outcome {self.name!r}: when: {describe_error(exc)}") from None


def plan_outcomes(mapping: Mapping, shape: Shape, problems: list[Problem]) -> list[StepPlan]:
    """Every step's value specs emitted through `shape` (into the mapping's module), its
    texts and expressions compiled; problems appended."""
    options = make_options(mapping.timezone)
    env = make_environment(mapping.timezone, vars=mapping.vars)
    plans = []
    for outcome in mapping.outcomes:
        if outcome.when is not None:  # compiled again by bind_outcomes; here for problems
            compile_expression(outcome.when, (*outcome.path, "when"), mapping, options, problems)
        for step in outcome.steps:
            plans.append(_plan_step(step, mapping, shape, env, options, problems))
    return plans


def bind_outcomes(
    plans: list[StepPlan], namespace: dict[str, Any], mapping: Mapping
) -> tuple[CompiledOutcome, ...]:
    """The outcomes ready to run, their step functions taken from the executed module."""
    options = make_options(mapping.timezone)
    by_step = {plan.step.path: plan for plan in plans}
    out = []
    for outcome in mapping.outcomes:
        condition = None
        if outcome.when is not None:
            condition = compile_expression(
                outcome.when, (*outcome.path, "when"), mapping, options, []
            )
        steps = tuple(
            CompiledStep(
                step,
                {slot: namespace[fn] for slot, fn in by_step[step.path].shapes.items()},
                by_step[step.path].texts,
                by_step[step.path].expressions,
                options,
                mapping.vars,
            )
            for step in outcome.steps
        )
        out.append(CompiledOutcome(outcome, condition, steps, options, mapping.vars))
    return tuple(out)


def _plan_step(
    step: OutcomeStep,
    mapping: Mapping,
    shape: Shape,
    env: Any,
    options: Any,
    problems: list[Problem],
) -> StepPlan:
    base = (*step.path, step.kind)
    collect = {"http": _http_slots, "file": _file_slots}.get(step.kind, _sql_slots)
    texts, values, expressions = collect(step.spec)
    return StepPlan(
        step,
        {slot: shape(v, (*base, *_keys(slot)), "None") for slot, v in values.items()},
        _texts(texts, base, mapping, env, problems),
        {
            slot: compile_expression(text, (*base, *_keys(slot)), mapping, options, problems)
            for slot, text in expressions.items()
        },
    )


# A step's slots, by kind: its texts (Jinja), its values (shaped) and its expressions (JMESPath).
Slots = tuple[dict[str, str], dict[str, Any], dict[str, str]]


def _http_slots(spec: dict[str, Any]) -> Slots:
    texts: dict[str, str] = {k: spec[k] for k in ("path", "idempotency_key") if k in spec}
    values: dict[str, Any] = {k: spec[k] for k in ("params", "body") if k in spec}
    expressions: dict[str, str] = {f"keep.{k}": v for k, v in (spec.get("keep") or {}).items()}
    if "each" in spec:
        expressions["each"] = spec["each"]
    check = spec.get("check") or {}
    if check:
        texts["check.path"] = check["path"]
        texts |= {f"check.match.{k}": v for k, v in check["match"].items()}
        if "params" in check:
            values["check.params"] = check["params"]
        if "records" in check:
            expressions["check.records"] = check["records"]
    return texts, values, expressions


def _file_slots(spec: dict[str, Any]) -> Slots:
    texts: dict[str, str] = {k: spec[k] for k in ("folder", "name")}
    texts |= {f"also_done_if.{i}": p for i, p in enumerate(spec.get("also_done_if", []))}
    return texts, {"rows": spec["rows"]}, {}


def _sql_slots(spec: dict[str, Any]) -> Slots:
    values: dict[str, Any] = {}
    expressions: dict[str, str] = {}
    check = spec.get("check") or {}
    if "params" in check:
        values["check.params"] = check["params"]
    for i, statement in enumerate(spec["statements"]):
        if "params" in statement:
            values[f"statements.{i}.params"] = statement["params"]
        if "each" in statement:
            expressions[f"statements.{i}.each"] = statement["each"]
    return {}, values, expressions


def _texts(
    texts: dict[str, str], base: KeyPath, mapping: Mapping, env: Any, problems: list[Problem]
) -> dict[str, Template]:
    out = {}
    for slot, text in texts.items():
        template = compile_text(str(text), (*base, *_keys(slot)), mapping, env, problems)
        if template is not None:
            out[slot] = template
    return out


def _keys(slot: str) -> KeyPath:
    """'statements.0.params' -> ('statements', 0, 'params'): where the slot is in the YAML."""
    return tuple(int(p) if p.isdigit() else p for p in slot.split("."))
