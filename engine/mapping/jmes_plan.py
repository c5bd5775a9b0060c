"""Turns JMESPath ASTs into Python source for the common shapes; the rest is searched as usual.

Plain field paths, indexes, literals, `@`, `||` and calls of the mapping's own functions (and
to_string / to_number) become straight-line Python, so a compiled mapping costs about what a
hand-written function does. Any other expression is kept as a compiled JMESPath and searched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Emitter = Callable[[Any], str]

SCOPE_NAMES = ("parent", "root", "vars")


class Unsupported(Exception):
    """The expression has a shape the planner does not turn into Python."""


def to_string(value: Any) -> Any:
    """JMESPath's to_string: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def to_number(value: Any) -> Any:
    """JMESPath's to_number: numbers as they are, numeric strings parsed, else null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    """JMESPath truth: null, false and empty strings, lists and objects are false."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


def get_index(value: Any, index: int) -> Any:
    if isinstance(value, list):
        try:
            return value[index]
        except IndexError:
            return None
    return None


def references_scope(node: Any) -> bool:
    """Whether the AST names `parent`, `root` or `vars` anywhere (then it needs the scope)."""
    if isinstance(node, dict):
        if node.get("type") == "field" and node.get("value") in SCOPE_NAMES:
            return True
        return any(references_scope(c) for c in node.get("children", ()))
    return False


class JmesPlanner:
    """Emits a Python expression for an AST, given names for the scope variables.

    `const` registers a Python value in the generated module and returns its name;
    `func` returns the generated name bound to a mapping function, or None if unknown.
    """

    def __init__(
        self,
        const: Callable[[Any], str],
        func: Callable[[str], str | None],
        temp: Callable[[], str],
    ) -> None:
        self.const, self.func, self.temp = const, func, temp

    def expr(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        kind = node["type"]
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise Unsupported(kind)
        result: str = method(node, cur, scope)
        return result

    def _field(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        name = node["value"]
        if cur == scope["rec"] and name in SCOPE_NAMES:
            return scope[name]
        t = self.temp()
        return f"({t}.get({name!r}) if isinstance({t} := {cur}, dict) else None)"

    def _subexpression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        first, *rest = node["children"]
        code = self.expr(first, cur, scope)
        for right in rest:
            if right["type"] != "field":
                raise Unsupported("subexpression")
            t = self.temp()
            code = f"({t}.get({right['value']!r}) if isinstance({t} := {code}, dict) else None)"
        return code

    def _index_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        left, right = node["children"]
        if right["type"] != "index":
            raise Unsupported("index_expression")
        inner = self.expr(left, cur, scope)
        return f"_get_index({inner}, {int(right['value'])})"

    def _literal(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        value = node["value"]
        if value is None or isinstance(value, bool | int | float | str):
            return repr(value)
        return self.const(value)

    def _current(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        return cur

    def _or_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        left, right = node["children"]
        t = self.temp()
        a, b = self.expr(left, cur, scope), self.expr(right, cur, scope)
        return f"({t} if _truthy({t} := {a}) else {b})"

    def _function_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        name = node["value"]
        target = self.func(name)
        if target is None:
            raise Unsupported(f"function {name}")
        args = ", ".join(self.expr(c, cur, scope) for c in node["children"])
        return f"{target}({args})"
