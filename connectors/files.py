"""The `files` connector: CSV, JSON and JSONL files (one path or a glob) under a root folder.

Files are read in sorted path order. CSV and JSONL are streamed row by row; a JSON file is one
document, so it is loaded whole, one file at a time (split big exports into JSONL or several
files). CSV values stay strings: typing them is the mapping's job.

Incremental reading either by a record field (`cursor: {field: MODIFIED}`: records whose value is
above the saved cursor) or by file modification time (`cursor: {mtime: true}`: whole files
modified after the saved cursor, an ISO 8601 UTC timestamp). Files are not assumed sorted by the
cursor, so the cursor is carried by the last page only (see connectors.paging).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import jmespath
from jmespath.parser import ParsedResult

from connectors.base import Connector, ExtractRequest, Page
from connectors.files_schema import EXTRACT_SCHEMA, SOURCE_SCHEMA
from connectors.paging import CursorTracker, cursor_config, paginate, parse_datetime
from connectors.validate import check_config
from engine.errors import ConfigError, ExtractError

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GLOB_CHARS = set("*?[")


@lru_cache(maxsize=256)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


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
    source_schema: ClassVar[dict[str, Any]] = SOURCE_SCHEMA
    extract_schema: ClassVar[dict[str, Any]] = EXTRACT_SCHEMA

    def __init__(self, source: Mapping[str, Any], base_dir: Path) -> None:
        check_config(self.source_schema, source, "source")
        super().__init__(source, base_dir)

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        cfg = request.config
        check_config(self.extract_schema, cfg, f"entities.{request.entity}.extract")
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
        return sorted(p for p in root.glob(pattern) if p.is_file())
    path = root / pattern
    if not path.is_file():
        raise ExtractError(f"file not found: {pattern} (in {root.name or root})")
    return [path]


def file_format(path: Path, cfg: Mapping[str, Any]) -> str:
    declared = cfg.get("format")
    if declared:
        return str(declared)
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(
            f"{path.name}: cannot tell the format from the extension (known: "
            f"{known}); set extract.format to csv, json or jsonl"
        )
    return found


def read_file(path: Path, cfg: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one file, streamed where the format allows."""
    kind = file_format(path, cfg)
    try:
        if kind == "csv":
            yield from _read_csv(path, cfg.get("csv") or {})
        elif kind == "jsonl":
            yield from _read_jsonl(path)
        else:
            yield from _read_json(path, cfg.get("records"))
    except UnicodeDecodeError as exc:
        raise ExtractError(
            f"{path.name}: not valid {exc.encoding} at byte {exc.start}; "
            "set csv.encoding (e.g. latin-1)"
        ) from exc
    except OSError as exc:
        raise ExtractError(f"{path.name}: cannot read: {exc.strerror}") from exc


def _read_csv(path: Path, opts: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    header = opts.get("header", True)
    rename: Mapping[str, str] = opts.get("rename") or {}
    delimiter = opts.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
    with path.open(encoding=opts.get("encoding", "utf-8-sig"), newline="") as fh:
        reader = csv.DictReader(
            fh,
            fieldnames=list(header) if isinstance(header, list) else None,
            delimiter=delimiter,
            quotechar=opts.get("quotechar", '"'),
            restkey="\x00extra",
        )
        for row in reader:
            if "\x00extra" in row:
                raise ExtractError(
                    f"{path.name}:{reader.line_num}: more values than the "
                    f"{len(reader.fieldnames or [])} columns of the header"
                )
            yield {rename.get(k, k): v for k, v in row.items()}


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExtractError(f"{path.name}:{number}: invalid JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise ExtractError(f"{path.name}:{number}: a line must hold a JSON object")
            yield record


def _read_json(path: Path, records: str | None) -> Iterator[dict[str, Any]]:
    # One JSON document cannot be streamed with the standard library: one file at a time.
    with path.open(encoding="utf-8") as fh:
        try:
            body = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ExtractError(f"{path.name}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    found = _compiled(records).search(body) if records else body
    if found is None:
        return
    if not isinstance(found, list):
        hint = f"records {records!r}" if records else "the file (set extract.records)"
        raise ExtractError(f"{path.name}: {hint} is not a list of records")
    for index, record in enumerate(found):
        if not isinstance(record, dict):
            raise ExtractError(f"{path.name}: record [{index}] is not an object")
        yield record
