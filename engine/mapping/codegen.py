"""A small builder for generated Python: named bindings, functions with indented lines.

Generated code only ever contains names made here, Python keywords and `repr()` of plain
values: nothing from a mapping file is pasted into the source as code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class FunctionBuilder:
    def __init__(self, emitter: Emitter, name: str, params: list[str]) -> None:
        self.emitter, self.name, self.params = emitter, name, params
        self.lines: list[str] = []
        self.depth = 1
        # Reads of the record's own keys, done once at the top: (key, default) -> variable.
        self.hoisted: dict[tuple[str, str], str] = {}

    def hoist(self, key: str, default: str = "None") -> str:
        """A variable holding `rec.get(key, default)` (rec not a dict: the default)."""
        found = self.hoisted.get((key, default))
        if found is None:
            found = self.hoisted[(key, default)] = self.var("h")
        return found

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def indented(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def var(self, prefix: str = "v") -> str:
        return self.emitter.fresh(prefix)

    def source(self) -> str:
        prelude = []
        if self.hoisted:
            prelude.append(
                f"    _d = {self.params[0]} if isinstance({self.params[0]}, dict) else _EMPTY"
            )
            prelude += [
                f"    {var} = _d.get({key!r}, {default})"
                for (key, default), var in self.hoisted.items()
            ]
        body = prelude + self.lines or ["    pass"]
        return f"def {self.name}({', '.join(self.params)}):\n" + "\n".join(body) + "\n"


class Emitter:
    """Collects functions and the values they refer to, then executes them as one module."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = dict(namespace)
        self.functions: list[FunctionBuilder] = []
        self._count = 0
        self._bound: dict[int, str] = {}

    def fresh(self, prefix: str) -> str:
        self._count += 1
        return f"_{prefix}{self._count}"

    def temp(self) -> str:
        return self.fresh("t")

    def bind(self, value: Any, prefix: str = "k_") -> str:
        """A module-level name for `value` (the same object gets the same name)."""
        known = self._bound.get(id(value))
        if known is not None and self.namespace.get(known) is value:
            return known
        name = self.fresh(prefix)
        self.namespace[name] = value
        self._bound[id(value)] = name
        return name

    def function(self, prefix: str, params: list[str]) -> FunctionBuilder:
        fn = FunctionBuilder(self, self.fresh(prefix), params)
        self.functions.append(fn)
        return fn

    def source(self) -> str:
        return "\n".join(fn.source() for fn in self.functions)

    def execute(self, filename: str) -> dict[str, Any]:
        namespace = dict(self.namespace)
        exec(
            compile(self.source(), filename, "exec"), namespace
        )  # the source is built by Emitter alone
        return namespace
