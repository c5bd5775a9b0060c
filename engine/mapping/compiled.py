"""What compiling a mapping gives: each entity ready to run, and the mapping's compiled rules,
return actions and outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.mapping import runtime as rt
from engine.mapping.model import Entity, Mapping
from engine.mapping.outcomes import CompiledOutcome
from engine.mapping.return_actions import CompiledReturnActions
from engine.mapping.rules import CompiledRule
from engine.validation import PayloadValidator, ValidationIssue


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
        """For a child entity (variants) or one that fans out: its items in a record."""
        if self.items_fn is None:
            raise TypeError(f"{self.entity.name} is neither a child entity nor fans out")
        return self.items_fn(parent_record)

    def validate(self, payload: dict[str, Any]) -> list[ValidationIssue]:
        """Schema errors of a resolved payload; URL keys (inventories) are checked, not sent."""
        path_keys = self.entity.kind.path_keys
        if not path_keys:
            return self.validator.errors(payload)
        body = {k: v for k, v in payload.items() if k not in path_keys}
        missing = [
            ValidationIssue(f"$.{k}", f"{k!r} is a required property")
            for k in path_keys
            if payload.get(k) is None
        ]
        return missing + self.validator.errors(body)


@dataclass
class CompiledMapping:
    mapping: Mapping
    entities: dict[str, CompiledEntity]
    source: str  # the generated Python, kept for debugging
    rules: tuple[CompiledRule, ...] = ()
    return_actions: tuple[CompiledReturnActions, ...] = ()
    outcomes: tuple[CompiledOutcome, ...] = ()
