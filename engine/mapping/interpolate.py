"""`${VAR}` and `${VAR:-default}` in mapping values, from the environment.

Values that came from the environment may be secrets: the set of paths that were interpolated
is kept so that errors about them never echo the value. They are never pasted into code: a
`${VAR}` in an extract's `query` (SQL) is refused, and the error says to bind it as a
parameter instead (`params: {name: "${VAR}"}` and `$name` in the query).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, Problem
from engine.mapping.yamlsource import KeyPath, Positions

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ESCAPED = "$${"


IN_CODE = (
    "${VAR} may not be used inside a query (its text would become SQL): bind it as a "
    'parameter instead, `params: {name: "${VAR}"}` and `$name` in the query'
)


def is_code(path: KeyPath) -> bool:
    """Values that are code, where an environment value would become code: SQL queries."""
    return len(path) == 4 and path[0] == "entities" and path[2:] == ("extract", "query")


def interpolate(
    data: Any,
    positions: Positions,
    env: Mapping[str, str],
    taken: dict[KeyPath, list[str]] | None = None,
) -> tuple[Any, set[KeyPath]]:
    """Replace every `${VAR}` in string values; return the data and the interpolated paths
    (`taken`, when given, collects the values that came from the environment, by path).

    `$${` is an escape for a literal `${`. A missing variable without a default is an error
    naming the variable and every place it is used; all such problems are reported at once.
    """
    interpolator = _Interpolator(positions, env, taken)
    result = interpolator.visit(data, ())
    if interpolator.problems:
        raise ConfigError(str(interpolator.problems[0]), interpolator.problems)
    return result, interpolator.touched


class _Interpolator:
    """One pass over the data: the problems found and the paths interpolated on the way."""

    def __init__(
        self, positions: Positions, env: Mapping[str, str], taken: dict[KeyPath, list[str]] | None
    ) -> None:
        self.positions = positions
        self.env = env
        self.taken = taken
        self.problems: list[Problem] = []
        self.touched: set[KeyPath] = set()

    def visit(self, value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: self.visit(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.visit(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.sub(value, path)
        return value

    def sub(self, text: str, path: KeyPath) -> str:
        if "${" not in text:
            return text
        if is_code(path) and _VAR.search(text.replace(_ESCAPED, "")):
            self.problems.append(self.positions.problem(path, IN_CODE))
            return text
        self.touched.add(path)
        parts = text.split(_ESCAPED)
        return "${".join(_VAR.sub(lambda match: self.one(match, path), part) for part in parts)

    def one(self, match: re.Match[str], path: KeyPath) -> str:
        name, default = match.group(1), match.group(2)
        if name in self.env:
            if self.taken is not None:
                self.taken.setdefault(path, []).append(self.env[name])
            return self.env[name]
        if default is not None:
            return default
        problem = f"environment variable {name} is not set (no default)"
        self.problems.append(self.positions.problem(path, problem))
        return ""
