"""Compile: every field spec of a mapping becomes one generated Python function per entity.

Nothing is parsed per record. JMESPath expressions and one-expression Jinja templates of the
common shapes are planned into straight-line Python (jmes_plan, jinja_plan); the others are
compiled once and called. Each leaf field runs in its own try block so that a bad value
becomes a FieldIssue naming the payload path and the run can report every issue of a record.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jmespath
import jmespath.exceptions
from jinja2 import TemplateSyntaxError, nodes

from engine.errors import ConfigError, Problem, RecordError
from engine.mapping import filters
from engine.mapping import runtime as rt
from engine.mapping.codegen import Emitter, FunctionBuilder
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
    truthy,
)
from engine.mapping.load import load_mapping
from engine.mapping.model import Entity, Mapping
from engine.mapping.suggest import unknown
from engine.mapping.yamlsource import KeyPath, dotted
from engine.validation import PayloadValidator, ValidationIssue, validator

DIRECTIVES = ("const", "lookup", "each")
_EMPTY: dict[str, Any] = {}  # what a non-object record reads its keys from (never written)
_JMES_BUILTINS_PLANNED = {
    "to_string": filters.to_string, "to_number": to_number, "not_null": not_null, "length": length,
}


@dataclass
class CompiledEntity:
    """An entity ready to run: transform(record) -> Transformed, and its payload validator."""

    entity: Entity
    fn: Callable[..., dict[str, Any]]
    items_fn: Callable[[Any], list[Any]] | None
    validator: PayloadValidator

    def transform(self, record: Any, parent: Any = None) -> rt.Transformed:
        issues: list[rt.FieldIssue] = []
        refs: list[tuple[Any, Any, rt.LookupRef]] = []
        root = record if parent is None else parent
        payload = self.fn(record, parent, root, issues, refs, "")
        return rt.Transformed(payload, refs, issues)

    def items(self, parent_record: Any) -> list[Any]:
        """For a child entity (variants): its items in the parent record."""
        if self.items_fn is None:
            raise TypeError(f"{self.entity.name} is not a child entity")
        return self.items_fn(parent_record)

    def validate(self, payload: dict[str, Any]) -> list[ValidationIssue]:
        """Schema errors of a resolved payload; URL keys (inventories) are checked, not sent."""
        path_keys = self.entity.kind.path_keys
        if not path_keys:
            return self.validator.errors(payload)
        body = {k: v for k, v in payload.items() if k not in path_keys}
        missing = [ValidationIssue(f"$.{k}", f"{k!r} is a required property")
                   for k in path_keys if payload.get(k) is None]
        return missing + self.validator.errors(body)


@dataclass
class CompiledMapping:
    mapping: Mapping
    entities: dict[str, CompiledEntity]
    source: str  # the generated Python, for debugging (`etl check --show-code`)


def compile_mapping(mapping: Mapping, plan: bool = True) -> CompiledMapping:
    """Compile every entity; ConfigError with every problem (position and key path) found.

    `plan=False` renders every expression through JMESPath / Jinja (used to prove the planned
    code computes the same payloads).
    """
    compiler = _Compiler(mapping, plan)
    fns = {name: compiler.entity(e) for name, e in mapping.entities.items()}
    if compiler.problems:
        problems = sorted(compiler.problems, key=lambda p: (p.line, p.col))
        raise ConfigError(f"{len(problems)} problem(s) in {mapping.file}", problems)
    namespace = compiler.emitter.execute(f"<mapping {mapping.name}>")
    compiled = {}
    for name, e in mapping.entities.items():
        fn_name, items_name = fns[name]
        compiled[name] = CompiledEntity(
            entity=e, fn=namespace[fn_name],
            items_fn=namespace[items_name] if items_name else None,
            validator=validator(e.kind.schema),
        )
    return CompiledMapping(mapping, compiled, compiler.emitter.source())


def load_and_compile(
    path: str | Path, env: AnyMapping[str, str] | None = None, plan: bool = True
) -> CompiledMapping:
    """Load, check and compile; a ConfigError carries the problems of every phase at once."""
    try:
        mapping = load_mapping(path, env)
    except ConfigError as exc:
        partial = getattr(exc, "partial", None)
        if partial is None:
            raise
        problems = list(exc.problems)
        try:
            compile_mapping(partial, plan)
        except ConfigError as more:
            problems += [p for p in more.problems if p not in problems]
        problems.sort(key=lambda p: (p.line, p.col))
        raise ConfigError(f"{len(problems)} problem(s) in {path}", problems) from None
    return compile_mapping(mapping, plan)


class _Compiler:
    """Emits the module for a mapping, collecting problems instead of stopping at the first."""

    def __init__(self, mapping: Mapping, plan: bool) -> None:
        self.mapping, self.plan = mapping, plan
        self.problems: list[Problem] = []
        self.filters = make_filters(mapping.timezone)
        self.options = make_options(mapping.timezone)
        self.env = make_environment(mapping.timezone, vars=mapping.vars)
        functions = self.options.custom_functions
        assert functions is not None
        self.function_table: dict[str, Any] = functions.FUNCTION_TABLE
        self.functions = set(self.function_table)
        runtime = rt.Runtime(self.env)
        self.emitter = Emitter({
            "_VARS": mapping.vars, "_OPTS": self.options, "_MISSING": rt.MISSING,
            "_name": runtime.name, "_attr": runtime.attr, "_item": runtime.item,
            "_defined": rt.defined, "_missing_to_none": rt.missing_to_none,
            "_Ref": rt.LookupRef, "_key_str": rt.key_str, "_fresh": rt.fresh,
            "_issue": rt.record_issue, "_join": rt.join_path, "_truthy": truthy,
            "_get_index": get_index, "_scope": self._scope_fn(), "_render": self._render_fn(),
            "_compare": compare, "_not": jmes_not, "_undefined": rt.undefined,
            "_EMPTY": _EMPTY,
            "RecordError": RecordError,
        })
        self.builders: dict[str, FunctionBuilder] = {}
        self.jmes = JmesPlanner(self.emitter.bind, self._jmes_func, self.emitter.temp, self._hoist)
        self.jinja = JinjaPlanner(self.emitter.bind, self._jinja_filter, self.emitter.temp,
                                  self._hoist)

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

    def _scope(self, fn: FunctionBuilder, rec: str = "rec", parent: str = "parent",
               root: str = "root") -> dict[str, str]:
        """The names a function's expressions see; its own keys are read once (hoisted)."""
        self.builders[fn.name] = fn
        return {"rec": rec, "parent": parent, "root": root, "vars": "_VARS", "this": rec,
                "fn": fn.name}

    def _hoist(self, scope: dict[str, str], key: str, default: str) -> str | None:
        fn = self.builders.get(scope.get("fn", ""))
        if fn is None or scope["rec"] != fn.params[0]:
            return None
        return fn.hoist(key, default)

    def _jmes_func(self, name: str) -> str | None:
        if name in _JMES_BUILTINS_PLANNED:
            return self.emitter.bind(_JMES_BUILTINS_PLANNED[name], "fn_")
        if name in self.filters and name in self.functions:
            return self.emitter.bind(self.filters[name], "fn_")
        return None

    def _jinja_filter(self, name: str) -> str | None:
        return self.emitter.bind(self.filters[name], "f_") if name in self.filters else None

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.mapping.positions.problem(path, message))

    # -- entities ---------------------------------------------------------------------------
    def entity(self, entity: Entity) -> tuple[str, str | None]:
        mpath: KeyPath = (*entity.path, "map")
        fn = self.emitter.function("entity_", ["rec", "parent", "root", "issues", "refs", "loc"])
        scope = self._scope(fn)
        out = self._value(entity.map, mpath, "", fn, scope)
        fn.line(f"return {out} if {out} is not None else {{}}")
        items = None
        if entity.each is not None:
            items = self._items_fn(entity.each, entity.where, (*entity.path, "each"))
        return fn.name, items

    def _items_fn(self, each: str, where: str | None, mpath: KeyPath) -> str:
        fn = self.emitter.function("items_", ["rec"])
        scope = self._scope(fn, parent="None", root="rec")
        code = self._expression(each, mpath, scope)
        fn.line(f"found = {code}")
        fn.line("if found is None: return []")
        fn.line("if not isinstance(found, list): found = [found]")
        if where is not None:
            pred = self._where_fn(where, (*mpath[:-1], "where"))
            fn.line(f"found = [x for x in found if _truthy({pred}(x, rec, rec))]")
        fn.line("return found")
        return fn.name

    def _where_fn(self, where: str, mpath: KeyPath) -> str:
        fn = self.emitter.function("where_", ["rec", "parent", "root"])
        scope = self._scope(fn)
        fn.line(f"return {self._expression(where, mpath, scope)}")
        return fn.name

    # -- field specs ------------------------------------------------------------------------
    def _value(
        self, spec: Any, mpath: KeyPath, rel: str, fn: FunctionBuilder, scope: dict[str, str]
    ) -> str:
        """Emit code computing `spec` into a variable; return its name (or a literal)."""
        if spec is None:
            return "None"
        if isinstance(spec, bool | int | float):
            return repr(spec)
        if isinstance(spec, str):
            return self._leaf(self._expression(spec, mpath, scope), mpath, rel, fn)
        if isinstance(spec, list):
            return self._list(spec, mpath, rel, fn, scope)
        if isinstance(spec, dict):
            directive = [k for k in DIRECTIVES if k in spec]
            if directive:
                return self._directive(directive[0], spec, mpath, rel, fn, scope)
            return self._object(spec, mpath, rel, fn, scope)
        self.problem(mpath, f"a field spec cannot be a {type(spec).__name__}")
        return "None"

    def _leaf(self, code: str, mpath: KeyPath, rel: str, fn: FunctionBuilder) -> str:
        if _is_literal(code):
            return code
        var = fn.var()
        fn.line("try:")
        with fn.indented():
            fn.line(f"{var} = {code}")
        fn.line("except Exception as _e:")
        with fn.indented():
            fn.line(f"_issue(issues, loc, {rel!r}, {dotted(mpath)!r}, _e)")
            fn.line(f"{var} = None")
        return var

    def _object(
        self, spec: dict[str, Any], mpath: KeyPath, rel: str, fn: FunctionBuilder, scope: dict[str, str]
    ) -> str:
        out = fn.var("o")
        fn.line(f"{out} = {{}}")
        for key, sub in spec.items():
            child_rel = rt.join_path(rel, str(key))
            var = self._value(sub, (*mpath, str(key)), child_rel, fn, scope)
            self._store(fn, out, repr(str(key)), var, sub)
        fn.line(f"{out} = {out} or None")
        return out

    def _list(
        self, spec: list[Any], mpath: KeyPath, rel: str, fn: FunctionBuilder, scope: dict[str, str]
    ) -> str:
        out = fn.var("l")
        fn.line(f"{out} = []")
        for i, sub in enumerate(spec):
            var = self._value(sub, (*mpath, i), f"{rel}[{i}]", fn, scope)
            self._store(fn, out, None, var, sub)
        return out

    def _store(self, fn: FunctionBuilder, container: str, key: str | None, var: str, spec: Any) -> None:
        if var == "None":
            return
        is_ref = isinstance(spec, dict) and "lookup" in spec
        put = f"{container}[{key}] = {var}" if key is not None else f"{container}.append({var})"
        slot = key if key is not None else f"len({container}) - 1"
        if _is_literal(var):
            fn.line(put)  # a literal other than None: always present
            return
        fn.line(f"if {var} is not None:")
        with fn.indented():
            fn.line(put)
            if is_ref:
                fn.line(f"refs.append(({container}, {slot}, {var}))")

    def _directive(
        self, name: str, spec: dict[str, Any], mpath: KeyPath, rel: str, fn: FunctionBuilder,
        scope: dict[str, str],
    ) -> str:
        allowed = {
            "const": {"const"},
            "lookup": {"lookup", "key", "via"},
            "each": {"each", "map", "where", "flatten"},
        }
        extra = sorted(set(spec) - allowed[name])
        for key in extra:
            self.problem((*mpath, key), unknown(f"key in a `{name}` spec", key, allowed[name]))
        if name == "const":
            value = spec["const"]
            if isinstance(value, dict | list):
                return f"_fresh({self.emitter.bind(value)})"
            return repr(value) if value is None or isinstance(value, bool | int | float | str) \
                else self.emitter.bind(value)
        if name == "lookup":
            return self._lookup(spec, mpath, rel, fn, scope)
        return self._each(spec, mpath, rel, fn, scope)

    def _lookup(
        self, spec: dict[str, Any], mpath: KeyPath, rel: str, fn: FunctionBuilder, scope: dict[str, str]
    ) -> str:
        if "key" not in spec:
            self.problem(mpath, "a `lookup` needs a `key`: the platform id of the referenced record")
            return "None"
        key = self._value(spec["key"], (*mpath, "key"), rel, fn, scope)
        var = fn.var("r")
        entity, via = spec["lookup"], spec.get("via")
        fn.line(f"{var} = None if {key} is None else _Ref({entity!r}, _key_str({key}), {via!r})")
        return var

    def _each(
        self, spec: dict[str, Any], mpath: KeyPath, rel: str, fn: FunctionBuilder, scope: dict[str, str]
    ) -> str:
        if "map" not in spec:
            self.problem(mpath, "an `each` needs a `map`: the spec of one item")
            return "None"
        if not isinstance(spec["each"], str):
            self.problem((*mpath, "each"), "`each` must be an expression (a string)")
            return "None"
        items = self._leaf(self._expression(spec["each"], (*mpath, "each"), scope),
                           (*mpath, "each"), rel, fn)
        sub = self.emitter.function("each_", ["rec", "parent", "root", "issues", "refs", "loc"])
        inner = self._scope(sub)
        result = self._value(spec["map"], (*mpath, "map"), "", sub, inner)
        sub.line(f"return {result}")
        keep = ""
        if "where" in spec:
            pred = self._where_fn(spec["where"], (*mpath, "where"))
            keep = f" if _truthy({pred}(_x, {scope['rec']}, {scope['root']}))"
        var, base = fn.var(), fn.var("b")
        splice = ""
        if spec.get("flatten"):
            splice = " for _z in (_y if isinstance(_y, list) else [_y])"
        fn.line(f"if {items} is None or isinstance({items}, list):")
        with fn.indented():
            fn.line(f"{base} = _join(loc, {rel!r})")
            fn.line(f"{var} = None if {items} is None else [{'_z' if splice else '_y'} for _y in ("
                    f"{sub.name}(_x, {scope['rec']}, {scope['root']}, issues, refs, "
                    f"f'{{{base}}}[{{_i}}]') for _i, _x in enumerate({items}){keep}) "
                    f"if _y is not None{splice}]")
        fn.line("else:")
        with fn.indented():
            fn.line(f"_issue(issues, loc, {rel!r}, {dotted((*mpath, 'each'))!r}, RecordError("
                    f"'`each` needs a list, got ' + type({items}).__name__))")
            fn.line(f"{var} = None")
        return var

    # -- expressions ------------------------------------------------------------------------
    def _expression(self, text: str, mpath: KeyPath, scope: dict[str, str]) -> str:
        if "{{" in text or "{%" in text:
            return self._template(text, mpath, scope)
        try:
            parsed = jmespath.compile(text)
        except jmespath.exceptions.JMESPathError as exc:
            self.problem(mpath, f"JMESPath syntax error in {text!r}: {_one_line(exc)}")
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
        return f"{name}.search({scope['rec']}, options=_OPTS)"

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
            takes = str(required) if required == len(signature) else f"{required} to {len(signature)}"
            self.problem(mpath, f"function {name}() takes {takes} argument(s), {nargs} given")
            return False
        return True

    def _template(self, text: str, mpath: KeyPath, scope: dict[str, str]) -> str:
        try:
            tree = self.env.parse(text)
        except TemplateSyntaxError as exc:
            self.problem(mpath, f"Jinja syntax error: {exc.message}")
            return "None"
        ok = True
        for node in tree.find_all(nodes.Filter):
            if node.name not in self.env.filters:
                ok = False
                self.problem(mpath, unknown("filter", node.name, self.filters)
                             .replace(") (known", ") (mapping filters")
                             + "; Jinja's built-in filters are allowed too")
        if not ok:
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


def _is_literal(code: str) -> bool:
    """Whether generated code is a plain literal (it cannot fail, so needs no try block)."""
    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError):
        return False
    return True


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
