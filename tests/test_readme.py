"""The README documents every mapping key, every connector setting and every filter, and keeps
the two commands a new user copies (its CLI table is checked in tests/cli/test_readme.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from engine.mapping.filters import FILTER_NAMES

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
# every identifier inside a `code span`: a connector key may be shown in context (`{field, param}`)
CODE_WORDS = set(
    re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(re.findall(r"`([^`\n]+)`", README)))
)


def _keys(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.get("properties", {}).items():
            found.add(key)
            found |= _keys(value)
        for sub in schema.get("$defs", {}).values():
            found |= _keys(sub)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                found |= _keys(schema[key])
        for sub in schema.get("patternProperties", {}).values():
            found |= _keys(sub)
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in schema.get(key, []):
                found |= _keys(sub)
    return found


def test_readme_keeps_the_two_commands_on_their_own_lines() -> None:
    lines = README.splitlines()
    assert "python -m pip install . && etl run mappings/shopify-like.yaml" in lines
    assert 'python -m pip install -e ".[test]" && python -m pytest' in lines


def test_readme_documents_every_mapping_key() -> None:
    schema = json.loads((REPO / "schemas" / "mapping.schema.json").read_text())
    missing = sorted(k for k in _keys(schema) if f"`{k}`" not in README)
    assert not missing, f"mapping keys missing from the README: {missing}"


def test_readme_documents_every_connector_setting() -> None:
    missing = []
    for path in sorted((REPO / "schemas" / "connectors").glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        missing += [f"{path.name}: {k}" for k in sorted(_keys(schema)) if k not in CODE_WORDS]
    assert not missing, f"connector settings missing from the README: {missing}"


def test_readme_documents_every_filter() -> None:
    missing = [name for name in FILTER_NAMES if f"`{name}`" not in README]
    assert not missing, f"filters missing from the README: {missing}"
