"""`etl schemas`: every JSON Schema an integrator writes against, listed or printed: each
installed connector's config (source and extract, plugins too), Loop's payloads and webhook
events, and the mapping file."""

from __future__ import annotations

import json
from typing import Any

import click

from connectors.registry import connector_class, known_connectors
from engine.errors import ConfigError
from engine.validation import schema_document, schema_names

CONNECTORS = "connectors/"
PARTS = ("source", "extract")  # the two blocks of a mapping a connector checks


@click.command()
@click.argument("name", required=False)
def schemas(name: str | None) -> None:
    """List the JSON Schemas, or print one (NAME as listed; `order` for `loop/order`).

    Listed: every installed connector's `source:` and `extract:` config
    (`connectors/http.source`, `connectors/http.extract`, ...), Loop's payloads (`loop/...`),
    Loop's webhook events (`events/...`) and the mapping file (`mapping`). Each property has a
    title, a description and examples; a connector's schema is printed with the definitions it
    shares with the others written out in place, so every key it takes is there.
    """
    if name is None:
        for known, document in listed().items():
            click.echo(f"{known:<24} {document.get('title', '')}")
        return
    click.echo(json.dumps(printed(name), indent=2, ensure_ascii=False))


def listed() -> dict[str, dict[str, Any]]:
    """Name -> schema: the connectors' first (the built-in ones' files and every registered
    connector's own schemas), then the rest of the schema files."""
    found = {n: schema_document(n) for n in schema_names() if n.startswith(CONNECTORS)}
    for connector in known_connectors():
        for part in PARTS:
            found[f"{CONNECTORS}{connector}.{part}"] = _connector_schema(connector, part)
    rest = {n: schema_document(n) for n in schema_names() if not n.startswith(CONNECTORS)}
    return dict(sorted(found.items())) | rest


def printed(name: str) -> dict[str, Any]:
    """One schema as `etl schemas NAME` prints it: a connector's with its `$ref`s into the
    shared connector definitions inlined."""
    connector, dot, part = name.removeprefix(CONNECTORS).rpartition(".")
    if name.startswith(CONNECTORS) and dot and part in PARTS and connector in known_connectors():
        return dict(_inlined(_connector_schema(connector, part)))
    return schema_document(name)


def _connector_schema(connector: str, part: str) -> dict[str, Any]:
    cls = connector_class(connector)
    schema = cls.source_schema if part == "source" else cls.extract_schema
    return dict(schema)


def _inlined(value: Any) -> Any:
    """`{"$ref": "common.schema.json#/$defs/page_size", "default": 100}` -> the definition,
    with the keys beside the `$ref` kept on top of it."""
    if isinstance(value, list):
        return [_inlined(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _inlined(item) for key, item in value.items() if key != "$ref"}
    ref = value.get("$ref")
    if isinstance(ref, str) and ref.partition("#")[0].endswith(".schema.json"):
        return {**_inlined(_definition(ref)), **out}
    if ref is not None:
        out["$ref"] = ref
    return out


def _definition(ref: str) -> dict[str, Any]:
    """The part of a connector schema file a relative `$ref` points at."""
    file, _, pointer = ref.partition("#")
    try:
        found: Any = schema_document(CONNECTORS + file.removesuffix(".schema.json"))
    except ConfigError:
        return {"$ref": ref}  # not one of the connector files: leave it as it is
    for step in (s for s in pointer.split("/") if s):
        found = found[step]
    return dict(found)


COMMANDS = (schemas,)
