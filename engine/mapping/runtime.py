"""What compiled mappings call at run time: scope access, lookups, and error collection."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jmespath.exceptions
from jinja2 import Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jmespath.visitor import TreeInterpreter

from engine.errors import RecordError


class _Missing:
    """A name or key a template asked for that the record does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class LookupRef:
    """A reference to another entity's record, by its platform key, until the ID map resolves it."""

    entity: str
    key: str
    via: str | None = None  # an alias key of the entity (e.g. a variant's inventory_item)

    def placeholder(self) -> str:
        where = f"{self.entity}.{self.via}" if self.via else self.entity
        return f"<{where}:{self.key}>"


@dataclass(frozen=True)
class FieldIssue:
    """Why one field of one record could not be mapped: payload path, mapping path, message."""

    path: str
    message: str
    mapping_path: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class Transformed:
    """A record's payload, its unresolved lookups (container, key, ref) and its problems."""

    payload: dict[str, Any]
    refs: list[tuple[Any, Any, LookupRef]] = field(default_factory=list)
    issues: list[FieldIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class Runtime:
    """Helpers bound into a compiled mapping's namespace; `env` is the sandboxed Jinja env."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def attr(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return value.get(key, MISSING)
        if value is MISSING or value is None:
            return MISSING
        found = self.env.getattr(value, key)  # the sandbox decides what may be reached
        return MISSING if isinstance(found, Undefined) else found

    def map_attr(self, items: Any, key: str) -> list[Any]:
        """Jinja's `map(attribute=key)` planned: each item's `key` (an error when one lacks
        it, as rendering raises), nothing for a falsy value."""
        out = []
        for item in items or ():
            found = self.attr(item, key)
            if found is MISSING:
                undefined(key)
            out.append(found)
        return out

    def item(self, value: Any, key: Any) -> Any:
        if isinstance(value, dict):
            return value.get(key, MISSING)
        if isinstance(value, list) and isinstance(key, int):
            return value[key] if -len(value) <= key < len(value) else MISSING
        if value is MISSING or value is None:
            return MISSING
        found = self.env.getitem(value, key)
        return MISSING if isinstance(found, Undefined) else found


def undefined(what: str) -> Any:
    raise RecordError(f"{what!r} is undefined")


def map_filter(items: Any, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """Jinja's `map('filter', *args)` planned: the filter on each item, nothing for a falsy
    value; a missing argument is an error only once there is an item to apply it to."""
    out = []
    for item in items or ():
        if any(arg is MISSING for arg in args):
            undefined("an argument of map")
        out.append(fn(item, *args))
    return out


def missing_to_none(value: Any) -> Any:
    return None if value is MISSING else value


def key_str(value: Any) -> str | None:
    """Lookup keys are compared as strings: 42, 42.0 and "42" are the same platform id."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def fresh(value: Any) -> Any:
    """A private copy of a mutable constant, so no payload shares one with another."""
    return copy.deepcopy(value)


def join_path(loc: str, rel: str) -> str:
    if not loc:
        return rel
    return f"{loc}.{rel}" if rel and not rel.startswith("[") else loc + rel


def record_issue(issues: list[FieldIssue], loc: str, rel: str, mpath: str, exc: Exception) -> None:
    issues.append(FieldIssue(join_path(loc, rel), describe_error(exc), mpath))


def describe_error(exc: Exception) -> str:
    if isinstance(exc, RecordError):
        return exc.message
    if isinstance(exc, UndefinedError | SecurityError):
        return str(exc.message or exc)
    if isinstance(exc, jmespath.exceptions.JMESPathError):
        return str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {exc}"


MAX_ELEMENTS = 1_000_000
"""List items and object members one JMESPath evaluation may build ([@, @][] chains double)."""


class BoundedInterpreter(TreeInterpreter):
    """JMESPath's interpreter counting what multi-selects, flattens and projections build
    against MAX_ELEMENTS, so that an expression cannot exhaust memory on a record."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self._budget = MAX_ELEMENTS

    def _spend(self, result: Any) -> Any:
        if isinstance(result, list | dict):
            self._budget -= len(result)
            if self._budget < 0:
                raise RecordError(
                    f"the expression builds more than {MAX_ELEMENTS} list items or members"
                )
        return result

    def visit_multi_select_list(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_multi_select_list(node, value))

    def visit_multi_select_dict(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_multi_select_dict(node, value))

    def visit_flatten(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_flatten(node, value))

    def visit_projection(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_projection(node, value))

    def visit_value_projection(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_value_projection(node, value))

    def visit_filter_projection(self, node: Any, value: Any) -> Any:
        return self._spend(super().visit_filter_projection(node, value))


def bounded_search(parsed: Any, value: Any, options: Any) -> Any:
    """`parsed.search(value)` through the BoundedInterpreter."""
    return BoundedInterpreter(options).visit(parsed.parsed, value)


class ScopedInterpreter(BoundedInterpreter):
    """JMESPath evaluation where `parent`, `root` and `vars` at the top level name the scope.

    The current item stays `@` whatever its type (an object, a string, a number), so
    `join('-', [@, parent.k])` works inside an `each` over plain values.
    """

    def __init__(self, options: Any, current: Any, names: dict[str, Any]) -> None:
        super().__init__(options)
        self._current = current
        self._names = names

    def visit_field(self, node: Any, value: Any) -> Any:
        name = node["value"]
        if value is self._current and name in self._names:
            return self._names[name]
        return super().visit_field(node, value)
