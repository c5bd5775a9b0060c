"""Expressions of a mapping: JMESPath and sandboxed Jinja, checked and compiled once.

An expression of a common shape is planned into Python (jmes_plan, jinja_plan); any other is
compiled once and called through the scoped JMESPath interpreter or the sandboxed template.
Unknown functions and filters, wrong argument counts and syntax errors are problems with a
position, found before the first record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import jmespath
import jmespath.exceptions
from jinja2 import TemplateAssertionError, TemplateSyntaxError, nodes

from engine.mapping import filters
from engine.mapping import runtime as rt
from engine.mapping.codegen import Emitter
from engine.mapping.filters import make_filters
from engine.mapping.functions import make_options
from engine.mapping.jinja_env import make_environment
from engine.mapping.jinja_plan import JinjaPlanner, single_expression
from engine.mapping.jmes_plan import (
    JmesPlanner,
    Unsupported,
    compare,
    get_index,
    jmes_not,
    length,
    not_null,
    references_scope,
    to_number,
)
from engine.mapping.model import Mapping
from engine.mapping.suggest import unknown
from engine.mapping.yamlsource import KeyPath

MAX_DEPTH = 64
"""How deep an expression or template may nest (deeper ones are refused at `etl check`)."""

_JMES_BUILTINS_PLANNED = {
    "to_string": filters.to_string,
    "to_number": to_number,
    "not_null": not_null,
    "length": length,
}
Hoist = Callable[[dict[str, str], str, str], "str | None"]


class ExpressionCompiler:
    """Compiles the expressions of one mapping into code for the module its Emitter builds."""

    def __init__(
        self,
        mapping: Mapping,
        plan: bool,
        emitter: Emitter,
        problem: Callable[[KeyPath, str], None],
        hoist: Hoist,
    ) -> None:
        self.mapping, self.plan, self.emitter, self.problem = mapping, plan, emitter, problem
        self.filters = make_filters(mapping.timezone)
        self.options = make_options(mapping.timezone)
        self.env = make_environment(mapping.timezone, vars=mapping.vars)
        functions = self.options.custom_functions
        assert functions is not None
        self.function_table: dict[str, Any] = functions.FUNCTION_TABLE
        runtime = rt.Runtime(self.env)
        emitter.namespace.update(
            {
                "_OPTS": self.options,
                "_attr": runtime.attr,
                "_item": runtime.item,
                "_map_attr": runtime.map_attr,
                "_map_filter": rt.map_filter,
                "_get_index": get_index,
                "_compare": compare,
                "_not": jmes_not,
                "_scope": self._scope_fn(),
                "_render": self._render_fn(),
                "_search": rt.bounded_search,
            }
        )
        self.jmes = JmesPlanner(emitter.bind, self._jmes_func, emitter.temp, hoist)
        self.jinja = JinjaPlanner(emitter.bind, self._jinja_filter, emitter.temp, hoist)

    # -- scope helpers bound into the module ------------------------------------------------
    def _scope_fn(self) -> Callable[..., Any]:
        variables, options = self.mapping.vars, self.options

        def search(parsed: Any, rec: Any, parent: Any, root: Any) -> Any:
            names = {"parent": parent, "root": root, "vars": variables}
            return rt.ScopedInterpreter(options, rec, names).visit(parsed.parsed, rec)

        return search

    def _render_fn(self) -> Callable[..., Any]:
        variables = self.mapping.vars

        def render(template: Any, rec: Any, parent: Any, root: Any) -> Any:
            context = dict(rec) if isinstance(rec, dict) else {}
            context.update(this=rec, parent=parent, root=root, vars=variables)
            return template.render(context)

        return render

    def _jmes_func(self, name: str) -> str | None:
        if name in _JMES_BUILTINS_PLANNED:
            return self.emitter.bind(_JMES_BUILTINS_PLANNED[name], "fn_")
        if name in self.filters and name in self.function_table:
            return self.emitter.bind(self.filters[name], "fn_")
        return None

    def _jinja_filter(self, name: str) -> str | None:
        return self.emitter.bind(self.filters[name], "f_") if name in self.filters else None

    # -- expressions ------------------------------------------------------------------------
    def compile(self, text: str, mpath: KeyPath, scope: dict[str, str]) -> str:
        """Python for one expression or template (planned, or a compiled call)."""
        if "{{" in text or "{%" in text:
            return self._template(text, mpath, scope)
        try:
            parsed = jmespath.compile(text)
        except jmespath.exceptions.JMESPathError as exc:
            self.problem(mpath, f"JMESPath syntax error in {text!r}: {_one_line(exc)}")
            return "None"
        except RecursionError:
            self.problem(mpath, f"the expression nests deeper than {MAX_DEPTH} levels")
            return "None"
        if _depth(parsed.parsed, lambda n: n.get("children", ())) > MAX_DEPTH:
            self.problem(mpath, f"the expression nests deeper than {MAX_DEPTH} levels")
            return "None"
        if not self._check_functions(parsed.parsed, mpath):
            return "None"
        if self.plan:
            try:
                return self.jmes.expr(cast(dict[str, Any], parsed.parsed), scope["rec"], scope)
            except Unsupported:
                pass
        name = self.emitter.bind(parsed, "p_")
        if references_scope(parsed.parsed):
            return f"_scope({name}, {scope['rec']}, {scope['parent']}, {scope['root']})"
        return f"_search({name}, {scope['rec']}, _OPTS)"

    def _check_functions(self, node: Any, mpath: KeyPath) -> bool:
        ok = True
        if isinstance(node, dict):
            if node.get("type") == "function_expression":
                ok = self._check_call(node["value"], len(node["children"]), mpath)
            for child in node.get("children", ()):
                ok = self._check_functions(child, mpath) and ok
        return ok

    def _check_call(self, name: str, nargs: int, mpath: KeyPath) -> bool:
        table = self.function_table
        if name not in table:
            self.problem(mpath, unknown("function", name, table))
            return False
        signature = table[name]["signature"]
        if any(arg.get("variadic") for arg in signature):
            return True
        required = sum(1 for arg in signature if not arg.get("optional"))
        if not required <= nargs <= len(signature):
            takes = (
                str(required) if required == len(signature) else f"{required} to {len(signature)}"
            )
            self.problem(mpath, f"function {name}() takes {takes} argument(s), {nargs} given")
            return False
        return True

    def _template(self, text: str, mpath: KeyPath, scope: dict[str, str]) -> str:
        tree = self._checked_template(text, mpath)
        if tree is None:
            return "None"
        expr = single_expression(tree)
        if self.plan and expr is not None:
            try:
                return self.jinja.expr(expr, scope)
            except Unsupported:
                pass
        try:
            template = self.env.from_string(text)
        except TemplateSyntaxError as exc:
            self.problem(mpath, f"Jinja error: {exc.message}")
            return "None"
        name = self.emitter.bind(template, "tpl_")
        return f"_render({name}, {scope['rec']}, {scope['parent']}, {scope['root']})"

    def _checked_template(self, text: str, mpath: KeyPath) -> nodes.Template | None:
        """The parsed template, or None after reporting why it cannot be used."""
        try:
            tree = self.env.parse(text)
        except TemplateAssertionError as exc:  # a bound (jinja_limits) or an unknown filter
            self.problem(mpath, f"Jinja error: {exc.message}")
            return None
        except TemplateSyntaxError as exc:
            self.problem(mpath, f"Jinja syntax error: {exc.message}")
            return None
        except RecursionError:
            tree = None
        if tree is None or _depth(tree, lambda n: list(n.iter_child_nodes())) > MAX_DEPTH:
            self.problem(mpath, f"the template nests deeper than {MAX_DEPTH} levels")
            return None
        unknown_filters = [n.name for n in tree.find_all(nodes.Filter)]
        for name in [n for n in unknown_filters if n not in self.env.filters]:
            known = unknown("filter", name, self.filters).replace(") (known", ") (mapping filters")
            self.problem(mpath, known + "; Jinja's built-in filters are allowed too")
        return tree if all(n in self.env.filters for n in unknown_filters) else None


def _depth(root: Any, children: Callable[[Any], Iterable[Any]]) -> int:
    """How deep a parsed expression nests (iteratively: it may be deeper than the stack)."""
    deepest, pending = 0, [(root, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        pending.extend((child, depth + 1) for child in children(node) if child is not None)
    return deepest


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
