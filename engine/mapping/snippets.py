"""Expressions and templates outside `map:` (rules, return actions): compiled once with the
mapping's functions and filters, each problem reported at its key with `file:line:col`, and
evaluated with `vars` in scope."""

from __future__ import annotations

from typing import Any

import jmespath
import jmespath.exceptions
from jinja2 import Template, TemplateError

from engine.errors import Problem
from engine.mapping.jinja_env import LoopEnvironment, compile_template
from engine.mapping.model import Mapping
from engine.mapping.runtime import ScopedInterpreter
from engine.mapping.yamlsource import KeyPath


def compile_expression(
    text: str, where: KeyPath, mapping: Mapping, options: Any, problems: list[Problem]
) -> Any:
    """A jmespath ParsedResult, or None after reporting a syntax error or unknown function."""
    try:
        parsed = jmespath.compile(text)
    except (jmespath.exceptions.JMESPathError, RecursionError) as exc:
        message = " ".join(str(exc).split()) or "nested too deeply"
        problems.append(mapping.positions.problem(where, f"JMESPath syntax error: {message}"))
        return None
    known = options.custom_functions.FUNCTION_TABLE
    unknown = [name for name in _functions(parsed.parsed) if name not in known]
    for name in unknown:
        problems.append(mapping.positions.problem(where, f"unknown function {name}()"))
    return None if unknown else parsed


def compile_text(
    text: str, where: KeyPath, mapping: Mapping, env: LoopEnvironment, problems: list[Problem]
) -> Template | None:
    """A compiled template, or None after reporting why not."""
    try:
        return compile_template(env, text)
    except (TemplateError, RecursionError) as exc:
        message = getattr(exc, "message", None) or str(exc) or "too deeply nested"
        problems.append(mapping.positions.problem(where, f"Jinja error: {message}"))
        return None


def evaluate(parsed: Any, value: Any, options: Any, variables: dict[str, Any]) -> Any:
    """The expression over `value`, with `vars` (bounded like every expression)."""
    return ScopedInterpreter(options, value, {"vars": variables}).visit(parsed.parsed, value)


def _functions(node: Any) -> list[str]:
    found, pending = [], [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            if current.get("type") == "function_expression":
                found.append(str(current["value"]))
            pending.extend(current.get("children", ()))
    return found
