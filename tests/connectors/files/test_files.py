"""The files connector: conformance over CSV, JSON, JSONL and a glob; CSV options; mtime cursor."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.files import FilesConnector
from connectors.sql import SqlConnector
from connectors.testing import FIELDS, ConnectorConformance, MakeSource
from engine.errors import ExtractError

SOURCE = {"connector": "files", "root": "data"}


def _write_csv(folder: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    with (folder / "items.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(records)
    return {"path": "items.csv", "cursor": {"field": "updated_at", "type": "datetime"}}


def _write_json(folder: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    (folder / "items.json").write_text(json.dumps({"data": {"items": records}}))
    return {"path": "items.json", "records": "data.items", "cursor": "updated_at"}


def _write_jsonl(folder: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {"path": "items.jsonl", "cursor": "updated_at"}


def _write_glob(folder: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    (folder / "exports").mkdir()
    for part in range(3):
        lines = "".join(json.dumps(r) + "\n" for r in records[part::3])
        (folder / "exports" / f"orders-{part}.jsonl").write_text(lines)
    return {"path": "exports/orders-*.jsonl", "cursor": "updated_at"}


WRITERS = {"csv": _write_csv, "json": _write_json, "jsonl": _write_jsonl, "glob": _write_glob}


def files_factory(kind: str) -> MakeSource:
    def make(
        tmp_path: Path, records: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        folder = tmp_path / "data"
        folder.mkdir()
        return dict(SOURCE), WRITERS[kind](folder, records)

    return make


class TestFilesConformance(ConnectorConformance):
    @pytest.fixture(params=list(WRITERS))
    def make_source(self, request: pytest.FixtureRequest) -> MakeSource:
        return files_factory(request.param)


def _extract(
    tmp_path: Path, cfg: dict[str, Any], cursor: str | None = None
) -> list[dict[str, Any]]:
    with FilesConnector(SOURCE, tmp_path) as conn:
        pages = conn.extract(ExtractRequest("items", cfg, cursor, tmp_path))
        return [r for page in pages for r in page.records]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_files_csv_latin1_semicolon_header_rename(tmp_path: Path, data: Path) -> None:
    (data / "erp.csv").write_bytes("ITEM_NO;DESC;PRICE\n1;Crème brûlée;4,50\n".encode("latin-1"))
    cfg = {
        "path": "erp.csv",
        "csv": {
            "delimiter": ";",
            "encoding": "latin-1",
            "rename": {"ITEM_NO": "sku", "DESC": "name"},
        },
    }
    assert _extract(tmp_path, cfg) == [{"sku": "1", "name": "Crème brûlée", "PRICE": "4,50"}]


def test_files_csv_wrong_encoding_says_which_file(tmp_path: Path, data: Path) -> None:
    (data / "erp.csv").write_bytes("A\nCrème\n".encode("latin-1"))
    with pytest.raises(ExtractError, match=r"erp\.csv: not valid utf-8.*csv\.encoding"):
        _extract(tmp_path, {"path": "erp.csv"})


def test_files_csv_header_list_names_headerless_columns(tmp_path: Path, data: Path) -> None:
    (data / "items.tsv").write_text("1\tmug\n2\t'a\tb'\n")
    cfg = {"path": "items.tsv", "csv": {"header": ["id", "name"], "quotechar": "'"}}
    assert _extract(tmp_path, cfg) == [{"id": "1", "name": "mug"}, {"id": "2", "name": "a\tb"}]


def test_files_glob_reads_files_in_sorted_order(tmp_path: Path, data: Path) -> None:
    for name in ["b.jsonl", "a.jsonl", "c.jsonl", "skip.csv"]:
        (data / name).write_text(json.dumps({"file": name}) + "\n")
    records = _extract(tmp_path, {"path": "*.jsonl"})
    assert [r["file"] for r in records] == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_files_glob_matching_nothing_gives_no_records(tmp_path: Path, data: Path) -> None:
    assert _extract(tmp_path, {"path": "none-*.jsonl"}) == []


def test_files_missing_plain_path_is_an_extract_error(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ExtractError, match=r"file not found: nope\.csv"):
        _extract(tmp_path, {"path": "nope.csv"})


def test_files_mtime_cursor_reads_only_files_modified_after_it(tmp_path: Path, data: Path) -> None:
    for number, name in enumerate(["old.jsonl", "mid.jsonl", "new.jsonl"]):
        path = data / name
        path.write_text(json.dumps({"file": name}) + "\n")
        os.utime(path, (1_700_000_000 + number * 100, 1_700_000_000 + number * 100))
    cfg = {"path": "*.jsonl", "cursor": {"mtime": True}}
    with FilesConnector(SOURCE, tmp_path) as conn:
        pages = list(conn.extract(ExtractRequest("items", cfg, None, tmp_path)))
    assert pages[-1].cursor == "2023-11-14T22:16:40+00:00"  # new.jsonl's mtime
    mid_mtime = "2023-11-14T22:15:00+00:00"
    assert [r["file"] for r in _extract(tmp_path, cfg, mid_mtime)] == ["new.jsonl"]


def test_files_number_cursor_compares_numerically(tmp_path: Path, data: Path) -> None:
    (data / "items.csv").write_text("id,version\na,9\nb,10\nc,11\n")
    cfg = {"path": "items.csv", "cursor": {"field": "version", "type": "number"}}
    assert [r["id"] for r in _extract(tmp_path, cfg, "9")] == ["b", "c"]


def test_files_unordered_source_advances_cursor_only_at_the_end(tmp_path: Path, data: Path) -> None:
    (data / "items.jsonl").write_text("".join(json.dumps({"v": v}) + "\n" for v in [5, 9, 1, 3]))
    cfg = {"path": "items.jsonl", "cursor": "v", "page_size": 2}
    with FilesConnector(SOURCE, tmp_path) as conn:
        pages = list(conn.extract(ExtractRequest("items", cfg, None, tmp_path)))
        limited = list(conn.extract(ExtractRequest("items", cfg, None, tmp_path, limit=3)))
    assert [p.cursor for p in pages] == [None, "9"]
    assert [p.cursor for p in limited] == [None, None], "a cut-short run never advances"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('{"a": 1}\nnot json\n', r"items\.jsonl:2: invalid JSON", id="bad line"),
        pytest.param(
            "[1, 2]\n", r"items\.jsonl:1: a line must hold a JSON object", id="not object"
        ),
    ],
)
def test_files_bad_jsonl_names_file_and_line(
    tmp_path: Path, data: Path, content: str, message: str
) -> None:
    (data / "items.jsonl").write_text(content)
    with pytest.raises(ExtractError, match=message):
        _extract(tmp_path, {"path": "items.jsonl"})


@pytest.mark.parametrize(
    ("header", "keys"),
    [
        pytest.param("SKU,Memo,Memo", ["SKU", "Memo", "Memo_1"], id="a label twice"),
        pytest.param("X,X,X", ["X", "X_1", "X_2"], id="three times"),
        pytest.param("X,X,X_1", ["X", "X_1", "X_1_1"], id="a repeat meets a real name"),
        pytest.param("x,X", ["x", "X"], id="case differs: both kept as they are"),
    ],
)
def test_files_csv_repeated_header_labels_keep_every_column(
    tmp_path: Path, data: Path, header: str, keys: list[str]
) -> None:
    values = [str(i) for i in range(len(keys))]
    (data / "export.csv").write_text(f"{header}\n{','.join(values)}\n", encoding="utf-8")
    [record] = _extract(tmp_path, {"path": "export.csv"})
    assert list(record) == keys
    assert list(record.values()) == values


def test_files_csv_repeated_labels_are_named_as_duckdb_names_them(
    tmp_path: Path, data: Path
) -> None:
    """The files and sql connectors agree on what a NetSuite-style export's columns are called."""
    (data / "export.csv").write_text("Item,Memo,Memo,Memo,Memo_1\n1,a,b,c,d\n", encoding="utf-8")
    [from_files] = _extract(tmp_path, {"path": "export.csv"})
    source = {"connector": "sql", "database": ":memory:", "root": "data"}
    query = "SELECT * FROM read_csv('export.csv', all_varchar = true)"
    with SqlConnector(source, tmp_path) as sql:
        pages = sql.extract(ExtractRequest("items", {"query": query}, None, tmp_path))
        [from_sql] = [r for page in pages for r in page.records]
    assert list(from_files) == list(from_sql) == ["Item", "Memo", "Memo_1", "Memo_2", "Memo_1_1"]
    assert from_files == from_sql


