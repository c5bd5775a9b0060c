"""One record through a compiled entity: transform, resolve lookups, validate; all its errors.

Used by `etl preview` and `etl test` (the pipeline resolves lookups from the ID map in bulk
instead). Unresolved lookups are shown as `<entity:key>` placeholders and validated as if a
Loop id stood there, so the rest of the payload is still checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.mapping.compile import CompiledEntity
from engine.mapping.runtime import LookupRef

_STAND_IN_ID = 9007199254740993  # any valid Loop id, only while validating


@dataclass
class RecordResult:
    """A source record, the payload it maps to, and every error (mapping and schema)."""

    input: Any
    payload: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    unresolved: list[LookupRef] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"input": self.input, "payload": self.payload, "errors": self.errors}


def map_one(
    entity: CompiledEntity,
    record: Any,
    parent: Any = None,
    lookups: Mapping[str, Mapping[str, Any]] | None = None,
    validate: bool = True,
) -> RecordResult:
    result = entity.transform(record, parent)
    errors = [str(issue) for issue in result.issues]
    unresolved = []
    for container, key, ref in result.refs:
        found = (lookups or {}).get(ref.entity, {}).get(ref.key)
        if found is None:
            unresolved.append(ref)
            container[key] = _STAND_IN_ID
        else:
            container[key] = found
    if validate:
        errors += [f"schema {issue}" for issue in entity.validate(result.payload)]
    for container, key, ref in result.refs:
        if ref in unresolved:
            container[key] = ref.placeholder()
    return RecordResult(record, result.payload, errors, unresolved)


def map_records(
    entity: CompiledEntity,
    records: Iterator[Any],
    lookups: Mapping[str, Mapping[str, Any]] | None = None,
    validate: bool = True,
) -> Iterator[RecordResult]:
    """Map source records; for a child entity (variants) or one that fans out, each record is
    a parent whose items are mapped."""
    for record in records:
        if entity.items_fn is None:
            yield map_one(entity, record, None, lookups, validate)
            continue
        for item in entity.items(record):
            yield map_one(entity, item, record, lookups, validate)
