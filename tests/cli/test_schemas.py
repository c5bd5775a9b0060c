"""`etl schemas` (engine/cli/schemas.py): every installed connector's source and extract schema
listed and printed, a plugin's too, with the shared connector definitions written out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.registry import _targets
from engine.cli import main

PLUGIN = '''\
"""A connector installed as a plugin would be (entry point loop_etl.connectors)."""
from connectors.base import Connector

class Shelf(Connector):
    name = "shelf"
    source_schema = {
        "title": "shelf source",
        "type": "object",
        "properties": {"shelf": {"title": "Shelf", "description": "Which shelf.",
                                 "type": "string", "examples": ["top"]}},
    }
    extract_schema = {
        "title": "shelf extract",
        "type": "object",
        "properties": {"page_size": {"$ref": "common.schema.json#/$defs/page_size"}},
    }
'''


def _etl(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout + result.stderr


def _names(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines()]


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution on sys.path registering the `shelf` connector by entry point."""
    (tmp_path / "shelf_connector.py").write_text(PLUGIN)
    info = tmp_path / "shelf_connector-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shelf-connector\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[loop_etl.connectors]\nshelf = shelf_connector:Shelf\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _targets.cache_clear()
    yield
    _targets.cache_clear()


def _walk(value: Any) -> Iterator[Any]:
    yield value
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        for child in children:
            yield from _walk(child)


def test_schemas_lists_every_connector_source_and_extract_first() -> None:
    code, out = _etl("schemas")

    assert code == 0, out
    names = _names(out)
    connectors = [f"connectors/{c}.{p}" for c in ("files", "http", "sql")
                  for p in ("extract", "source")]  # fmt: skip
    assert [n for n in names if n.startswith("connectors/") and n != "connectors/common"] == (
        connectors
    )
    assert names.index("connectors/sql.source") < names.index("loop/order")


def test_schemas_prints_a_connector_schema_with_the_shared_definitions_inlined() -> None:
    code, out = _etl("schemas", "connectors/http.extract")

    assert code == 0, out
    schema = json.loads(out)
    assert not [node for node in _walk(schema) if isinstance(node, dict) and "$ref" in node]
    page_size = schema["properties"]["page_size"]
    assert page_size["type"] == "integer" and page_size["default"] == 100
    assert page_size["title"] and page_size["examples"]
    assert schema["properties"]["cursor"]["properties"]["field"]["examples"]


def test_schemas_lists_and_prints_a_plugin_connector(plugin: None) -> None:
    code, out = _etl("schemas")

    assert code == 0, out
    assert {"connectors/shelf.source", "connectors/shelf.extract"} <= set(_names(out))
    assert "shelf source" in out
    code, out = _etl("schemas", "connectors/shelf.extract")
    assert code == 0, out
    assert json.loads(out)["properties"]["page_size"]["maximum"] == 100000


def test_schemas_help_names_the_connector_schemas() -> None:
    code, out = _etl("schemas", "--help")

    assert code == 0 and "connectors/http.source" in out and "extract" in out
