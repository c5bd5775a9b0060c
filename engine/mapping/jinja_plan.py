"""Turns one-expression Jinja templates (`{{ price | cents }}`) into Python source.

Only `{{ EXPR }}` templates whose expression is built of names, attribute and item access,
constants, lists, `and`/`or`/`not`, `if`-`else`, the tests `defined`/`undefined`/`none`, the
operators the sandbox does not bound (`-`, `/`, `//`), the mapping's own filters, and Jinja's
`sum` over `map` (by `attribute=` or by one of the mapping's filters) are planned; anything
else (text around the expression, statements, other built-in filters, `+`, `*`) is rendered by
the sandboxed environment. Attribute access on anything but a dict still goes through the
sandbox's `getattr`, so planning never widens what a template can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import nodes

from engine.mapping.jmes_plan import Unsupported

# Jinja tests planned, as Python with {} for the value (which may be _MISSING: no error).
_TESTS = {
    "defined": "({} is not _MISSING)",
    "undefined": "({} is _MISSING)",
    "none": "({} is None)",
}

# Operators planned as plain Python: those the sandbox leaves unbounded (LoopEnvironment's
# intercepted_binops bound `+`, `*`, `**` and `%`, which stay rendered).
_BINOPS: dict[type[nodes.BinExpr], str] = {nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//"}

# Names a template reads from the scope rather than from the record (`this` is the item itself).
TEMPLATE_SCOPE = ("parent", "root", "vars", "this")


def single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly `{{ EXPR }}`, else None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = tree.body[0].nodes
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    return parts[0]


class JinjaPlanner:
    """Emits a Python expression for a Jinja expression node.

    `const(value)` binds a value and returns its name; `filter_name(name)` returns the bound
    name of one of the mapping's filters or None (then the template is rendered instead).
    """

    def __init__(
        self,
        const: Callable[[Any], str],
        filter_name: Callable[[str], str | None],
        temp: Callable[[], str],
        hoist: Callable[[dict[str, str], str, str], str | None] = lambda scope, key, d: None,
    ) -> None:
        self.const, self.filter_name, self.temp, self.hoist = const, filter_name, temp, hoist

    def expr(self, node: nodes.Node, scope: dict[str, str], may_miss: bool = False) -> str:
        """Python for `node`; a missing name raises unless `may_miss` (the input of `default`)."""
        if isinstance(node, nodes.Const):
            value = node.value
            return (
                repr(value)
                if value is None or isinstance(value, bool | int | float | str)
                else self.const(value)
            )
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            code = self._access(node, scope)
            if may_miss:
                return code
            t = self.temp()
            return f"({t} if ({t} := {code}) is not _MISSING else _undefined({_describe(node)!r}))"
        if isinstance(node, nodes.Filter):
            return self._filter(node, scope)
        if isinstance(node, nodes.List) or type(node) in _BINOPS:
            return self._built(node, scope)
        if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
            test = self.expr(node.test, scope)
            return f"({self.expr(node.expr1, scope)} if {test} else {self.expr(node.expr2, scope)})"
        if isinstance(node, nodes.And):
            return f"({self.expr(node.left, scope)} and {self.expr(node.right, scope)})"
        if isinstance(node, nodes.Or):
            return f"({self.expr(node.left, scope)} or {self.expr(node.right, scope)})"
        if isinstance(node, nodes.Not):
            return f"(not {self.expr(node.node, scope)})"
        if (
            isinstance(node, nodes.Test)
            and node.name in _TESTS
            and not node.args
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            value = self.expr(node.node, scope, may_miss=True)
            return _TESTS[node.name].format(value)
        raise Unsupported(type(node).__name__)

    def _built(self, node: nodes.Node, scope: dict[str, str]) -> str:
        """A list literal, or an operator the sandbox does not bound."""
        if isinstance(node, nodes.List):
            return f"[{', '.join(self.expr(item, scope) for item in node.items)}]"
        assert isinstance(node, nodes.BinExpr)
        op = _BINOPS[type(node)]
        return f"({self.expr(node.left, scope)} {op} {self.expr(node.right, scope)})"

    def _access(self, node: nodes.Node, scope: dict[str, str]) -> str:
        if isinstance(node, nodes.Name):
            if node.name in TEMPLATE_SCOPE:
                return scope[node.name]
            hoisted = self.hoist(scope, node.name, "_MISSING")
            if hoisted is not None:
                return hoisted
            rec = scope["rec"]
            return f"({rec}.get({node.name!r}, _MISSING) if isinstance({rec}, dict) else _MISSING)"
        if isinstance(node, nodes.Getattr):
            return f"_attr({self._access(node.node, scope)}, {node.attr!r})"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            return f"_item({self._access(node.node, scope)}, {node.arg.value!r})"
        raise Unsupported(type(node).__name__)

    def _filter(self, node: nodes.Filter, scope: dict[str, str]) -> str:
        if node.name == "sum" and _plain(node) and not node.args and not node.kwargs:
            assert node.node is not None
            return f"sum({self._items(node.node, scope)})"
        target = self.filter_name(node.name)
        if target is None or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Unsupported(f"filter {node.name}")
        assert node.node is not None
        value = self.expr(node.node, scope, may_miss=node.name == "default")
        if node.name == "default":
            value = f"_missing_to_none({value})"
        args = [value, *(self.expr(a, scope) for a in node.args)]
        args += [f"{kw.key}={self.expr(kw.value, scope)}" for kw in node.kwargs]
        return f"{target}({', '.join(args)})"

    def _items(self, node: nodes.Node, scope: dict[str, str]) -> str:
        """Python for a sequence: Jinja's `map` as a list (nothing for a falsy value, as
        `map` gives), else the expression itself."""
        if not (isinstance(node, nodes.Filter) and node.name == "map" and _plain(node)):
            return self.expr(node, scope)
        assert node.node is not None
        items = self._items(node.node, scope)
        if not node.args and [k.key for k in node.kwargs] == ["attribute"]:
            name = node.kwargs[0].value
            if not (isinstance(name, nodes.Const) and isinstance(name.value, str)):
                raise Unsupported("map attribute")
            return f"_map_attr({items}, {name.value!r})"
        if node.args and not node.kwargs and isinstance(node.args[0], nodes.Const):
            target = self.filter_name(str(node.args[0].value))
            if target is None:
                raise Unsupported(f"map {node.args[0].value}")
            # an argument is needed only when there is an item (so it may be missing till then)
            rest = "".join(f", {self.expr(a, scope, may_miss=True)}" for a in node.args[1:])
            return f"_map_filter({items}, {target}{rest})"
        raise Unsupported("map")


def _plain(node: nodes.Filter) -> bool:
    return node.dyn_args is None and node.dyn_kwargs is None


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return f"{_describe(node.node)}[{node.arg.value!r}]"
    return "value"
