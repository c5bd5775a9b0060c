"""Finds connectors by name: the built-in ones plus any installed under the entry-point group."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector
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
