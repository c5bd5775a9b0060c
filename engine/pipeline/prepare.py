"""One batch of one entity, up to the load: map, resolve lookups in bulk, validate, diff.

Each source record ends as exactly one of: quarantined (bad: every reason kept), held back
(waits for a referenced record that is not in Loop yet), unchanged (its payload hash equals the
one Loop last accepted: no request at all), or ready to load.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jmespath

from engine.mapping.compile import CompiledEntity
from engine.mapping.model import ORDER_LINES
from engine.mapping.runtime import LookupRef, Transformed
from engine.state import Parked, State

STAND_IN_ID = 9007199254740993  # validates a reference Loop resolves only at load time


@dataclass
class Ready:
    """A payload to push: its identity, what Loop had, and refs to its own order lines."""

    key: str
    record: Any
    parent: Any
    payload: dict[str, Any]
    payload_hash: str
    known: tuple[int, str | None, Any] | None
    line_refs: list[tuple[Any, Any, LookupRef]] = field(default_factory=list)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    parent_key: str | None = None


@dataclass
class Prepared:
    ready: list[Ready] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)  # id(source record) -> its key


def payload_hash(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_placeholder)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _placeholder(value: Any) -> Any:
    if isinstance(value, LookupRef):
        return value.placeholder()
    return str(value)


def record_key(entity: CompiledEntity, t: Transformed, record: Any) -> str | None:
    """The record's identity in the ID map: the entity's key over the payload; inventories
    (no external id) are keyed by their variant and location references."""
    path_keys = entity.entity.kind.path_keys
    if path_keys:
        refs = {k: ref for container, k, ref in t.refs if container is t.payload}
        parts = [refs[k].key if k in refs else t.payload.get(k) for k in path_keys]
        return None if any(p is None for p in parts) else "@".join(str(p) for p in parts)
    value = jmespath.search(entity.entity.key, t.payload)
    return None if value is None or isinstance(value, LookupRef) else str(value)


def fallback_key(record: Any) -> str:
    """A stable key for a record whose own key could not be mapped (for quarantine)."""
    text = json.dumps(record, sort_keys=True, default=str)
    return "record:" + hashlib.sha256(text.encode()).hexdigest()[:16]


class Preparer:
    """Prepares batches of one entity against the state's ID map."""

    def __init__(
        self,
        entity: CompiledEntity,
        state: State,
        assume: Callable[[str, str | None, str], bool] | None = None,
    ) -> None:
        """`assume(entity, via, key)`: in a dry run, a reference to a record the run would
        have sent counts as resolved (to a stand-in id)."""
        self.entity = entity
        self.state = state
        self.assume = assume
        self.aliases = {
            name: jmespath.compile(expr) for name, expr in entity.entity.aliases.items()
        }

    def prepare(self, items: list[tuple[Any, Any, str | None]]) -> Prepared:
        """items: (record, parent record or None, parent key or None)."""
        out = Prepared()
        mapped = []
        for record, parent, parent_key in items:
            t = self.entity.transform(record, parent)
            key = record_key(self.entity, t, record)
            if key is not None:  # also when quarantined: its children are then held, not lost
                out.keys[id(record)] = key
            if key is None or t.issues:
                reasons = [str(i) for i in t.issues]
                if key is None:
                    reasons.append(f"no {self.entity.entity.key}: the record has no identity")
                out.quarantined.append(
                    Parked(key or fallback_key(record), reasons, record, parent, "transform")
                )
                continue
            mapped.append((key, record, parent, parent_key, t))
        missing = self._resolve([m[4] for m in mapped])
        known = self.state.lookup(self.entity.entity.name, [m[0] for m in mapped])
        for (key, record, parent, parent_key, t), unresolved in zip(mapped, missing, strict=True):
            if unresolved:
                reasons = [f"{ref.placeholder()} is not in Loop yet" for ref in unresolved]
                out.held.append(Parked(key, reasons, record, parent, "held"))
                continue
            self._finish(out, key, record, parent, parent_key, t, known.get(key))
        return out

    def _finish(
        self,
        out: Prepared,
        key: str,
        record: Any,
        parent: Any,
        parent_key: str | None,
        t: Transformed,
        known: Any,
    ) -> None:
        line_refs = [r for r in t.refs if r[2].entity == ORDER_LINES]
        for container, slot, _ in line_refs:
            container[slot] = STAND_IN_ID
        errors = self.entity.validate(t.payload)
        for container, slot, ref in line_refs:
            container[slot] = ref
        if errors:
            out.quarantined.append(
                Parked(key, [f"schema {e}" for e in errors], record, parent, "validate")
            )
            return
        digest = payload_hash(t.payload)
        if known is not None and known[1] == digest:
            out.unchanged.append(key)
            return
        aliases = [
            (name, str(v))
            for name, expr in self.aliases.items()
            if (v := expr.search(record)) is not None
        ]
        out.ready.append(
            Ready(key, record, parent, t.payload, digest, known, line_refs, aliases, parent_key)
        )

    def _resolve(self, transformed: list[Transformed]) -> list[list[LookupRef]]:
        """Resolve every lookup of the batch with one query per (entity, alias)."""
        wanted: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        for t in transformed:
            for _, _, ref in t.refs:
                if ref.entity != ORDER_LINES:
                    wanted[(ref.entity, ref.via)].add(ref.key)
        found: dict[tuple[str, str | None], dict[str, int]] = {}
        for (entity, via), keys in wanted.items():
            if via is None:
                found[(entity, via)] = {
                    k: v[0] for k, v in self.state.lookup(entity, sorted(keys)).items()
                }
            else:
                found[(entity, via)] = self.state.lookup_alias(entity, via, sorted(keys))
        missing: list[list[LookupRef]] = []
        for t in transformed:
            unresolved = []
            for container, slot, ref in t.refs:
                if ref.entity == ORDER_LINES:
                    continue
                loop_id = found[(ref.entity, ref.via)].get(ref.key)
                if loop_id is None and self.assume and self.assume(ref.entity, ref.via, ref.key):
                    loop_id = STAND_IN_ID
                if loop_id is None:
                    unresolved.append(ref)
                else:
                    container[slot] = loop_id
            missing.append(unresolved)
        return missing
