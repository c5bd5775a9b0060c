"""The `files` connector: CSV, JSON and JSONL files (one path or a glob) under a root folder.

Files are read in sorted path order. CSV and JSONL are streamed row by row; a JSON file is one
document, so it is loaded whole, one file at a time (split big exports into JSONL or several
files). CSV values stay strings (or null for empty cells with `csv.blank_as_null`): typing them
is the mapping's job.

Incremental reading either by a record field (`cursor: {field: MODIFIED}`: records whose value is
above the saved cursor) or by file modification time (`cursor: {mtime: true}`: whole files
modified after the saved cursor, an ISO 8601 UTC timestamp). Files are not assumed sorted by the
cursor, so the cursor is carried by the last page only (see connectors.paging). Reading each
format: connectors.files.formats. Schemas: schemas/connectors/files.{source,extract}.schema.json.
"""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Connector, ExtractRequest, Page
from connectors.files.formats import read_file
from connectors.paging import CursorTracker, cursor_config, paginate, parse_datetime
from connectors.validate import connector_schema
from engine.errors import ExtractError

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
        cursor = cursor_config(cfg.get("cursor"))
        root = request.base_dir / str(self.source.get("root", "."))
        files = _list_files(root, str(cfg["path"]))
        tracker: CursorTracker
        if cursor.get("mtime"):
            tracker = _MtimeTracker()
            records = self._by_mtime(files, cfg, request.cursor, tracker)
        else:
            tracker = CursorTracker(cursor.get("field"), str(cursor.get("type", "auto")))
            records = (r for r in self._all_records(files, cfg) if tracker.newer(r, request.cursor))
        ordered = bool(cursor.get("ordered", False))
        page_size = int(cfg.get("page_size", 1000))
        yield from paginate(records, page_size, tracker, ordered=ordered, limit=request.limit)

    def _all_records(self, files: list[Path], cfg: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        for path in files:
            yield from read_file(path, cfg)

    def _by_mtime(
        self, files: list[Path], cfg: Mapping[str, Any], since: str | None, tracker: _MtimeTracker
    ) -> Iterator[dict[str, Any]]:
        after = parse_datetime(since) if since else None
        for path in files:
            mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            if after is not None and mtime <= after:
                continue
            yield from read_file(path, cfg)
            tracker.file_read(mtime)

    def __repr__(self) -> str:
        return f"FilesConnector(root={self.source.get('root', '.')!r})"


def _list_files(root: Path, pattern: str) -> list[Path]:
    if _GLOB_CHARS & set(pattern):
        if Path(pattern).is_absolute():  # Path.glob takes relative patterns only
            return sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        return sorted(p for p in root.glob(pattern) if p.is_file())
    path = root / pattern
    if not path.is_file():
        raise ExtractError(f"file not found: {pattern} (in {root.name or root})")
    return [path]
