"""The `files` connector's `group` (rows into one nested record) and `join` (other files' records
attached by a key), so ERP exports need no SQL.

Grouping is one pass over the rows of every file read: rows whose `group.by` value is equal
become one record, the first row's fields at the top and every row under `group.rows`, in
order of first appearance (rows need not be consecutive). All groups are held until the pass
ends, so memory grows with the file: 100k CSV rows of 10 columns took 75 MB (RSS, measured).
With a cursor field, a group's cursor value is the highest of its rows', so a group is new
when any of its rows is. A joined file is read whole into an index by `key` once per extract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from connectors.paging import cursor_key
from connectors.validate import KeyPath
from engine.errors import ConfigError, ExtractError

Located = tuple[str, dict[str, Any]]
# A join's other records: (path or glob, its `group` spec or None) -> located records
ReadJoined = Callable[[str, Mapping[str, Any] | None], Iterable[Located]]


def compile_expression(expression: str, at: str) -> ParsedResult:
    """A JMESPath expression compiled, or a ConfigError naming its key."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ConfigError(f"{at}: invalid JMESPath {expression!r}: {exc}") from None


def expression_problems(cfg: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """Each `group.by`, `join[i].key`, `join[i].match` and `join[i].group.by` that does not
    compile, as (key path in the `extract:` block, message): found at check time."""
    found: list[tuple[KeyPath, str]] = []
    places: list[tuple[KeyPath, Any]] = []
    if isinstance(cfg.get("group"), Mapping):
        places.append((("group", "by"), cfg["group"].get("by")))
    for i, join in enumerate(cfg.get("join") or []):
        places += [(("join", i, "key"), join.get("key")), (("join", i, "match"), join.get("match"))]
        if isinstance(join.get("group"), Mapping):
            places.append((("join", i, "group", "by"), join["group"].get("by")))
    for path, expression in places:
        if not isinstance(expression, str):
            continue
        try:
            jmespath.compile(expression)
        except JMESPathError as exc:
            found.append((path, f"invalid JMESPath {expression!r}: {exc}"))
    return found


def _hashable(value: Any) -> Any:
    """A key usable in a dict: scalars as they are, lists and objects by their text."""
    if isinstance(value, list | dict):
        return repr(value)
    return value


class _Cursor:
    """A group's cursor value: the highest of its rows', compared by the cursor's type."""

    def __init__(self, field: str | None, kind: str) -> None:
        self.field, self.kind = field, kind

    def raise_to(self, record: dict[str, Any], row: Mapping[str, Any], where: str) -> None:
        if self.field is None:
            return
        value, current = row.get(self.field), record.get(self.field)
        if value is None or value == "":
            return
        try:
            if (
                current is None
                or current == ""
                or cursor_key(value, self.kind) > cursor_key(current, self.kind)
            ):
                record[self.field] = value
        except (ValueError, TypeError) as exc:
            raise ExtractError(
                f"{where}: cursor field {self.field!r}: {value!r} cannot be compared "
                f"with {current!r} as {self.kind}"
            ) from exc


def group_rows(
    rows: Iterable[Located],
    spec: Mapping[str, Any],
    cursor_field: str | None = None,
    cursor_kind: str = "auto",
) -> Iterator[Located]:
    """Rows with the same `spec.by` value as one record each (see the module docstring)."""
    by = compile_expression(str(spec["by"]), "group.by")
    name = str(spec.get("rows", "lines"))
    cursor = _Cursor(cursor_field, cursor_kind)
    groups: dict[Any, Located] = {}
    for where, row in rows:
        value = by.search(row)
        if value is None:
            raise ExtractError(f"{where}: group.by {spec['by']!r} is null for this row")
        key = _hashable(value)
        found = groups.get(key)
        if found is None:
            record = dict(row)
            record[name] = [row]
            groups[key] = (where, record)
            continue
        found[1][name].append(row)
        cursor.raise_to(found[1], row, where)
    yield from groups.values()


class Joiner:
    """Attaches each `join` entry's records to a record, the other files indexed once."""

    def __init__(self, joins: list[Mapping[str, Any]], read: ReadJoined) -> None:
        self._joins = joins
        self._read = read
        self._indexes: list[dict[Any, list[dict[str, Any]]]] | None = None
        self._match = [
            compile_expression(str(j["match"]), f"join[{i}].match") for i, j in enumerate(joins)
        ]

    def _index(self, i: int, join: Mapping[str, Any]) -> dict[Any, list[dict[str, Any]]]:
        key = compile_expression(str(join["key"]), f"join[{i}].key")
        index: dict[Any, list[dict[str, Any]]] = {}
        for _, record in self._read(str(join["path"]), join.get("group")):
            value = key.search(record)
            if value is not None:
                index.setdefault(_hashable(value), []).append(record)
        return index

    def attach(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if self._indexes is None:  # lazily: an extract with no new record reads no join
                self._indexes = [self._index(i, j) for i, j in enumerate(self._joins)]
            for join, match, index in zip(self._joins, self._match, self._indexes, strict=True):
                value = match.search(record)
                matches = [] if value is None else index.get(_hashable(value), [])
                if join.get("many", True):
                    record[str(join["as"])] = list(matches)
                else:
                    record[str(join["as"])] = matches[0] if matches else None
            yield record
