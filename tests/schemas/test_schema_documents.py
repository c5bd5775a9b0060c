"""Meta tests: every schema file is valid draft 2020-12 and documents itself.

The payload schemas double as the reference documentation, so every property carries a
title, a description and examples, and every example is checked against the schema it sits in.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from engine.resources import schemas_dir
from engine.validation import SCHEMA_BASE, schema_document, schema_names

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Keywords whose value is one subschema, or a map / list of subschemas.
_ONE = (
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
)
_MAP = ("properties", "$defs", "patternProperties", "dependentSchemas")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")

PAYLOAD_SCHEMAS = [n for n in schema_names() if n.split("/")[0] in ("loop", "events")]


def walk(schema: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema in schema positions (not inside `examples` or `const`), with its pointer."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key in _ONE:
        yield from walk(schema.get(key), f"{pointer}/{key}")
    for key in _MAP:
        for name, sub in schema.get(key, {}).items():
            yield from walk(sub, f"{pointer}/{key}/{name}")
    for key in _LIST:
        for i, sub in enumerate(schema.get(key, [])):
            yield from walk(sub, f"{pointer}/{key}/{i}")


def properties_of(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for pointer, sub in walk(schema):
        for name, prop in sub.get("properties", {}).items():
            yield f"{pointer}/properties/{name}", prop


def test_schema_files_are_all_found_by_the_loader() -> None:
    on_disk = sorted(
        p.relative_to(schemas_dir()).as_posix().removesuffix(".schema.json")
        for p in schemas_dir().rglob("*.schema.json")
    )
    expected = {
        f"loop/{n}"
        for n in (
            "common",
            "product",
            "variant",
            "customer",
            "location",
            "inventory",
            "collection",
            "order",
        )
    }
    expected |= {f"events/{n}" for n in ("common", "return", "label", "restock")}
    assert expected <= set(on_disk)
    assert set(on_disk) <= set(schema_names())


@pytest.mark.parametrize("name", PAYLOAD_SCHEMAS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    doc = schema_document(name)
    assert doc.get("$schema") == DRAFT_2020_12
    jsonschema.Draft202012Validator.check_schema(doc)


@pytest.mark.parametrize("name", PAYLOAD_SCHEMAS)
def test_schema_has_title_and_description(name: str) -> None:
    doc = schema_document(name)
    assert doc.get("title") and doc.get("description")
    for def_name, sub in doc.get("$defs", {}).items():
        assert sub.get("title") and sub.get("description"), f"{name}#/$defs/{def_name}"


@pytest.mark.parametrize("name", PAYLOAD_SCHEMAS)
def test_schema_properties_have_title_description_and_examples(name: str) -> None:
    missing = [
        f"{pointer} lacks {key}"
        for pointer, prop in properties_of(schema_document(name))
        for key in ("title", "description", "examples")
        if not prop.get(key)
    ]
    assert missing == []


def _checkable(name: str, sub: dict[str, Any]) -> dict[str, Any]:
    """A subschema that can be compiled alone: local refs pointed back at its own document."""
    own_file = name.split("/")[-1] + ".schema.json"

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items() if k != "examples"}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                out["$ref"] = own_file + ref
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    checked = fix(copy.deepcopy(sub))
    folder = name.rsplit("/", 1)[0]
    # A sibling URI in the same folder, so relative refs ("common.schema.json#...") resolve.
    checked["$id"] = f"{SCHEMA_BASE}{folder}/examples-check.schema.json"
    checked["$schema"] = DRAFT_2020_12
    return checked


@cache
def _registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(
        [(f"{SCHEMA_BASE}{n}.schema.json", schema_document(n)) for n in schema_names()]
    )


def _example_cases() -> Iterator[Any]:
    for name in PAYLOAD_SCHEMAS:
        for pointer, sub in walk(schema_document(name)):
            for i, example in enumerate(sub.get("examples", [])):
                yield pytest.param(name, sub, example, id=f"{name}{pointer[1:]} example {i}")


@pytest.mark.parametrize(("name", "sub", "example"), list(_example_cases()))
def test_schema_examples_are_valid(name: str, sub: dict[str, Any], example: Any) -> None:
    validator = jsonschema_rs.validator_for(
        _checkable(name, sub), registry=_registry(), validate_formats=True
    )
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(example)]
    assert errors == []


def test_schema_files_are_formatted_json() -> None:
    # Two-space indented, UTF-8, trailing newline: diffs stay readable.
    for name in PAYLOAD_SCHEMAS:
        path = schemas_dir() / f"{name}.schema.json"
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", path.name


def test_walk_visits_nested_properties() -> None:
    schema = {"properties": {"a": {"items": {"properties": {"b": {}}}}}, "$defs": {"c": {}}}
    pointers = [p for p, _ in walk(schema)]
    assert pointers == [
        "#",
        "#/properties/a",
        "#/properties/a/items",
        "#/properties/a/items/properties/b",
        "#/$defs/c",
    ]
    assert [p for p, _ in properties_of(schema)] == [
        "#/properties/a",
        "#/properties/a/items/properties/b",
    ]
