"""The `files` connector: CSV, JSON and JSONL files (one path or a glob) under a root folder.

Files are read in sorted path order. CSV and JSONL are streamed row by row; a JSON file is one
document, so it is loaded whole, one file at a time (split big exports into JSONL or several
files). CSV values stay strings (or null for empty cells with `csv.blank_as_null`): typing them
is the mapping's job.

Incremental reading either by a record field (`cursor: {field: MODIFIED}`: records whose value is
above the saved cursor) or by file modification time (`cursor: {mtime: true}`: whole files
modified after the saved cursor, an ISO 8601 UTC timestamp). Files are not assumed sorted by the
cursor, so the cursor is carried by the last page only (see connectors.paging). Reading each
format: connectors.files.formats. `group` (rows into nested records), `where` (records kept) and
`join` (other files' records attached by a key): connectors.files.combine. Schemas: schemas/connectors/files.{source,extract}.schema.json.
"""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Connector, ExtractRequest, Page
from connectors.files.combine import (
    Joiner,
    expression_problems,
    group_rows,
    keep_where,
    setting_expressions,
)
from connectors.files.formats import read_located
from connectors.paging import CursorTracker, cursor_config, paginate, parse_datetime
from connectors.validate import KeyPath, connector_schema, dotted_problems
from engine.errors import ConfigError, ExtractError

_GLOB_CHARS = set("*?[")


class _MtimeTracker(CursorTracker):
    """The cursor of `cursor: {mtime: true}`: the newest modification time of the files read."""

    def __init__(self) -> None:
        super().__init__(None)
        self.latest: dt.datetime | None = None

    def file_read(self, mtime: dt.datetime) -> None:
        if self.latest is None or mtime > self.latest:
            self.latest = mtime

    @property
    def value(self) -> str | None:
        return None if self.latest is None else self.latest.isoformat()


class FilesConnector(Connector):
    """Reads records from files below `source.root` (relative to the mapping's folder)."""

    name: ClassVar[str] = "files"
    embedded_keys: ClassVar[tuple[str, ...]] = ("root",)
    source_schema: ClassVar[dict[str, Any]] = connector_schema("files.source")
    extract_schema: ClassVar[dict[str, Any]] = connector_schema("files.extract")

    def _extract(self, request: ExtractRequest) -> Iterator[Page]:
        cfg = request.config
        _refuse_bad_expressions(request.entity, cfg)
        cursor = cursor_config(cfg.get("cursor"))
        root = request.base_dir / str(self.source.get("root", "."))
        files = _list_files(root, str(cfg["path"]))
        tracker: CursorTracker
        if cursor.get("mtime"):
            tracker = _MtimeTracker()
            records = self._by_mtime(files, cfg, request.cursor, tracker)
        else:
            field, kind = cursor.get("field"), str(cursor.get("type", "auto"))
            tracker = CursorTracker(field, kind)
            located = self._located(files, cfg, field, kind)
            records = (r for _, r in located if tracker.newer(r, request.cursor))
        if cfg.get("where"):  # after `group`, before `join`
            records = keep_where(records, str(cfg["where"]), "where", self.functions)
        if cfg.get("join"):
            joiner = Joiner(
                list(cfg["join"]),
                lambda path, spec: self._joined(root, cfg, path, spec),
                self.functions,
            )
            records = joiner.attach(records)
        # groups come in order of first appearance, not of their (highest) cursor value
        ordered = bool(cursor.get("ordered", False)) and not cfg.get("group")
        page_size = int(cfg.get("page_size", 1000))
        yield from paginate(records, page_size, tracker, ordered=ordered, limit=request.limit)

    def _located(
        self, files: list[Path], cfg: Mapping[str, Any], field: str | None, kind: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        rows = (row for path in files for row in read_located(path, cfg))
        group = cfg.get("group")
        return group_rows(rows, group, field, kind, self.functions) if group else rows

    def _joined(
        self, root: Path, cfg: Mapping[str, Any], pattern: str, group: Mapping[str, Any] | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """A join's file(s), read with the entity's format options, grouped if asked."""
        rows = (row for path in _list_files(root, pattern) for row in read_located(path, cfg))
        return group_rows(rows, group, options=self.functions) if group else rows

    @classmethod
    def expressions(cls, extract: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
        return [
            (path, text) for path, text in setting_expressions(extract) if isinstance(text, str)
        ]

    def _by_mtime(
        self, files: list[Path], cfg: Mapping[str, Any], since: str | None, tracker: _MtimeTracker
    ) -> Iterator[dict[str, Any]]:
        after = parse_datetime(since) if since else None
        newer: list[tuple[Path, dt.datetime]] = []
        for path in files:
            mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            if after is None or mtime > after:
                newer.append((path, mtime))
        if cfg.get("group"):  # groups may span files: yielded only once every file is read
            for _, mtime in newer:
                tracker.file_read(mtime)
            yield from (r for _, r in self._located([p for p, _ in newer], cfg, None, "auto"))
            return
        for path, mtime in newer:
            yield from (r for _, r in read_located(path, cfg))
            tracker.file_read(mtime)

    def __repr__(self) -> str:
        return f"FilesConnector(root={self.source.get('root', '.')!r})"


def _refuse_bad_expressions(entity: str, cfg: Mapping[str, Any]) -> None:
    """The check-time problems of `group` and `join`, raised for a run that skipped the check."""
    at = f"entities.{entity}.extract"
    problems = dotted_problems(((at, *path), message) for path, message in expression_problems(cfg))
    if problems:
        lines = "".join(f"\n  {path}: {message}" for path, message in problems)
        raise ConfigError(f"{len(problems)} problem(s) in the entities config:{lines}")


def _list_files(root: Path, pattern: str) -> list[Path]:
    if _GLOB_CHARS & set(pattern):
        if Path(pattern).is_absolute():  # Path.glob takes relative patterns only
            return sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        return sorted(p for p in root.glob(pattern) if p.is_file())
    path = root / pattern
    if not path.is_file():
        raise ExtractError(f"file not found: {pattern} (in {root.name or root})")
    return [path]
