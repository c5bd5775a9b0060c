"""The connectors' config schemas are files in schemas/connectors/: valid, documented on every
key (the mapping reference), examples that pass, and one shared cursor definition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from connectors.paging import CURSOR_TYPES
from connectors.registry import connector_class, known_connectors
from engine.resources import schemas_dir
from engine.validation import SCHEMA_BASE, schema_document, schema_names

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
BUILTIN = ("files", "http", "sql")
FILES = [n for n in schema_names() if n.startswith("connectors/")]
COMMON = "common.schema.json#/$defs/"


def _registry() -> Registry[Any]:
    return Registry().with_resources(
        (f"{SCHEMA_BASE}{n}.schema.json", DRAFT202012.create_resource(schema_document(n)))
        for n in FILES
    )


def resolved(node: Any) -> Any:
    """The schema with every `$ref` to the shared definitions replaced by them (siblings win)."""
    if isinstance(node, list):
        return [resolved(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: resolved(v) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        assert ref.startswith(COMMON), ref
        shared = schema_document("connectors/common")["$defs"][ref.removeprefix(COMMON)]
        out = {**resolved(shared), **out}
    return out


def _properties(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            if sub:  # `type: {}` inside a variant only re-allows the key
                yield f"{path}.{name}", sub
        for key, sub in schema.items():
            if key not in ("properties", "if"):  # `if` only tests a variant's type
                yield from _properties(sub, path)
        for name, sub in schema.get("properties", {}).items():
            yield from _properties(sub, f"{path}.{name}")
    elif isinstance(schema, list):
        for item in schema:
            yield from _properties(item, path)


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("examples", "const", "default", "enum"):
                yield from _subschemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from _subschemas(item)


def test_schemas_every_builtin_has_two_files() -> None:
    expected = {f"connectors/{c}.{k}" for c in BUILTIN for k in ("source", "extract")}
    assert expected | {"connectors/common"} == set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_schemas_file_is_valid_documented_and_formatted(name: str) -> None:
    doc = schema_document(name)
    assert doc["$schema"] == DRAFT_2020_12
    assert doc["$id"] == f"{SCHEMA_BASE}{name}.schema.json"
    assert doc.get("title") and doc.get("description")
    Draft202012Validator.check_schema(doc)
    path = schemas_dir() / f"{name}.schema.json"
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", known_connectors())
def test_schemas_connector_classes_load_their_files(name: str) -> None:
    cls = connector_class(name)
    assert cls.source_schema is schema_document(f"connectors/{name}.source")
    assert cls.extract_schema is schema_document(f"connectors/{name}.extract")


@pytest.mark.parametrize("name", known_connectors())
def test_schemas_every_key_is_documented(name: str) -> None:
    cls = connector_class(name)
    assert cls.name == name
    for kind, schema in [("source", cls.source_schema), ("extract", cls.extract_schema)]:
        assert schema.get("additionalProperties") is False
        for path, prop in _properties(resolved(schema), kind):
            missing = [k for k in ("title", "description", "examples") if k not in prop]
            assert not missing, f"{name} {path} lacks {missing}"
    assert cls.source_schema["properties"]["connector"]["const"] == name


def _example_cases() -> Iterator[Any]:
    for name in FILES:
        for i, sub in enumerate(_subschemas(schema_document(name))):
            for j, example in enumerate(sub.get("examples", [])):
                yield pytest.param(sub, example, id=f"{name} #{i} example {j}")


@pytest.mark.parametrize(("sub", "example"), list(_example_cases()))
def test_schemas_examples_are_valid(sub: dict[str, Any], example: Any) -> None:
    # A sibling URI in the same folder, so that relative refs resolve.
    checked = {**sub, "$id": f"{SCHEMA_BASE}connectors/examples-check.schema.json"}
    validator = Draft202012Validator(checked, registry=_registry())
    assert [e.message for e in validator.iter_errors(example)] == []


def test_schemas_one_shared_cursor_definition() -> None:
    shared = schema_document("connectors/common")["$defs"]
    assert shared["cursor_type"]["enum"] == list(CURSOR_TYPES)
    for name in BUILTIN:
        cursor = schema_document(f"connectors/{name}.extract")["properties"]["cursor"]
        props = cursor["properties"]
        assert props["type"] == {"$ref": COMMON + "cursor_type"}, name
        assert props["field"]["$ref"] == COMMON + "cursor_field", name
        assert props["ordered"]["$ref"] == COMMON + "ordered", name
