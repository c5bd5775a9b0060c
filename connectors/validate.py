"""Checks a connector's config against its JSON Schemas and reports every problem with its path.

Each problem is a `(path, message)` pair, the path written as in the mapping file
(`source.auth.type`, `entities.orders.extract.cursor.field`, `source.headers[0]`), so that the
mapping loader can point at the line. Nothing stops at the first error (singer-sdk style).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from connectors.base import Connector
from connectors.registry import connector_class, known_connectors
from engine.errors import ConfigError

ConfigProblem = tuple[str, str]


def validate_source(source: object, prefix: str = "source") -> list[ConfigProblem]:
    """Every problem of a mapping's `source:` block; an unknown connector lists the known ones."""
    if not isinstance(source, Mapping):
        return [(prefix, "must be an object with a `connector` key")]
    name = source.get("connector")
    if name is None:
        return [(f"{prefix}.connector", f"required (known: {', '.join(known_connectors())})")]
    cls, problem = _lookup(name, f"{prefix}.connector")
    if cls is None:
        return [problem]
    return _problems(cls.source_schema, source, prefix)


def validate_extract(
    connector_name: str, extract: object, prefix: str = "extract"
) -> list[ConfigProblem]:
    """Every problem of one entity's `extract:` block for the named connector."""
    cls, problem = _lookup(connector_name, "source.connector")
    if cls is None:
        return [problem]
    return _problems(cls.extract_schema, extract, prefix)


def check_config(schema: dict[str, Any], config: object, prefix: str) -> None:
    """Raises one ConfigError listing every problem (for connectors built outside a mapping)."""
    problems = _problems(schema, config, prefix)
    if problems:
        lines = "".join(f"\n  {path}: {message}" for path, message in problems)
        raise ConfigError(
            f"{len(problems)} problem(s) in the {prefix.split('.')[0]} config:{lines}"
        )


def _lookup(name: object, path: str) -> tuple[type[Connector] | None, ConfigProblem]:
    known = ", ".join(known_connectors())
    if not isinstance(name, str):
        return None, (path, f"must be a connector name (known: {known})")
    try:
        return connector_class(name), ("", "")
    except ConfigError as exc:
        return None, (path, str(exc))


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Built once per schema (schemas are class constants; the entry keeps the dict alive)."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, Draft202012Validator(schema))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def _problems(schema: dict[str, Any], config: object, prefix: str) -> list[ConfigProblem]:
    validator = _validator(schema)
    errors = list(validator.iter_errors(config))
    found: list[ConfigProblem] = []
    for error in errors:
        if _is_generic(error) and _has_specific(error, errors):
            continue
        found.extend(_describe(error, prefix))
    return sorted(set(found), key=lambda p: (p[0], p[1]))


def _path(prefix: str, parts: Iterable[object]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ValidationError, prefix: str) -> list[ConfigProblem]:
    where = _path(prefix, error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(error.schema.get("properties", {}))
        allowed = set(known)
        return [
            (_path(where, [key]), _unknown_key(str(key), known))
            for key in error.instance
            if key not in allowed
        ]
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return [(_path(where, [missing]), "required")]
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
