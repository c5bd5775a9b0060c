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
    problems: list[Problem] = []
    touched: set[KeyPath] = set()

    def sub(text: str, path: KeyPath) -> str:
        def one(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                if taken is not None:
                    taken.setdefault(path, []).append(env[name])
                return env[name]
            if default is not None:
                return default
            problems.append(
                positions.problem(path, f"environment variable {name} is not set (no default)")
            )
            return ""

        if "${" not in text:
            return text
        if is_code(path) and _VAR.search(text.replace(_ESCAPED, "")):
            problems.append(positions.problem(path, IN_CODE))
            return text
        touched.add(path)
        parts = text.split(_ESCAPED)
        return "${".join(_VAR.sub(one, part) for part in parts)

    def visit(value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: visit(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return sub(value, path)
        return value

    result = visit(data, ())
    if problems:
        raise ConfigError(str(problems[0]), problems)
    return result, touched
