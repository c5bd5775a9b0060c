"""Helpers for mapping tests: write a mapping file and load/compile it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.mapping.compile import CompiledMapping, compile_mapping
from engine.mapping.load import load_mapping

HEADER = """\
version: 1
name: t
source: {connector: files, root: data}
"""


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[str], Path]:
    def write(body: str, header: str = HEADER) -> Path:
        path = tmp_path / "m.yaml"
        path.write_text(header + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def compiled(write_mapping: Callable[[str], Path]) -> Callable[..., CompiledMapping]:
    def build(body: str, plan: bool = True, env: dict[str, str] | None = None) -> CompiledMapping:
        return compile_mapping(load_mapping(write_mapping(body), env=env or {}), plan=plan)

    return build
