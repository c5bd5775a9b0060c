"""What every source connector is: a name, two JSON Schemas for its config, and extract()."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class ExtractRequest:
    """One entity's extraction: its validated `extract:` block and where to resume.

    `cursor` is the watermark saved by the last run (None on a first run or a full refresh);
    `base_dir` is the mapping file's folder, against which relative paths resolve.
    """

    entity: str
    config: Mapping[str, Any]
    cursor: str | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    limit: int | None = None


@dataclass(frozen=True)
class Page:
    """A batch of source records and the cursor value reached once all of them are durable."""

    records: list[dict[str, Any]]
    cursor: str | None = None
    total: int | None = None  # the source's total count, when it tells one (for an ETA)


class Connector:
    """Base of every connector. Subclasses set `name`, `source_schema`, `extract_schema`.

    A connector is built from the mapping's validated `source:` block; it never sees an
    unvalidated config. `extract()` streams pages: the whole source is never in memory.
    """

    name: ClassVar[str] = ""
    # Whether extract()'s generator may run on a background thread, so that the engine fetches
    # the next page while it loads the current one (network sources: yes).
    prefetch: ClassVar[bool] = False
    source_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    extract_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def __init__(self, source: Mapping[str, Any], base_dir: Path) -> None:
        self.source = dict(source)
        self.base_dir = base_dir

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        raise NotImplementedError

    def close(self) -> None:
        """Release sockets, files and connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