def test_files_csv_a_renamed_repeat_label(tmp_path: Path, data: Path) -> None:
    (data / "export.csv").write_text("SKU,Memo,Memo\nA1,first,second\n", encoding="utf-8")
    cfg = {"path": "export.csv", "csv": {"rename": {"Memo_1": "note"}}}
    assert _extract(tmp_path, cfg) == [{"SKU": "A1", "Memo": "first", "note": "second"}]


def test_files_json_nested_too_deep_is_an_extract_error(tmp_path: Path, data: Path) -> None:
    (data / "deep.json").write_text("[" + '{"a":' * 10_000 + "1" + "}" * 10_000 + "]")
    with pytest.raises(ExtractError, match=r"deep\.json: JSON nested too deeply"):
        _extract(tmp_path, {"path": "deep.json"})


def test_files_csv_field_over_128_kib_is_read(tmp_path: Path, data: Path) -> None:
    (data / "big.csv").write_text("id,notes\n1," + "x" * 200_000 + "\n")
    [record] = _extract(tmp_path, {"path": "big.csv"})
    assert len(record["notes"]) == 200_000


def test_files_an_absolute_glob_is_read(tmp_path: Path, data: Path) -> None:
    (data / "a.csv").write_text("id\n1\n")
    (data / "b.csv").write_text("id\n2\n")
    records = _extract(tmp_path, {"path": str(data / "*.csv")})
    assert records == [{"id": "1"}, {"id": "2"}]
