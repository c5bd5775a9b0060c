"""Finds the data folders (schemas/, mappings/) whether installed editable or from a wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder `name` (schemas or mappings): bundled in a wheel, or at the repository top."""
    bundled = _PKG / "_data" / name
    if bundled.is_dir():
        return bundled
    source = _PKG.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"data folder {name!r} not found beside the engine package")


def schemas_dir() -> Path:
    return data_dir("schemas")


def mappings_dir() -> Path:
    return data_dir("mappings")
