"""The sandboxed Jinja environment of the mapping language, rendering native Python values.

`{{ price | cents }}` renders the int 1999, `{{ address }}` the dict itself, and
`{{ first }} {{ last }}` the text "Ada Lovelace". Templates run in Jinja's
ImmutableSandboxedEnvironment (no underscore attributes, no mutating methods, no unsafe
callables: jinja2.exceptions.SecurityError) with StrictUndefined (a missing name raises
jinja2.UndefinedError when it is used or rendered) and no autoescaping.

Native rendering differs from jinja2.nativetypes on purpose: that one runs `ast.literal_eval`
over the output, so the text "00123" or "123" of a record field would come back as an int,
"True" as a bool, "[1]" as a list. Here a template that outputs one value returns that value
unchanged, whatever its type, and a template of several parts is their text joined; nothing
is ever re-parsed. Constant expressions (`{{ 42 }}`) keep their type too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from itertools import chain, islice
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateAssertionError, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.mapping.filters import FILTER_NAMES, default, make_filters
from engine.mapping.jinja_limits import (
    MAX_REPEAT,
    MAX_TEXT,
    bounded_iter,
    bounded_join,
    check_binop,
    check_brace_format,
    check_call,
    check_percent_format,
    guard_tree,
    start_rendering,
)

__all__ = ["MAX_REPEAT", "BoundExceeded", "LoopEnvironment", "compile_template", "make_environment"]

_UNKNOWN_FILTER = re.compile(r"No filter named '([^']*)'")


def native_concat(values: Iterable[Any]) -> Any:
    """One output value as is (never literal_eval'ed), several joined as text, none -> None.

    An undefined value raises its error here, as StrictUndefined would on printing, also
    inside a list or dict built by the template (`{{ [missing] }}`).
    """
    parts = iter(values)
    head = list(islice(parts, 2))
    if not head:
        return None
    if len(head) == 1:
        value = head[0]
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        if isinstance(value, list | tuple | dict):
            _refuse_undefined(value)
        return value
    texts, size = [], 0
    for part in chain(head, parts):
        text = str(part)
        size += len(text)
        if size > MAX_TEXT:
            raise SecurityError(f"the template's output is longer than {MAX_TEXT} characters")
        texts.append(text)
    return "".join(texts)


def _refuse_undefined(value: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> None:
    pending: list[Any] = [value]
    while pending:
        current = pending.pop()
        items = current.values() if isinstance(current, dict) else current
        for item in items:
            if isinstance(item, Undefined):
                item._fail_with_undefined_error()
            if isinstance(item, list | tuple | dict):
                pending.append(item)


class _NativeCodeGenerator(NativeCodeGenerator):
    """Leaves only literal template text to compile-time folding.

    NativeCodeGenerator folds constant expressions into text (`{{ 42 }}` -> "42") and relies
    on literal_eval to get the type back; with no literal_eval they are evaluated at render
    time instead, so they keep their type.
    """

    def _output_child_to_const(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> Any:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """`a ~ b` through the environment's bounded join (see jinja_limits)."""
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LoopTemplate(Template):
    """A compiled template whose render() returns a native value (see native_concat)."""

    def render(self, *args: Any, **kwargs: Any) -> Any:
        ctx = self.new_context(dict(*args, **kwargs))
        token = start_rendering()
        try:
            return native_concat(self.root_render_func(ctx))
        except Exception:
            return self.environment.handle_exception()
        finally:
            token.var.reset(token)


class BoundExceeded(TemplateAssertionError, SecurityError):
    """A constant expression past a bound of jinja_limits, found when the template compiles:
    a mapping error at `etl check` (and a SecurityError, as it would be when rendered)."""


class LoopEnvironment(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment + native rendering + the bounds of jinja_limits."""

    code_generator_class = _NativeCodeGenerator
    concat = staticmethod(native_concat)
    template_class = LoopTemplate
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    bounded_join = staticmethod(bounded_join)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled: dict[str, Template] = {}
        self.globals["_bounded_iter"] = bounded_iter

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        try:
            guard_tree(tree)
        except SecurityError as exc:
            raise BoundExceeded(str(exc.message or exc), 1, name, filename) from None
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self: LoopEnvironment,  # `__self`, as Jinja's: a template may pass self=...
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_call(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if isinstance(getattr(value, "__self__", None), str):
            check_brace_format(value.__self__)
        return super().wrap_str_format(value)


def _undefined_guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, raising UndefinedError when given an undefined value or argument."""

    def apply(value: Any, *args: Any, **kwargs: Any) -> Any:
        for given in (value, *args, *kwargs.values()):
            if isinstance(given, Undefined):
                given._fail_with_undefined_error()
        return func(value, *args, **kwargs)

    apply.__name__, apply.__doc__ = func.__name__, func.__doc__
    return apply


def _bounded_width(func: Callable[..., Any]) -> Callable[..., Any]:
    """A Jinja text filter whose numeric arguments (widths) are bounded."""

    def apply(value: Any, *args: Any, **kwargs: Any) -> Any:
        for given in (*args, *kwargs.values()):
            if isinstance(given, int) and not isinstance(given, bool):
                check_call(str.center.__get__(""), (given,))
        return func(value, *args, **kwargs)

    apply.__name__, apply.__doc__ = func.__name__, func.__doc__
    return apply


def _bounded_format(func: Callable[..., Any]) -> Callable[..., Any]:
    def apply(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            check_percent_format(value)
        return func(value, *args, **kwargs)

    apply.__name__, apply.__doc__ = func.__name__, func.__doc__
    return apply


def _default(value: Any, fallback: Any) -> Any:
    """The `default` filter, where an undefined value also gets the fallback (as in Jinja)."""
    return fallback if isinstance(value, Undefined) else default(value, fallback)


def make_environment(
    default_timezone: str = "UTC", vars: Mapping[str, Any] | None = None
) -> LoopEnvironment:
    """The sandboxed native environment with every mapping filter and `vars` as a global.

    The mapping's filters replace Jinja's built-ins of the same name (join, lower, upper,
    first, round, default); naive timestamps are read in `default_timezone`.
    """
    env = LoopEnvironment(undefined=StrictUndefined, autoescape=False)
    for name, func in make_filters(default_timezone).items():
        env.filters[name] = _undefined_guard(func)
    env.filters["default"] = _default
    for name in ("center", "indent", "wordwrap", "truncate"):
        env.filters[name] = _bounded_width(env.filters[name])
    env.filters["format"] = _bounded_format(env.filters["format"])
    env.globals["vars"] = dict(vars or {})
    return env


def compile_template(env: LoopEnvironment, source: str) -> Template:
    """The compiled template for `source`, compiled once per environment and source.

    Syntax errors raise jinja2.TemplateSyntaxError (with lineno); an unknown filter raises
    jinja2.TemplateAssertionError whose message lists the mapping's filters.
    """
    template = env.compiled.get(source)
    if template is None:
        try:
            template = env.from_string(source)
        except TemplateAssertionError as exc:
            found = _UNKNOWN_FILTER.search(exc.message or "")
            if found is None:
                raise
            known = ", ".join(FILTER_NAMES)
            message = f"unknown filter {found.group(1)!r} (known: {known}, and Jinja's built-ins)"
            raise TemplateAssertionError(message, exc.lineno, exc.name, exc.filename) from None
        env.compiled[source] = template
    return template
