"""Turns JMESPath ASTs into Python source for the common shapes; the rest is searched as usual.

Plain field paths, indexes, literals, `@`, `||` and calls of the mapping's own functions (and
to_string / to_number) become straight-line Python, so a compiled mapping costs about what a
hand-written function does. Any other expression is kept as a compiled JMESPath and searched.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jmespath.exceptions import JMESPathTypeError

Emitter = Callable[[Any], str]

SCOPE_NAMES = ("parent", "root", "vars")


class Unsupported(Exception):
    """The expression has a shape the planner does not turn into Python."""


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(a: Any, b: Any) -> bool:
    """JMESPath equality: 0 and 1 never equal false and true."""
    if (isinstance(a, bool) and _is_number(b)) or (isinstance(b, bool) and _is_number(a)):
        return False
    return bool(a == b)


_ORDERING = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def compare(op: str, a: Any, b: Any) -> Any:
    """A JMESPath comparator: ordering only between two numbers or two strings, else null."""
    if op == "eq":
        return _equals(a, b)
    if op == "ne":
        return not _equals(a, b)
    comparable = (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))
    return _ORDERING[op](a, b) if comparable else None


def jmes_not(value: Any) -> bool:
    """JMESPath `!`: !0 is false (0 is a number, not a falsy value)."""
    if _is_number(value) and value == 0:
        return False
    return not truthy(value)


def not_null(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    kind = {bool: "boolean", int: "number", float: "number", type(None): "null"}
    raise JMESPathTypeError(
        "length", value, kind.get(type(value), type(value).__name__), ["string", "array", "object"]
    )


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
        hoist: Callable[[dict[str, str], str, str], str | None] = lambda scope, key, d: None,
    ) -> None:
        self.const, self.func, self.temp, self.hoist = const, func, temp, hoist

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
        if cur == scope["rec"]:
            hoisted = self.hoist(scope, name, "None")
            if hoisted is not None:
                return hoisted
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

    def _and_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        left, right = node["children"]
        t = self.temp()
        a, b = self.expr(left, cur, scope), self.expr(right, cur, scope)
        return f"({b} if _truthy({t} := {a}) else {t})"

    def _not_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        return f"_not({self.expr(node['children'][0], cur, scope)})"

    def _comparator(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        left, right = node["children"]
        a, b = self.expr(left, cur, scope), self.expr(right, cur, scope)
        return f"_compare({node['value']!r}, {a}, {b})"

    def _function_expression(self, node: dict[str, Any], cur: str, scope: dict[str, str]) -> str:
        name = node["value"]
        target = self.func(name)
        if target is None:
            raise Unsupported(f"function {name}")
        args = ", ".join(self.expr(c, cur, scope) for c in node["children"])
        return f"{target}({args})"
