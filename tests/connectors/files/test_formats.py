"""CSV header labels (`csv.labels`, `csv.rename`) and blank cells (`csv.blank_as_null`)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.files import FilesConnector
from connectors.files.formats import snake_case
from connectors.registry import validate_extract
from engine.mapping.compile import compile_mapping
from engine.mapping.load import load_mapping

SOURCE = {"connector": "files", "root": "data"}
EXPORT = 'Internal ID,Document Number,Amount (Net),Memo\n101,SO-1,"1,204.50",\n'


def _extract(tmp_path: Path, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    with FilesConnector(SOURCE, tmp_path) as conn:
        pages = conn.extract(ExtractRequest("items", cfg, None, tmp_path))
        return [r for page in pages for r in page.records]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "export.csv").write_text(EXPORT, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        pytest.param("Internal ID", "internal_id", id="space"),
        pytest.param("Amount (Net)", "amount_net", id="punctuation"),
        pytest.param("  Doc #  ", "doc", id="surrounding junk"),
        pytest.param("Größe", "grosse", id="accents and sharp s"),
        pytest.param("2nd Line", "_2nd_line", id="leading digit"),
        pytest.param("###", "column_3", id="nothing left"),
    ],
)
def test_formats_snake_case_makes_plain_identifiers(label: str, expected: str) -> None:
    assert snake_case(label, 3) == expected


def test_formats_labels_snake_case_names_the_fields(export: Path) -> None:
    cfg = {"path": "export.csv", "csv": {"labels": "snake_case"}}
    assert _extract(export, cfg) == [
        {"internal_id": "101", "document_number": "SO-1", "amount_net": "1,204.50", "memo": ""}
    ]


def test_formats_rename_wins_over_snake_case(export: Path) -> None:
    cfg = {
        "path": "export.csv",
        "csv": {"labels": "snake_case", "rename": {"Document Number": "so_no"}},
    }
    [record] = _extract(export, cfg)
    assert list(record) == ["internal_id", "so_no", "amount_net", "memo"]


def test_formats_labels_that_normalise_alike_keep_every_column(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("Item ID,item-id\na,b\n", encoding="utf-8")
    cfg = {"path": "x.csv", "csv": {"labels": "snake_case"}}
    assert _extract(tmp_path, cfg) == [{"item_id": "a", "item_id_1": "b"}]


def test_formats_labels_as_is_by_default(export: Path) -> None:
    [record] = _extract(export, {"path": "export.csv"})
    assert list(record) == ["Internal ID", "Document Number", "Amount (Net)", "Memo"]


def test_formats_blank_as_null_reads_empty_cells_as_null(export: Path) -> None:
    cfg = {"path": "export.csv", "csv": {"blank_as_null": True}}
    [record] = _extract(export, cfg)
    assert record["Memo"] is None
    assert record["Internal ID"] == "101"
    [kept] = _extract(export, {"path": "export.csv"})
    assert kept["Memo"] == ""


def test_formats_options_let_a_mapping_use_plain_names_and_leave_blanks_out(
    export: Path,
) -> None:
    mapping = export / "m.yaml"
    mapping.write_text(
        textwrap.dedent("""\
        version: 1
        name: t
        source: {connector: files, root: data}
        entities:
          orders:
            extract:
              path: export.csv
              csv: {labels: snake_case, blank_as_null: true}
            map:
              external_id: internal_id
              name: document_number
              total: "{{ amount_net | cents }}"
              note: memo
        """),
        encoding="utf-8",
    )
    compiled = compile_mapping(load_mapping(mapping, env={}))
    cfg = compiled.mapping.entities["orders"].extract
    [record] = _extract(export, dict(cfg))
    result = compiled.entities["orders"].transform(record)
    assert result.issues == []
    assert result.payload == {"external_id": "101", "name": "SO-1", "total": 120450}


@pytest.mark.parametrize(
    "csv_options",
    [
        pytest.param({"labels": "SNAKE"}, id="unknown labels value"),
        pytest.param({"blank_as_null": "yes"}, id="blank_as_null not a boolean"),
    ],
)
def test_formats_bad_options_are_refused_by_the_schema(csv_options: dict[str, Any]) -> None:
    problems = validate_extract("files", {"path": "x.csv", "csv": csv_options})
    assert [path for path, _ in problems] == [f"extract.csv.{next(iter(csv_options))}"]
