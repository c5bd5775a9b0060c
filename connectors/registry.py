"""Finds connectors by name (the built-in ones plus any installed under the entry-point
group), and checks a mapping's `source:` and `extract:` blocks against the named connector's
schemas (connectors.validate does the checking itself)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector
from connectors.validate import ConfigProblem, KeyPath, config_problems, dotted_problems
from engine.errors import ConfigError

ENTRY_POINT_GROUP = "loop_etl.connectors"
_BUILTIN = {  # each a package: connectors/<name>/
    "http": "connectors.http:HttpConnector",
    "files": "connectors.files:FilesConnector",
    "sql": "connectors.sql:SqlConnector",
}


@cache
def _targets() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def known_connectors() -> list[str]:
    return sorted(_targets())


def connector_class(name: str) -> type[Connector]:
    """The connector class registered as `name`; a miss lists the known names."""
    target = _targets().get(name)
    if target is None:
        raise ConfigError(f"unknown connector {name!r} (known: {', '.join(known_connectors())})")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"connector {name!r} ({target}) is not a Connector subclass")
    return cls


# -- a mapping's connector config, checked by the connector's name ---------------------------


def validate_source(source: object, prefix: str = "source") -> list[ConfigProblem]:
    """Every problem of a mapping's `source:` block; an unknown connector lists the known ones."""
    return dotted_problems(source_problems(source, (prefix,)))


def validate_extract(
    connector_name: str, extract: object, prefix: str = "extract"
) -> list[ConfigProblem]:
    """Every problem of one entity's `extract:` block for the named connector."""
    return dotted_problems(extract_problems(connector_name, extract, (prefix,)))


def source_problems(source: object, at: KeyPath = ("source",)) -> list[tuple[KeyPath, str]]:
    """`validate_source` with key paths: the connector name first, then its schema."""
    if not isinstance(source, Mapping):
        return [(at, "must be an object with a `connector` key")]
    name = source.get("connector")
    if name is None:
        return [((*at, "connector"), f"required (known: {', '.join(known_connectors())})")]
    cls, problem = _lookup(name, (*at, "connector"))
    if cls is None:
        return [problem]
    return config_problems(cls.source_schema, source, at)


def extract_problems(
    connector_name: str, extract: object, at: KeyPath = ("extract",)
) -> list[tuple[KeyPath, str]]:
    """`validate_extract` with key paths."""
    cls, problem = _lookup(connector_name, ("source", "connector"))
    if cls is None:
        return [problem]
    return config_problems(cls.extract_schema, extract, at)


def _lookup(name: object, at: KeyPath) -> tuple[type[Connector] | None, tuple[KeyPath, str]]:
    known = ", ".join(known_connectors())
    if not isinstance(name, str):
        return None, (at, f"must be a connector name (known: {known})")
    try:
        return connector_class(name), ((), "")
    except ConfigError as exc:
        return None, (at, str(exc))
