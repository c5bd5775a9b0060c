"""The Connector base: it validates the source block when built and each entity's extract block
once, so that no subclass validates; connectors declare which keys may say `embedded`; and
connectors reach the engine only through its shared modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import connectors.base
from connectors.base import Connector, ExtractRequest, Page
from connectors.registry import connector_class
from engine.errors import ConfigError

PACKAGE = Path(connectors.base.__file__).parent
ALLOWED_ENGINE_MODULES = {"engine.errors", "engine.net", "engine.validation", "engine.resources"}


class Numbers(Connector):
    name: ClassVar[str] = "numbers"
    source_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"connector": {"const": "numbers"}, "count": {"type": "integer"}},
        "additionalProperties": False,
    }
    extract_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"step": {"type": "integer", "minimum": 1}},
        "required": ["step"],
        "additionalProperties": False,
    }

    def _extract(self, request: ExtractRequest) -> Iterator[Page]:
        step = int(request.config["step"])
        yield Page([{"n": n} for n in range(0, int(self.source["count"]), step)])


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prefixes the base validated, in order."""
    seen: list[str] = []
    real = connectors.base.check_config

    def counting(schema: dict[str, Any], config: object, prefix: str) -> None:
        seen.append(prefix)
        real(schema, config, prefix)

    monkeypatch.setattr(connectors.base, "check_config", counting)
    return seen


def _records(conn: Connector, entity: str, config: dict[str, Any]) -> list[Any]:
    return [r["n"] for p in conn.extract(ExtractRequest(entity, config)) for r in p.records]


def test_base_validates_the_source_when_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source.colour: unknown key 'colour'"):
        Numbers({"connector": "numbers", "count": 3, "colour": "red"}, tmp_path)


def test_base_validates_each_extract_block_once(tmp_path: Path, checks: list[str]) -> None:
    conn = Numbers({"connector": "numbers", "count": 6}, tmp_path)
    assert _records(conn, "a", {"step": 2}) == [0, 2, 4]
    assert _records(conn, "a", {"step": 2}) == [0, 2, 4]
    assert _records(conn, "b", {"step": 3}) == [0, 3]
    assert _records(conn, "a", {"step": 5}) == [0, 5]  # the block changed: checked again
    assert checks == [
        "source",
        "entities.a.extract",
        "entities.b.extract",
        "entities.a.extract",
    ]


def test_base_refuses_a_bad_extract_block_when_extract_is_called(tmp_path: Path) -> None:
    conn = Numbers({"connector": "numbers", "count": 6}, tmp_path)
    with pytest.raises(ConfigError, match=r"entities.a.extract.step: 0 is less than"):
        conn.extract(ExtractRequest("a", {"step": 0}))  # at once, before any page is asked for
    with pytest.raises(ConfigError, match=r"entities.a.extract.step: required"):
        conn.extract(ExtractRequest("a", {}))


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        pytest.param("http", ("base_url",), id="http"),
        pytest.param("files", ("root",), id="files"),
        pytest.param("sql", ("database", "root"), id="sql"),
    ],
)
def test_base_connectors_declare_their_embedded_keys(name: str, keys: tuple[str, ...]) -> None:
    cls = connector_class(name)
    assert cls.embedded_keys == keys
    assert all(key in cls.source_schema["properties"] for key in keys)


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_base_connectors_reach_the_engine_only_through_its_shared_modules(path: Path) -> None:
    engine = {m for m in _imports(path) if m == "engine" or m.startswith("engine.")}
    assert engine <= ALLOWED_ENGINE_MODULES, path


@pytest.mark.parametrize("name", ["http", "files", "sql"])
def test_base_builtin_connectors_never_validate_themselves(name: str) -> None:
    for path in (PACKAGE / name).rglob("*.py"):
        assert "check_config" not in path.read_text(encoding="utf-8"), path
