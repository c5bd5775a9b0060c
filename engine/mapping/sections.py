"""Building the mapping's bucket IV, platform-webhook and reconcile sections from a checked
document: `outcomes:`, `return_actions:`, `platform_webhooks.subscribe` and `reconcile:`, and
an entity's `window:` (the rest is engine/mapping/load.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
import jmespath.exceptions
from jinja2 import TemplateError

from engine.mapping.jinja_env import compile_template, make_environment
from engine.mapping.model import (
    Entity,
    Outcome,
    OutcomeStep,
    PlatformSubscribe,
    ReturnActionSource,
    SubscriptionList,
    Window,
)
from engine.mapping.suggest import unknown
from engine.mapping.yamlsource import KeyPath

# Loop caps a returns listing at 120 days (loop-api.md "Batch limits"); a shop's own return
# policy is usually shorter, so 120 days holds every order a shopper can still return.
DEFAULT_WINDOW_DAYS = 120
STEP_KINDS = ("http", "file", "sql")  # an outcome step does one of these in the platform
Report = Callable[[KeyPath, str], None]  # (where, message): a problem found


def outcomes(
    data: dict[str, Any], entities: dict[str, Entity], problem: Report
) -> tuple[Outcome, ...]:
    """`outcomes:` as dataclasses; a repeated step name or an unknown `sync` entity reported."""
    out = []
    for name, spec in data.get("outcomes", {}).items():
        path: KeyPath = ("outcomes", name)
        steps, names = [], set()
        for i, step in enumerate(spec["steps"]):
            kind = next(k for k in STEP_KINDS if k in step)
            if step["name"] in names:
                problem((*path, "steps", i, "name"), f"a second step {step['name']!r}")
            names.add(step["name"])
            steps.append(OutcomeStep(step["name"], kind, step[kind], (*path, "steps", i)))
        for i, entity in enumerate(spec.get("sync", [])):
            if entity not in entities:
                problem((*path, "sync", i), unknown("entity", entity, entities))
        out.append(
            Outcome(name, tuple(spec["trigger"]), tuple(steps), path, spec.get("when"),
                    tuple(spec.get("sync", [])))
        )  # fmt: skip
    return tuple(out)


def platform_subscribe(
    data: dict[str, Any], entities: dict[str, Entity], problem: Report
) -> PlatformSubscribe | None:
    """`platform_webhooks.subscribe`: each topic names a top-level entity (the receiver
    syncs those), and the body's templates compile."""
    spec = (data.get("platform_webhooks") or {}).get("subscribe")
    if not spec:
        return None
    path: KeyPath = ("platform_webhooks", "subscribe")
    top = [name for name, e in entities.items() if e.parent is None]
    for topic, entity in spec["topics"].items():
        if entity not in top:
            problem((*path, "topics", topic), unknown("top-level entity", entity, top))
    env = make_environment()
    for where, text in _strings(spec["body"], (*path, "body")):
        try:
            compile_template(env, text)
        except (TemplateError, RecursionError) as exc:
            message = getattr(exc, "message", None) or str(exc) or "too deeply nested"
            problem(where, f"Jinja error: {message}")
    listing = spec.get("list")
    return PlatformSubscribe(
        path=spec["path"],
        topics=dict(spec["topics"]),
        body=spec["body"],
        method=spec.get("method", "POST"),
        listing=SubscriptionList(**listing) if listing else None,
    )


def expected_extras(
    data: dict[str, Any], entities: dict[str, Entity], problem: Report
) -> dict[str, str | None]:
    """`reconcile.expected_extras`: a list of entities (every extra record expected), or entity
    -> true or a JMESPath over Loop's record; unknown entities and bad JMESPath reported."""
    spec = (data.get("reconcile") or {}).get("expected_extras") or {}
    path: KeyPath = ("reconcile", "expected_extras")
    if isinstance(spec, list):
        spec = {name: True for name in spec}
        named: list[tuple[KeyPath, str]] = [((*path, i), n) for i, n in enumerate(spec)]
    else:
        named = [((*path, n), n) for n in spec]
    for where, name in named:
        if name not in entities:
            problem(where, unknown("entity", name, entities))
    out: dict[str, str | None] = {}
    for name, value in spec.items():
        if isinstance(value, str):
            try:
                jmespath.compile(value)
            except jmespath.exceptions.JMESPathError as exc:
                problem((*path, name), f"JMESPath syntax error in {value!r}: {exc}")
        out[name] = value if isinstance(value, str) else None
    return out


def _strings(value: Any, path: KeyPath) -> list[tuple[KeyPath, str]]:
    """Every string in a nested body, with its key path."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _strings(v, (*path, str(k)))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, (*path, i))]
    return []


def window(spec: dict[str, Any] | None, path: KeyPath, problem: Report) -> Window | None:
    """An entity's `window:` built, its field checked as JMESPath (the schema checked the
    rest)."""
    if spec is None:
        return None
    try:
        jmespath.compile(spec["field"])
    except jmespath.exceptions.JMESPathError as exc:
        problem((*path, "field"), f"not a JMESPath expression: {' '.join(str(exc).split())}")
    return Window(
        field=spec["field"],
        days=spec.get("days", DEFAULT_WINDOW_DAYS),
        older=spec.get("older", "skip"),
        slice_days=spec.get("slice_days"),
        extract=spec.get("extract", {}),
    )


def return_actions(
    data: dict[str, Any], entities: dict[str, Entity], problem: Report
) -> tuple[ReturnActionSource, ...]:
    """`return_actions:` as dataclasses: a name taken by an entity, a source that names no
    return, or an unknown orders entity reported."""
    out = []
    for name, spec in data.get("return_actions", {}).items():
        path: KeyPath = ("return_actions", name)
        if name in entities:
            problem(path, f"{name!r} is an entity already: name the source apart")
            continue
        if not any(spec.get(k) for k in ("return_id", "order", "order_name")):
            problem(path, "say which return: `return_id`, `order` or `order_name`")
            continue
        orders = spec.get("orders_entity", "orders")
        if spec.get("order") and orders not in entities:
            problem((*path, "order"), unknown("entity", orders, entities))
            continue
        fields = {k: spec[k] for k in ("return_id", "order", "order_name", "note", "lines")
                  if k in spec}  # fmt: skip
        out.append(
            ReturnActionSource(
                name,
                spec["extract"],
                spec["key"],
                spec["action"],
                path,
                orders_entity=orders,
                details=dict(spec.get("details", {})),
                **fields,
            )
        )
    return tuple(out)
