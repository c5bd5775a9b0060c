"""Source records for `etl preview`: straight from a mapping's connector (embedded demos
started as for a run), or read from a JSON / JSONL file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import jmespath

from connectors.base import ExtractRequest
from engine.context import open_context, state_path_for
from engine.errors import ConfigError
from engine.mapping.model import Mapping


@contextmanager
def extract_records(mapping: Mapping, entity: str, limit: int) -> Iterator[Iterator[Any]]:
    """The first `limit` source records of `entity`, from the mapping's connector."""
    state_path = state_path_for(mapping)
    with open_context(mapping, state_path, need_loop=False, need_state=False) as ctx:
        spec = mapping.entities[entity]
        request = ExtractRequest(entity, spec.extract, None, mapping.base_dir, limit)

        pages = ctx.connector.extract(request)

        def records() -> Iterator[Any]:
            count = 0
            for page in pages:
                for record in page.records:
                    if count >= limit:
                        return
                    count += 1
                    yield record

        with closing(pages):  # type: ignore[type-var]  # close before the connection
            yield records()


def read_records(path: Path, records_expr: str | None = None) -> Iterator[Any]:
    """Records from a JSON array, a JSONL file, or a JSON object: the list (or the one object)
    that `records_expr` finds in it, else the object itself as one record."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from json.loads(text)
    elif path.suffix == ".jsonl" or "\n{" in stripped:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: not JSON: {exc.msg}") from None
    else:
        document = json.loads(text)
        found = jmespath.search(records_expr, document) if records_expr else None
        if found is None and isinstance(document, dict) and len(document) == 1:
            found = next(iter(document.values()))  # {"order": {...}}: the wrapped record
        if isinstance(found, list):
            yield from found
        else:
            yield document if found is None else found
