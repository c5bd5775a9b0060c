"""Compile: every field spec of a mapping becomes one generated Python function per entity.

Nothing is parsed per record. JMESPath expressions and one-expression Jinja templates of the
common shapes are planned into straight-line Python (jmes_plan, jinja_plan); the others are
compiled once and called. Each leaf field runs in its own try block so that a bad value
becomes a FieldIssue naming the payload path and the run can report every issue of a record.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping as AnyMapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, Problem, RecordError
from engine.mapping import runtime as rt
from engine.mapping.codegen import Emitter, FunctionBuilder
from engine.mapping.compiled import CompiledEntity, CompiledMapping
from engine.mapping.expressions import ExpressionCompiler
from engine.mapping.jmes_plan import truthy
from engine.mapping.load import load_mapping
from engine.mapping.model import Entity, Mapping
from engine.mapping.outcomes import bind_outcomes, plan_outcomes
from engine.mapping.return_actions import compile_return_actions
from engine.mapping.rules import compile_rules
from engine.mapping.suggest import unknown
from engine.mapping.yamlsource import KeyPath, dotted
from engine.validation import validator

__all__ = ["CompiledEntity", "CompiledMapping", "compile_mapping", "load_and_compile"]

DIRECTIVES = ("const", "lookup", "each")
_EMPTY: dict[str, Any] = {}  # what a non-object record reads its keys from (never written)


def compile_mapping(mapping: Mapping, plan: bool = True) -> CompiledMapping:
    """Compile every entity; ConfigError with every problem (position and key path) found.

    `plan=False` renders every expression through JMESPath / Jinja (used to prove the planned
    code computes the same payloads).
    """
    compiler = _Compiler(mapping, plan)
    fns = {name: compiler.entity(e) for name, e in mapping.entities.items()}
    rules, rule_problems = compile_rules(mapping)
    actions, action_problems = compile_return_actions(mapping)
    outcome_plans = plan_outcomes(mapping, compiler.shape, compiler.problems)
    compiler.problems += rule_problems + action_problems
    if compiler.problems:
        problems = sorted(compiler.problems, key=lambda p: (p.line, p.col))
        raise ConfigError(f"{len(problems)} problem(s) in {mapping.file}", problems)
    try:
        namespace = compiler.emitter.execute(f"<mapping {mapping.name}>")
    except (SyntaxError, RecursionError, MemoryError) as exc:  # bounds keep this unreachable
        problem = Problem(str(mapping.file), 1, 1, "", f"too complex to compile: {exc}")
        raise ConfigError(str(problem), [problem]) from None
    compiled = {}
    for name, e in mapping.entities.items():
        fn_name, items_name = fns[name]
        compiled[name] = CompiledEntity(
            entity=e,
            fn=namespace[fn_name],
            items_fn=namespace[items_name] if items_name else None,
            validator=validator(e.kind.schema),
        )
    outcomes = bind_outcomes(outcome_plans, namespace, mapping)
    return CompiledMapping(mapping, compiled, compiler.emitter.source(), rules, actions, outcomes)


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
        self.emitter = Emitter(
            {
                "_VARS": mapping.vars,
                "_MISSING": rt.MISSING,
                "_EMPTY": _EMPTY,
                "_missing_to_none": rt.missing_to_none,
                "_Ref": rt.LookupRef,
                "_key_str": rt.key_str,
                "_fresh": rt.fresh,
                "_issue": rt.record_issue,
                "_join": rt.join_path,
                "_truthy": truthy,
                "_undefined": rt.undefined,
                "RecordError": RecordError,
            }
        )
        self.builders: dict[str, FunctionBuilder] = {}
        self.expressions = ExpressionCompiler(
            mapping, plan, self.emitter, self.problem, self._hoist
        )

    def _scope(
        self, fn: FunctionBuilder, rec: str = "rec", parent: str = "parent", root: str = "root"
    ) -> dict[str, str]:
        """The names a function's expressions see; its own keys are read once (hoisted)."""
        self.builders[fn.name] = fn
        return {
            "rec": rec,
            "parent": parent,
            "root": root,
            "vars": "_VARS",
            "this": rec,
            "fn": fn.name,
        }

    def _hoist(self, scope: dict[str, str], key: str, default: str) -> str | None:
        fn = self.builders.get(scope.get("fn", ""))
        if fn is None or scope["rec"] != fn.params[0]:
            return None
        return fn.hoist(key, default)

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.mapping.positions.problem(path, message))

    # -- entities ---------------------------------------------------------------------------
    def entity(self, entity: Entity) -> tuple[str, str | None]:
        fn_name = self.shape(entity.map, (*entity.path, "map"), "{}")
        items = None
        if entity.each is not None:
            items = self._items_fn(entity.each, entity.where, (*entity.path, "each"))
        elif entity.fan_out is not None:
            items = self._items_fn(entity.fan_out, None, (*entity.path, "fan_out"))
        return fn_name, items

    def shape(self, spec: Any, mpath: KeyPath, empty: str = "None") -> str:
        """The name of a function computing a field spec from a record (`empty` when the spec
        gives nothing): an entity's `map:`, an outcome step's body or rows."""
        fn = self.emitter.function("entity_", ["rec", "parent", "root", "issues", "refs", "loc"])
        out = self._value(spec, mpath, "", fn, self._scope(fn))
        fn.line(f"return {out} if {out} is not None else {empty}")
        return fn.name

    def _items_fn(self, each: str, where: str | None, mpath: KeyPath) -> str:
        fn = self.emitter.function("items_", ["rec"])
        scope = self._scope(fn, parent="None", root="rec")
        code = self.expressions.compile(each, mpath, scope)
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
        fn.line(f"return {self.expressions.compile(where, mpath, scope)}")
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
            return self._leaf(self.expressions.compile(spec, mpath, scope), mpath, rel, fn)
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
        self,
        spec: dict[str, Any],
        mpath: KeyPath,
        rel: str,
        fn: FunctionBuilder,
        scope: dict[str, str],
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

    def _store(
        self, fn: FunctionBuilder, container: str, key: str | None, var: str, spec: Any
    ) -> None:
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
        self,
        name: str,
        spec: dict[str, Any],
        mpath: KeyPath,
        rel: str,
        fn: FunctionBuilder,
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
            return (
                repr(value)
                if value is None or isinstance(value, bool | int | float | str)
                else self.emitter.bind(value)
            )
        if name == "lookup":
            return self._lookup(spec, mpath, rel, fn, scope)
        return self._each(spec, mpath, rel, fn, scope)

    def _lookup(
        self,
        spec: dict[str, Any],
        mpath: KeyPath,
        rel: str,
        fn: FunctionBuilder,
        scope: dict[str, str],
    ) -> str:
        if "key" not in spec:
            self.problem(
                mpath, "a `lookup` needs a `key`: the platform id of the referenced record"
            )
            return "None"
        key = self._value(spec["key"], (*mpath, "key"), rel, fn, scope)
        var = fn.var("r")
        entity, via = spec["lookup"], spec.get("via")
        if not key.isidentifier():  # a literal key ('main'): `'main' is None` warns
            fn.line(f"{var} = {key}")
            key = var
        fn.line(f"{var} = None if {key} is None else _Ref({entity!r}, _key_str({key}), {via!r})")
        return var

    def _each(
        self,
        spec: dict[str, Any],
        mpath: KeyPath,
        rel: str,
        fn: FunctionBuilder,
        scope: dict[str, str],
    ) -> str:
        if "map" not in spec:
            self.problem(mpath, "an `each` needs a `map`: the spec of one item")
            return "None"
        if not isinstance(spec["each"], str):
            self.problem((*mpath, "each"), "`each` must be an expression (a string)")
            return "None"
        items = self._leaf(
            self.expressions.compile(spec["each"], (*mpath, "each"), scope),
            (*mpath, "each"),
            rel,
            fn,
        )
        return self._each_over(items, spec, mpath, rel, fn, scope)

    def _each_over(
        self,
        items: str,
        spec: dict[str, Any],
        mpath: KeyPath,
        rel: str,
        fn: FunctionBuilder,
        scope: dict[str, str],
    ) -> str:
        """The list of `map` over `items` (kept by `where`, spliced by `flatten`); an issue
        and None when `items` is not a list."""
        sub = self.emitter.function("each_", ["rec", "parent", "root", "issues", "refs", "loc"])
        sub.line(f"return {self._value(spec['map'], (*mpath, 'map'), '', sub, self._scope(sub))}")
        keep = ""
        if "where" in spec:
            pred = self._where_fn(spec["where"], (*mpath, "where"))
            keep = f" if _truthy({pred}(_x, {scope['rec']}, {scope['root']}))"
        var, base = fn.var(), fn.var("b")
        splice = " for _z in (_y if isinstance(_y, list) else [_y])" if spec.get("flatten") else ""
        fn.line(f"if {items} is None or isinstance({items}, list):")
        with fn.indented():
            fn.line(f"{base} = _join(loc, {rel!r})")
            fn.line(
                f"{var} = None if {items} is None else [{'_z' if splice else '_y'} for _y in ("
                f"{sub.name}(_x, {scope['rec']}, {scope['root']}, issues, refs, "
                f"f'{{{base}}}[{{_i}}]') for _i, _x in enumerate({items}){keep}) "
                f"if _y is not None{splice}]"
            )
        fn.line("else:")
        with fn.indented():
            fn.line(
                f"_issue(issues, loc, {rel!r}, {dotted((*mpath, 'each'))!r}, RecordError("
                f"'`each` needs a list, got ' + type({items}).__name__))"
            )
            fn.line(f"{var} = None")
        return var


def _is_literal(code: str) -> bool:
    """Whether generated code is a plain literal (it cannot fail, so needs no try block)."""
    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError):
        return False
    return True
