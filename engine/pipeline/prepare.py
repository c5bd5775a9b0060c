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
    # (alias, alias key, key) of the unchanged records: the state writes those it lacks (an
    # alias added to the mapping after the records were sent)
    unchanged_aliases: list[tuple[str, str, str]] = field(default_factory=list)
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)
    deferred: list[Parked] = field(default_factory=list)  # `send: referenced`, not in Loop yet
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


def source_label(record: Any) -> str:
    """How a source record is named in a reason: its `id`, else a hash of its content."""
    if isinstance(record, dict) and record.get("id") is not None:
        return f"id {record['id']}"
    return fallback_key(record)


def fallback_key(record: Any) -> str:
    """A stable key for a record whose own key could not be mapped (for quarantine)."""
    text = json.dumps(record, sort_keys=True, default=str)
    return "record:" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PrepareOptions:
    """How a batch is prepared beyond `etl run`'s defaults.

    `assume(entity, via, key)`: in a dry run, a reference to a record the run would have sent
    counts as resolved (to a stand-in id). `seen`: the keys already met in this run (as their
    64-bit hashes: a few bytes a record however large the run, at a collision chance of about
    one in 10**7 for a million keys), so that a key two source records map to is caught across
    batches too (None: not checked). `every`: keep every valid payload ready, unchanged or not
    (reconcile compares them all with Loop). `resend`: keys sent even when their hash is
    unchanged (drifted in Loop). `lost`: keys Loop no longer has: sent as new records.
    `defer`: a valid record Loop does not have yet is deferred, not sent (`send: referenced`).
    `pull(entity, via, keys)`: sends the deferred records of one of the `deferring` entities
    that a lookup by key (`via` None) or by an alias needs, and answers the Loop ids of the
    keys asked for (in a dry run, stand-ins).
    """

    assume: Callable[[str, str | None, str], bool] | None = None
    seen: set[int] | None = None
    every: bool = False
    resend: frozenset[str] = frozenset()
    lost: frozenset[str] = frozenset()
    defer: bool = False
    deferring: frozenset[str] = frozenset()
    pull: Callable[[str, str | None, list[str]], dict[str, int]] | None = None


DEFERRED = "sent once a record that looks it up is sent (send: referenced)"


def record_aliases(aliases: dict[str, Any], record: Any) -> list[tuple[str, str]]:
    """The record's (alias, alias key) pairs, those it has (`aliases`: name -> compiled
    JMESPath)."""
    return [
        (name, str(v)) for name, expr in aliases.items() if (v := expr.search(record)) is not None
    ]


class Preparer:
    """Prepares batches of one entity against the state's ID map."""

    def __init__(
        self, entity: CompiledEntity, state: State, options: PrepareOptions | None = None
    ) -> None:
        self.entity = entity
        self.state = state
        self.options = options or PrepareOptions()
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
        if self.options.seen is not None:
            mapped = self._unique(mapped, out, self.options.seen)
        missing = self._resolve([m[4] for m in mapped])
        known = self.state.lookup(self.entity.entity.name, [m[0] for m in mapped])
        for (key, record, parent, parent_key, t), unresolved in zip(mapped, missing, strict=True):
            if unresolved:
                reasons = [f"{ref.placeholder()} is not in Loop yet" for ref in unresolved]
                out.held.append(Parked(key, reasons, record, parent, "held"))
                continue
            self._finish(out, key, record, parent, parent_key, t, known.get(key))
        return out

    def _unique(self, mapped: list[Any], out: Prepared, seen: set[int]) -> list[Any]:
        """Records sharing a key within a run are never raced: all of them are quarantined
        (one row per key, its reasons naming every source record) and none is sent."""
        groups: dict[str, list[Any]] = defaultdict(list)
        for entry in mapped:
            groups[entry[0]].append(entry)
        keep = []
        for key, group in groups.items():
            met = hash(key) in seen
            if len(group) == 1 and not met:
                seen.add(hash(key))
                keep.append(group[0])
                continue
            labels = ", ".join(source_label(g[1]) for g in group)
            count = f"{len(group)} source records" if len(group) > 1 else "a source record"
            earlier = "; another was met in an earlier batch of this run" if met else ""
            reason = (
                f"duplicate key in source: {count} ({labels}) map to {self.entity.entity.key} "
                f"{key!r}{earlier}; records sharing a key are not sent"
            )
            _, record, parent, _, _ = group[0]
            out.quarantined.append(Parked(key, [reason], record, parent, "duplicate"))
            seen.add(hash(key))
        return keep

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
        if known is None and self.options.defer:
            named = tuple(self._aliases(record))
            out.deferred.append(Parked(key, [DEFERRED], record, parent, "deferred", named))
            return
        if key in self.options.lost:
            known = None  # what the ID map remembers of it (order line ids) is gone too
        elif self._unchanged(key, known, digest):
            out.unchanged.append(key)
            out.unchanged_aliases += [(n, v, key) for n, v in self._aliases(record)]
            return
        aliases = self._aliases(record)
        out.ready.append(
            Ready(key, record, parent, t.payload, digest, known, line_refs, aliases, parent_key)
        )

    def _aliases(self, record: Any) -> list[tuple[str, str]]:
        return record_aliases(self.aliases, record)

    def _unchanged(self, key: str, known: Any, digest: str) -> bool:
        """Loop last accepted this very payload, and nothing asks to send it again."""
        options = self.options
        if known is None or known[1] != digest:
            return False
        return not options.every and key not in options.resend

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
        self._pull(wanted, found)
        missing: list[list[LookupRef]] = []
        for t in transformed:
            unresolved = []
            for container, slot, ref in t.refs:
                if ref.entity == ORDER_LINES:
                    continue
                loop_id = found[(ref.entity, ref.via)].get(ref.key)
                assume = self.options.assume
                if loop_id is None and assume is not None and assume(ref.entity, ref.via, ref.key):
                    loop_id = STAND_IN_ID
                if loop_id is None:
                    unresolved.append(ref)
                else:
                    container[slot] = loop_id
            missing.append(unresolved)
        return missing

    def _pull(
        self,
        wanted: dict[tuple[str, str | None], set[str]],
        found: dict[tuple[str, str | None], dict[str, int]],
    ) -> None:
        """Send the deferred records the batch looks up (by key or via an alias) and Loop does
        not have yet."""
        pull = self.options.pull
        if pull is None:
            return
        for (entity, via), keys in wanted.items():
            if entity in self.options.deferring:
                lacking = sorted(k for k in keys if k not in found[(entity, via)])
                if lacking:
                    found[(entity, via)].update(pull(entity, via, lacking))
