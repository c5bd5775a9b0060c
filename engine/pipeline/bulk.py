"""The bulk path of the loader: a batch's one-write records sent as one bulk operation, each
line's job turned back into that record's result (its Loop id, or Loop's refusal).

Off unless the mapping asks (`target.bulk: {entities: [orders], min_batch: 50}`). Between
prepare and commit nothing else changes: the loader sorts these results exactly as it sorts
single requests' (synced into the ID map, quarantined with Loop's reason, held to retry). A
record that needs two writes (an order whose refunds reference lines Loop has not numbered
yet) stays on the single path. The line format is an ASSUMPTION (see engine.loop.bulk).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from engine.errors import LoadError, PermanentLoadError, TransientLoadError
from engine.loop import bulk as loop_bulk
from engine.loop.api import LoopAPI
from engine.loop.bulk import BulkOperations, Line
from engine.loop.errors import loop_error_text
from engine.loop.kinds import Kind
from engine.mapping.model import Target
from engine.pipeline.prepare import Ready
from engine.state.idmap import LINES

DEFAULT_MIN_BATCH = 50
Result = tuple[int, dict[str, Any] | None] | Exception


@dataclass(frozen=True)
class BulkSettings:
    """`target.bulk`: the entities whose batches go as bulk operations, from what size."""

    entities: frozenset[str]
    min_batch: int = DEFAULT_MIN_BATCH

    @classmethod
    def of(cls, target: Target) -> BulkSettings | None:
        spec = target.bulk
        if not spec or not spec.get("entities"):
            return None
        return cls(frozenset(spec["entities"]), int(spec.get("min_batch", DEFAULT_MIN_BATCH)))


def known_lines(item: Ready) -> dict[str, Any]:
    """The order's line external_id -> Loop line id, as the ID map last stored them."""
    return dict((item.known[2] or {}).get(LINES, {})) if item.known else {}


def one_write(item: Ready) -> bool:
    """Whether the record goes in one write: not an order whose refunds need line ids that
    only Loop's answer to a first write would give."""
    if not item.line_refs:
        return True
    lines = known_lines(item)
    return all(ref.key in lines for _, _, ref in item.line_refs)


class BulkPath:
    """Sends batches of one kind as bulk operations through a Loop client."""

    def __init__(self, client: LoopAPI, kind: Kind, min_batch: int) -> None:
        self.operations = BulkOperations(client)
        self.kind, self.min_batch = kind, min_batch

    def split(self, batch: list[Ready]) -> tuple[list[Ready], list[Ready]]:
        """(what goes in bulk, what goes one request at a time): nothing in bulk below
        min_batch one-write records."""
        bulk = [item for item in batch if one_write(item)]
        if len(bulk) < self.min_batch:
            return [], batch
        chosen = {id(item) for item in bulk}
        return bulk, [item for item in batch if id(item) not in chosen]

    def load(self, items: list[Ready]) -> Iterator[tuple[Ready, Result]]:
        """Each item with its result: (Loop id, extra) or the error its line met."""
        lines: list[Line] = []
        sent: list[Ready] = []
        for item in items:
            try:
                lines.append(self.line(item))
                sent.append(item)
            except PermanentLoadError as exc:
                yield item, exc
        size = loop_bulk.MAX_LINES
        for start in range(0, len(lines), size):
            yield from self._upload(lines[start : start + size], sent[start : start + size])

    def _upload(self, lines: list[Line], sent: list[Ready]) -> Iterator[tuple[Ready, Result]]:
        """One file: each of its records with its line's result."""
        try:
            operation, jobs = self.operations.run(lines)
        except (LoadError, OSError) as exc:  # the upload as a whole: every line held
            yield from ((item, exc) for item in sent)
            return
        for number, item in enumerate(sent, 1):
            yield item, self._result(item, operation, jobs.get(number), number)

    def line(self, item: Ready) -> Line:
        """The bulk line of one record: the single request it replaces."""
        kind, payload = self.kind, item.payload
        if kind.write == "child":
            if item.parent_key is None:
                raise PermanentLoadError(f"a {kind.name} needs its {kind.parent}'s external_id")
            path = kind.child_path(f"external/{quote(str(item.parent_key), safe='')}")
            return Line.of("PUT", path, payload)
        if kind.write == "path":
            first, second = kind.path_keys
            path = f"{kind.path}/{int(payload[first])}/{int(payload[second])}"
            return Line.of("PUT", path, {"available_count": payload["available_count"]})
        if kind.write == "order" and item.line_refs:
            lines = known_lines(item)
            for container, slot, ref in item.line_refs:
                container[slot] = lines[ref.key]
            try:
                return Line.of("PUT", kind.path, payload)  # serialised now, with the ids
            finally:
                for container, slot, ref in item.line_refs:
                    container[slot] = ref  # the payload keeps its placeholders (stable hash)
        return Line.of("PUT", kind.path, payload)

    def _result(
        self, item: Ready, operation: dict[str, Any], job: dict[str, Any] | None, n: int
    ) -> Result:
        if job is None:
            status = operation.get("status")
            return LoadError(f"bulk operation {operation.get('id')} ({status}) has no job {n}")
        code = int(job.get("http_code") or 0)
        if job.get("status") != "succeeded":
            text = f"bulk line {n}: {loop_error_text(job.get('errors'), code)}"
            if 400 <= code < 500 and code not in (408, 429):
                return PermanentLoadError(text, code, job.get("errors"))
            return TransientLoadError(text, code or None)
        if self.kind.write == "path":
            return 0, None  # addressed by its URL: no Loop id of its own
        loop_id = str(job.get("id") or "")
        if not loop_id.isdigit():
            return LoadError(f"bulk line {n} succeeded without a Loop id: {job.get('id')!r:.40}")
        if self.kind.write != "order":
            return int(loop_id), None
        result = job.get("result")
        result = result if isinstance(result, dict) else {}
        return int(loop_id), {LINES: line_ids(result) or known_lines(item)}


def line_ids(order: dict[str, Any]) -> dict[str, Any]:
    """An order's line external_id -> Loop line id, from Loop's answer."""
    return {
        str(line["external_id"]): line["id"]
        for line in order.get("line_items") or []
        if line.get("external_id") is not None and line.get("id") is not None
    }
