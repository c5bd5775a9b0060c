"""The one checker of connector config: a connector's JSON Schemas against a `source:` or
`extract:` block, every problem reported with its path.

Each problem is a `(path, message)` pair. `config_problems` gives the path as a key path
(`("source", "auth", "type")`), which the mapping loader turns into `file:line:col`; the
other functions write it as in the mapping file (`source.auth.type`,
`entities.orders.extract.cursor.field`, `source.headers[0]`). Nothing stops at the first error
(singer-sdk style). The built-in connectors' schemas are files in `schemas/connectors/`
(`connector_schema`), which may `$ref` the shared definitions of `common.schema.json`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from engine.errors import ConfigError
from engine.validation import SCHEMA_BASE, schema_document, schema_names

KeyPath = tuple[str | int, ...]
ConfigProblem = tuple[str, str]
_FOLDER = "connectors/"


def connector_schema(name: str) -> dict[str, Any]:
    """A built-in connector's schema document, `schemas/connectors/<name>.schema.json`
    (e.g. "http.source")."""
    return schema_document(_FOLDER + name)


def check_config(schema: dict[str, Any], config: object, prefix: str) -> None:
    """Raises one ConfigError listing every problem (for connectors built outside a mapping)."""
    problems = dotted_problems(config_problems(schema, config, (prefix,)))
    if problems:
        lines = "".join(f"\n  {path}: {message}" for path, message in problems)
        raise ConfigError(
            f"{len(problems)} problem(s) in the {prefix.split('.')[0]} config:{lines}"
        )


def config_problems(
    schema: dict[str, Any], config: object, at: KeyPath
) -> list[tuple[KeyPath, str]]:
    """Every problem of `config` against `schema`, each at its key path below `at`."""
    errors = list(_validator(schema).iter_errors(config))
    found: list[tuple[KeyPath, str]] = []
    for error in errors:
        if _is_generic(error) and _has_specific(error, errors):
            continue
        found.extend(_describe(error, at))
    return sorted(set(found), key=lambda p: (_dotted_path(p[0]), p[1]))


@cache
def _registry() -> Registry[Any]:
    """The connector schema documents by URI, so that their relative `$ref`s resolve."""
    resources = [
        (f"{SCHEMA_BASE}{name}.schema.json", DRAFT202012.create_resource(schema_document(name)))
        for name in schema_names()
        if name.startswith(_FOLDER)
    ]
    return Registry().with_resources(resources)


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Built once per schema (schemas are class constants; the entry keeps the dict alive)."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, Draft202012Validator(schema, registry=_registry()))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def _dotted_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted_problems(problems: Iterable[tuple[KeyPath, str]]) -> list[ConfigProblem]:
    return [(_dotted_path(path), message) for path, message in problems]


def _describe(error: ValidationError, at: KeyPath) -> list[tuple[KeyPath, str]]:
    where: KeyPath = (*at, *error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(error.schema.get("properties", {}))
        allowed = set(known)
        return [
            ((*where, str(key)), _unknown_key(str(key), known))
            for key in error.instance
            if key not in allowed
        ]
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return [((*where, missing), "required")]
    if _is_generic(error):
        return [(where, _alternatives(error))]
    return [(where, error.message)]


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known: {', '.join(known)})"


def _is_generic(error: ValidationError) -> bool:
    return error.validator in ("oneOf", "anyOf")


def _has_specific(error: ValidationError, errors: list[ValidationError]) -> bool:
    here = tuple(error.absolute_path)
    return any(
        other is not error
        and not _is_generic(other)
        and tuple(other.absolute_path)[: len(here)] == here
        for other in errors
    )


def _alternatives(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    title = str(schema.get("title", "value")).lower()
    description = str(schema.get("description", ""))
    first = description.split(". ")[0].rstrip(".")
    shown = repr(error.instance)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{shown} is not a valid {title}" + (f" ({first})" if first else "")
