"""Records straight from a mapping's source (for `etl preview`), starting embedded demos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from connectors.base import ExtractRequest
from connectors.registry import connector_class
from engine.embedded import services, state_path_for
from engine.mapping.model import Mapping


@contextmanager
def extract_records(mapping: Mapping, entity: str, limit: int) -> Iterator[Iterator[Any]]:
    """The first `limit` source records of `entity`, from the mapping's connector."""
    with services(mapping, state_path_for(mapping), need_loop=False) as running:
        cls = connector_class(running.source["connector"])
        with cls(running.source, mapping.base_dir) as connector:
            spec = mapping.entities[entity]
            request = ExtractRequest(entity, spec.extract, None, mapping.base_dir, limit)

            pages = connector.extract(request)

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
