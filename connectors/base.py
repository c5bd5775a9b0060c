"""What every source connector is: a name, two JSON Schemas for its config, and extract()."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from connectors.expressions import syntax_problem
from connectors.validate import KeyPath, check_config


@dataclass(frozen=True)
class ExtractRequest:
    """One entity's extraction: its `extract:` block and where to resume.

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
    """Base of every connector. Subclasses set `name`, `source_schema` and `extract_schema`
    (JSON Schemas), optionally `embedded_keys` and `prefetch`, and implement `_extract`.

    The base validates, so a subclass never sees an unvalidated config and never validates
    itself:
    - the constructor checks the `source:` block against `source_schema` (one ConfigError
      listing every problem); a subclass that has its own `__init__` calls `super().__init__`
      first, and reads `self.source` after it;
    - `extract(request)` checks the request's `extract:` block against `extract_schema` once
      per entity (again only if that entity's block changes), then returns the subclass's
      `_extract(request)`: a stream of pages, so the whole source is never in memory.
    """

    name: ClassVar[str] = ""
    # Whether extract()'s generator may run on a background thread, so that the engine fetches
    # the next page while it loads the current one (network sources: yes).
    prefetch: ClassVar[bool] = False
    # The `source:` keys that may say `embedded` (the demo platform stands in for the source).
    embedded_keys: ClassVar[tuple[str, ...]] = ()
    source_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    extract_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    # The mapping's JMESPath functions (a jmespath.Options), set by the engine once it built the
    # connector, so that a setting's expression calls them as a `map:` expression does.
    functions: Any = None

    def __init__(self, source: Mapping[str, Any], base_dir: Path) -> None:
        check_config(self.source_schema, source, "source")
        self.source = dict(source)
        self.base_dir = base_dir
        self._checked: dict[str, Mapping[str, Any]] = {}

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """The entity's pages, its `extract:` block checked first (ConfigError at once)."""
        config = dict(request.config)
        if self._checked.get(request.entity) != config:
            check_config(self.extract_schema, config, f"entities.{request.entity}.extract")
            self._checked[request.entity] = config
        return self._extract(request)

    def _extract(self, request: ExtractRequest) -> Iterator[Page]:
        """The subclass's extraction of a validated request."""
        raise NotImplementedError

    def count(self, request: ExtractRequest) -> int | None:
        """How many records the extract would list, when the source can say so cheaply (an
        http `count:` endpoint, a sql COUNT); None when it cannot. For the backfill estimate."""
        config = dict(request.config)
        if self._checked.get(request.entity) != config:
            check_config(self.extract_schema, config, f"entities.{request.entity}.extract")
            self._checked[request.entity] = config
        return self._count_records(request)

    def _count_records(self, request: ExtractRequest) -> int | None:
        """The subclass's count of a validated request (the base cannot count)."""
        return None

    @classmethod
    def expressions(cls, extract: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
        """The JMESPath expressions among an `extract:` block's settings, by key path: the
        mapping loader checks that each calls only functions the mapping has."""
        return []

    @classmethod
    def check_extract(
        cls, source: Mapping[str, Any], base_dir: Path, extracts: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[str, KeyPath, str]]:
        """What the source itself refuses in schema-valid `extract:` blocks (by entity name),
        found without extracting (the sql connector prepares each query): each problem as
        (entity, key path inside its `extract:` block, message). The mapping loader calls it
        once per mapping, after the schemas passed; the base compiles `expressions()`."""
        return [
            (entity, at, problem)
            for entity, extract in extracts.items()
            for at, text in cls.expressions(extract)
            if (problem := syntax_problem(text)) is not None
        ]

    @property
    def requests(self) -> int:
        """Requests sent to the source so far (0 for a connector that sends none): each
        entity's `source_requests` in the run summary, per-parent `include` requests too."""
        return 0

    def close(self) -> None:
        """Release sockets, files and connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
