"""Reading the `files` connector's formats: CSV (and TSV) and JSONL streamed row by row, a JSON
document loaded whole. CSV values stay strings: typing them is the mapping's job.

A CSV header that names a column twice (common in NetSuite exports) keeps every column: the
second `X` becomes `X_1`, a third `X_2`, skipping names the header already uses, as DuckDB's
read_csv (and so the sql connector) names them. Then `csv.rename` renames the columns it
names, and `csv.labels: snake_case` turns every other label into a plain identifier
("Internal ID" -> internal_id), so expressions need no quoting. `csv.blank_as_null: true`
reads an empty cell as null, which the payload leaves out, instead of "".
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from engine.errors import ConfigError, ExtractError

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@lru_cache(maxsize=256)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Every label kept, repeats renamed in order: X, X, X_1 -> X, X_1, X_1_1."""
    used: set[str] = set()
    out: list[str] = []
    for label in labels:
        name, n = label, 0
        while name in used:
            n += 1
            name = f"{label}_{n}"
        used.add(name)
        out.append(name)
    return out


def snake_case(label: str, position: int) -> str:
    """A label as a plain identifier: "Internal ID" -> internal_id, "Amount (Net)" -> amount_net,
    "Größe" -> grosse, "2nd Line" -> _2nd_line (an identifier cannot start with a digit), and
    a label with nothing left -> column_<position> (1-based)."""
    folded = unicodedata.normalize("NFKD", label.casefold()).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9a-z]+", "_", folded).strip("_")
    if not name:
        return f"column_{position}"
    return f"_{name}" if name[0].isdigit() else name


def column_names(labels: Iterable[str], opts: Mapping[str, Any]) -> list[str]:
    """The record's field names for a CSV header: repeats kept (X, X_1), `rename` applied to
    the labels it names, `labels: snake_case` to the others, then repeats kept again."""
    rename: Mapping[str, str] = opts.get("rename") or {}
    snake = opts.get("labels") == "snake_case"
    names = []
    for position, label in enumerate(unique_labels(labels), start=1):
        if label in rename:
            names.append(rename[label])
        else:
            names.append(snake_case(label, position) if snake else label)
    return unique_labels(names) if snake else names


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


def read_located(path: Path, cfg: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records of one file, streamed where the format allows, each with where it is for
    errors: `file:line` for CSV and JSONL rows, `file: record [i]` for a JSON document's."""
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
    except RecursionError:
        raise ExtractError(f"{path.name}: JSON nested too deeply to read") from None
    except csv.Error as exc:
        raise ExtractError(f"{path.name}: not readable as CSV: {exc}") from None
    except OSError as exc:
        raise ExtractError(f"{path.name}: cannot read: {exc.strerror}") from exc


# Python's csv module refuses fields over 128 KiB; a product description or a JSON column in an
# export can be longer. Fields past this are refused with the file and line.
MAX_CSV_FIELD = 16 * 1024 * 1024
csv.field_size_limit(MAX_CSV_FIELD)


def _read_csv(path: Path, opts: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    header = opts.get("header", True)
    blank_as_null = bool(opts.get("blank_as_null", False))
    delimiter = opts.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
    with path.open(encoding=opts.get("encoding", "utf-8-sig"), newline="") as fh:
        reader = csv.DictReader(
            fh,
            fieldnames=list(header) if isinstance(header, list) else None,
            delimiter=delimiter,
            quotechar=opts.get("quotechar", '"'),
            restkey="\x00extra",
        )
        if reader.fieldnames is not None:  # reads the header row; None for an empty file
            reader.fieldnames = column_names(reader.fieldnames, opts)
        for row in reader:
            if "\x00extra" in row:
                raise ExtractError(
                    f"{path.name}:{reader.line_num}: more values than the "
                    f"{len(reader.fieldnames or [])} columns of the header"
                )
            where = f"{path.name}:{reader.line_num}"
            yield (
                where,
                {k: None if v == "" else v for k, v in row.items()} if blank_as_null else row,
            )


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
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
            yield f"{path.name}:{number}", record


def _read_json(path: Path, records: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
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
        yield f"{path.name}: record [{index}]", record
