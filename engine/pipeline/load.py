"""Pushes ready payloads into Loop, each the way its kind is written, and sorts the answers.

Products, customers, locations, collections and orders are upserted by external_id (PUT on
the collection), variants through their product's external path, inventories at
/inventories/{variant}/{location}. An order whose refunds reference its own lines gets their
Loop ids from the ID map when it was synced before (one PUT), else from Loop's answer to a
first PUT without refunds (a second PUT only where needed). With `target.bulk` on for the
kind, a batch's one-write records go as one bulk operation instead (engine.pipeline.bulk); the
rest, and the answers of both, are sorted here alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import LoadError, PermanentLoadError, TransientLoadError
from engine.loop.api import LoopAPI
from engine.loop.kinds import Kind
from engine.pipeline.bulk import BulkPath, Result, known_lines, line_ids
from engine.pipeline.prepare import Ready
from engine.state import Parked, Synced
from engine.state.idmap import LINES


@dataclass
class Loaded:
    synced: list[Synced] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    aliases: list[tuple[str, str, str]] = field(default_factory=list)
    quarantined: list[Parked] = field(default_factory=list)
    held: list[Parked] = field(default_factory=list)


class Loader:
    """Loads batches of one kind through a Loop client (concurrency and budget are its own)."""

    def __init__(self, client: LoopAPI, kind: Kind, bulk_min_batch: int | None = None) -> None:
        """`bulk_min_batch`: send batches with at least that many one-write records as bulk
        operations (None: never)."""
        self.client = client
        self.kind = kind
        self.bulk = None if bulk_min_batch is None else BulkPath(client, kind, bulk_min_batch)

    def load(self, batch: list[Ready]) -> Loaded:
        out = Loaded()
        bulk, single = self.bulk.split(batch) if self.bulk else ([], batch)
        if bulk and self.bulk:
            for item, result in self.bulk.load(bulk):
                _sort(out, item, result)
        for item, outcome in self.client.map_concurrent(self._push, single):
            _sort(out, item, outcome)
        return out

    def _push(self, item: Ready) -> tuple[int, dict[str, Any] | None]:
        kind = self.kind
        if kind.write == "child":
            if item.parent_key is None:
                raise PermanentLoadError(f"a {kind.name} needs its {kind.parent}'s external_id")
            body = self.client.upsert_child(kind.name, item.parent_key, item.payload)
            return int(body["id"]), None
        if kind.write == "path":
            payload = item.payload
            first, second = kind.path_keys
            self.client.put_inventory(payload[first], payload[second], payload["available_count"])
            return 0, None  # addressed by its URL: no Loop id of its own
        if kind.write == "order":
            return self._push_order(item)
        body = self.client.upsert(kind.name, item.payload)
        return int(body["id"]), None

    def _push_order(self, item: Ready) -> tuple[int, dict[str, Any] | None]:
        lines = known_lines(item)
        if item.line_refs and not all(ref.key in lines for _, _, ref in item.line_refs):
            # Loop numbers the lines only when it stores the order: refunds must wait for it.
            first = {k: v for k, v in item.payload.items() if k != "refunds"}
            lines.update(line_ids(self.client.upsert("order", first)))
        for container, slot, ref in item.line_refs:
            if ref.key not in lines:
                raise PermanentLoadError(
                    f"refund references line {ref.key}, which the order does not have", 422
                )
            container[slot] = lines[ref.key]
        body = self.client.upsert("order", item.payload)
        for container, slot, ref in item.line_refs:
            container[slot] = ref  # the payload keeps its placeholders (its hash is stable)
        return int(body["id"]), {LINES: line_ids(body) or lines}


def _sort(out: Loaded, item: Ready, result: Result) -> None:
    """One record's result into synced, quarantined (Loop refused it) or held (try again)."""
    if isinstance(result, PermanentLoadError):
        reason = f"Loop answered {result.status}: {result}"
        out.quarantined.append(Parked(item.key, [reason], item.record, item.parent, "load"))
    elif isinstance(result, LoadError | OSError):
        reason = f"Loop did not accept it yet ({type(result).__name__}: {result})"
        out.held.append(Parked(item.key, [reason], item.record, item.parent, "held"))
    elif isinstance(result, BaseException):
        raise result
    else:
        loop_id, extra = result
        out.synced.append(Synced(item.key, loop_id, item.payload_hash, extra))
        out.aliases += [(name, value, item.key) for name, value in item.aliases]
        if item.known is None:
            out.created += 1
        else:
            out.updated += 1


__all__ = ["Loaded", "Loader", "TransientLoadError"]
