"""The mapping language's value functions as JMESPath custom functions.

The same functions as the Jinja filters (engine.mapping.filters), called with the value
first: `cents(price)`, `cents(price, currency)`, `rfc3339(created_at)`,
`enum(status, table, 'unknown')`. JMESPath built-ins are never overridden: `join` stays
JMESPath's `join(separator, array)`, and `to_string` / `to_number` stay JMESPath's own (so
there are no `to_string` / `to_number` entries here).

Signatures: the argument that carries record data accepts any type (`"types": []`), because
the function checks it itself and a bad value must be a RecordError naming it (the record is
quarantined, the run goes on), not a JMESPath type error; that also lets Decimal and datetime
values from SQL sources through. Arguments written in the mapping have JMESPath types.
Optional trailing arguments are marked `optional` (JMESPath has no such notion, so
LoopFunctions checks arity itself for those functions). A RecordError raised inside a
function propagates unchanged: JMESPath does not catch exceptions from functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jmespath
from jmespath import exceptions
from jmespath.functions import Functions

from engine.mapping import filters
from engine.mapping.filters import MISSING

_F = TypeVar("_F", bound=Callable[..., Any])

_ANY: dict[str, Any] = {"types": []}


def _signature(*arguments: dict[str, Any]) -> Callable[[_F], _F]:
    """jmespath's @signature, also allowing `"optional": True` on trailing arguments."""

    def record(func: _F) -> _F:
        func.signature = arguments  # type: ignore[attr-defined]
        return func

    return record


def _optional(*types: str) -> dict[str, Any]:
    return {"types": list(types), "optional": True}


class _OptionalArityError(exceptions.ArityError):
    def __init__(self, low: int, high: int, actual: int, name: str) -> None:
        super().__init__(high, actual, name)
        self.low = low

    def __str__(self) -> str:
        return (
            f"Expected {self.low} to {self.expected_arity} arguments for function"
            f" {self.function_name}(), received {self.actual_arity}"
        )


class LoopFunctions(Functions):
    """JMESPath functions: cents, rfc3339, enum, split, lower, upper, strip, default,
    to_int, round, first (plus every JMESPath built-in, unchanged)."""

    def __init__(self, default_timezone: str = "UTC") -> None:
        self._rfc3339 = filters.make_filters(default_timezone)["rfc3339"]

    def _validate_arguments(self, args: Any, signature: Any, function_name: str) -> Any:
        required = sum(1 for spec in signature if not spec.get("optional"))
        if required == len(signature):  # built-ins and functions without optional arguments
            return super()._validate_arguments(args, signature, function_name)  # type: ignore[misc]
        if not required <= len(args) <= len(signature):
            raise _OptionalArityError(required, len(signature), len(args), function_name)
        return self._type_check(args, signature[: len(args)], function_name)  # type: ignore[attr-defined]

    @_signature(_ANY, _optional("string", "null"))
    def _func_cents(self, value: Any, currency: str | None = None) -> int | None:
        return filters.cents(value, currency)

    @_signature(_ANY, _optional("string", "null"))
    def _func_decimal(self, value: Any, currency: str | None = None) -> str | None:
        return filters.decimal(value, currency)

    @_signature(_ANY, _optional("string", "null"), _optional("string"))
    def _func_rfc3339(
        self, value: Any, tz: str | None = None, layout: str | None = None
    ) -> str | None:
        result: str | None = self._rfc3339(value, tz, layout)
        return result

    @_signature(_ANY, {"types": ["object"]}, _optional(), _optional("boolean"))
    def _func_enum(
        self, value: Any, table: Any, default: Any = MISSING, ignore_case: bool = False
    ) -> Any:
        return filters.enum(value, table, default, ignore_case)

    @_signature(_ANY, _optional("string"))
    def _func_split(self, value: Any, sep: str = ",") -> list[str] | None:
        return filters.split(value, sep)

    @_signature(_ANY)
    def _func_lower(self, value: Any) -> str | None:
        return filters.lower(value)

    @_signature(_ANY)
    def _func_upper(self, value: Any) -> str | None:
        return filters.upper(value)

    @_signature(_ANY)
    def _func_strip(self, value: Any) -> str | None:
        return filters.strip(value)

    @_signature(_ANY, _ANY)
    def _func_default(self, value: Any, fallback: Any) -> Any:
        return filters.default(value, fallback)

    @_signature(_ANY)
    def _func_to_int(self, value: Any) -> int | None:
        return filters.to_int(value)

    @_signature(_ANY, _optional("number"))
    def _func_round(self, value: Any, ndigits: Any = 0) -> int | float | None:
        # JMESPath numbers from literals may be floats (`2.0`); the filter checks the rest.
        if isinstance(ndigits, float) and ndigits.is_integer():
            ndigits = int(ndigits)
        return filters.round_(value, ndigits)

    @_signature(_ANY)
    def _func_first(self, value: Any) -> Any:
        return filters.first(value)

    @_signature(_ANY)
    def _func_from_json(self, value: Any) -> Any:
        return filters.from_json(value)

    @_signature(_ANY)
    def _func_to_string(self, value: Any) -> str | None:
        # The one built-in replaced: JMESPath turns null into the text "null", which would put
        # "null" into a payload (an external_id, a lookup key) where the field should be absent.
        return filters.to_string(value)


FUNCTION_NAMES: tuple[str, ...] = tuple(
    sorted(set(LoopFunctions.FUNCTION_TABLE) - set(Functions.FUNCTION_TABLE))
)
"""The functions LoopFunctions adds to JMESPath's built-ins."""


def make_options(default_timezone: str = "UTC") -> jmespath.Options:
    """JMESPath options with the Loop functions and plain dicts; pass to compiled.search()."""
    return jmespath.Options(custom_functions=LoopFunctions(default_timezone), dict_cls=dict)
