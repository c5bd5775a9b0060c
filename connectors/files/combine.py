"""The `files` connector's `group` (rows into one nested record) and `join` (other files' records
attached by a key), so ERP exports need no SQL.

Grouping is one pass over the rows of every file read: rows whose `group.by` value is equal
become one record, the first row's fields at the top and every row under `group.rows`, in
order of first appearance (rows need not be consecutive). All groups are held until the pass
ends, so memory grows with the file: 100k CSV rows of 10 columns took 75 MB (RSS, measured).
With a cursor field, a group's cursor value is the highest of its rows', so a group is new
when any of its rows is. A joined file is read whole into an index by `key` once per extract.

For parent/child rows, `group.head` picks the row giving the top-level fields (left out of the
rows). `where` keeps the records (after `group`) it is true for; a join entry also takes its
own `join` (nested), `fields` (computed over each joined record) and `sort` (the matches'
order), so an order line can carry its item's parent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jmespath

from connectors.expressions import Expression, syntax_problem, truthy
from connectors.paging import cursor_key
from connectors.validate import KeyPath
from engine.errors import ExtractError

Located = tuple[str, dict[str, Any]]
# A join's other records: (path or glob, its `group` spec or None) -> located records
# The mapping's JMESPath functions (a jmespath.Options), when the engine gave them
Options = jmespath.Options | None
ReadJoined = Callable[[str, Mapping[str, Any] | None], Iterable[Located]]


def setting_expressions(cfg: Mapping[str, Any], at: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    """Every JMESPath of an `extract:` block or a join entry, with its key path, nested joins
    included."""
    places: list[tuple[KeyPath, Any]] = [((*at, "where"), cfg.get("where"))]
    places += [((*at, "key"), cfg.get("key")), ((*at, "match"), cfg.get("match"))]
    places.append(((*at, "sort"), cfg.get("sort")))
    if isinstance(cfg.get("group"), Mapping):
        places.append(((*at, "group", "by"), cfg["group"].get("by")))
        places.append(((*at, "group", "head"), cfg["group"].get("head")))
    if isinstance(cfg.get("fields"), Mapping):
        places += [((*at, "fields", name), e) for name, e in cfg["fields"].items()]
    for i, join in enumerate(cfg.get("join") or []):
        if isinstance(join, Mapping):
            places += setting_expressions(join, (*at, "join", i))
    return places


def expression_problems(cfg: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """Each JMESPath of the block (`group.by`, `group.head`, `where`, and a join's `key`,
    `match`, `where`, `sort`, `fields`, nested joins' too) that does not compile, as (key path
    in the `extract:` block, message): found at check time."""
    return [
        (path, problem)
        for path, expression in setting_expressions(cfg)
        if isinstance(expression, str) and (problem := syntax_problem(expression)) is not None
    ]


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
    options: Options = None,
) -> Iterator[Located]:
    """Rows with the same `spec.by` value as one record each (see the module docstring)."""
    by = Expression(str(spec["by"]), "group.by", options)
    head = Expression(str(spec["head"]), "group.head", options) if spec.get("head") else None
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
    if head is None:
        yield from groups.values()
    else:
        yield from (
            (where, _headed(record, name, head, cursor)) for where, record in groups.values()
        )


def _headed(record: dict[str, Any], name: str, head: Expression, cursor: _Cursor) -> dict[str, Any]:
    """The group with its first `head` row's fields on top and that row left out of its rows;
    as it was (the first row on top, every row kept) when no row is a head."""
    rows: list[dict[str, Any]] = record[name]
    top = next((row for row in rows if truthy(head.search(row))), None)
    if top is None:
        return record
    headed = dict(top)
    headed[name] = [row for row in rows if row is not top]
    if cursor.field is not None and cursor.field in record:  # the highest of every row's
        headed[cursor.field] = record[cursor.field]
    return headed


def keep_where(
    records: Iterable[dict[str, Any]], expression: str, at: str, options: Options = None
) -> Iterator[dict[str, Any]]:
    """The records `expression` (JMESPath over a record) is true for, in their order."""
    where = Expression(expression, at, options)
    return (record for record in records if truthy(where.search(record)))


def _sort_key(value: Any) -> tuple[Any, ...]:
    """An order over any JMESPath value: null first, then numbers, text, lists element-wise."""
    if value is None or isinstance(value, bool):
        return (0, value is True)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_sort_key(item) for item in value))
    return (2, str(value))


def _with_fields(
    records: Iterable[dict[str, Any]], fields: Mapping[str, Any], at: str, options: Options
) -> Iterator[dict[str, Any]]:
    """Each record with every `fields` name set to its expression over the record."""
    compiled = {n: Expression(str(e), f"{at}.fields.{n}", options) for n, e in fields.items()}
    for record in records:
        record.update({name: found.search(record) for name, found in compiled.items()})
        yield record


class Joiner:
    """Attaches each `join` entry's records to a record, the other files indexed once."""

    def __init__(
        self, joins: list[Mapping[str, Any]], read: ReadJoined, options: Options = None
    ) -> None:
        self._joins = joins
        self._read = read
        self._options = options
        self._indexes: list[dict[Any, list[dict[str, Any]]]] | None = None
        self._match = [
            Expression(str(j["match"]), f"join[{i}].match", options) for i, j in enumerate(joins)
        ]

    def _index(self, i: int, join: Mapping[str, Any]) -> dict[Any, list[dict[str, Any]]]:
        key = Expression(str(join["key"]), f"join[{i}].key", self._options)
        index: dict[Any, list[dict[str, Any]]] = {}
        for record in self._records(i, join):
            value = key.search(record)
            if value is not None:
                index.setdefault(_hashable(value), []).append(record)
        if join.get("sort"):
            order = Expression(str(join["sort"]), f"join[{i}].sort", self._options)
            for matches in index.values():  # stable: equal keys keep the file order
                matches.sort(key=lambda record: _sort_key(order.search(record)))
        return index

    def _records(self, i: int, join: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """A join entry's records: read (and grouped), kept by `where`, joined, `fields` set."""
        records: Iterator[dict[str, Any]] = (
            r for _, r in self._read(str(join["path"]), join.get("group"))
        )
        if join.get("where"):
            records = keep_where(records, str(join["where"]), f"join[{i}].where", self._options)
        if join.get("join"):
            records = Joiner(list(join["join"]), self._read, self._options).attach(records)
        if join.get("fields"):
            records = _with_fields(records, join["fields"], f"join[{i}]", self._options)
        return records

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
