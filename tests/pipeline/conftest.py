"""The pipeline on real parts: a files source in tmp_path, a real DuckDB state file and the
Loop sandbox on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import connector_class
from engine.loop.client import LoopClient
from engine.mapping.compile import CompiledMapping, load_and_compile
from engine.pipeline.run import Runner, RunOptions, RunSummary
from engine.sandbox.server import SandboxHandle, running_sandbox
from engine.state import State


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min") as handle:
        yield handle


class Pipeline:
    """Writes a mapping over CSV files in a folder and runs it into the sandbox."""

    def __init__(self, folder: Path, sandbox: SandboxHandle) -> None:
        self.folder, self.sandbox = folder, sandbox
        self.state_path = folder / "state.duckdb"

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text)

    def compile(self, entities: str) -> CompiledMapping:
        mapping = self.folder / "mapping.yaml"
        mapping.write_text(
            "version: 1\nname: pipeline-test\n"
            f"source: {{connector: files, root: {self.folder}}}\n"
            f"target: {{base_url: {self.sandbox.base_url}, api_key: sandbox}}\n"
            "entities:\n" + entities
        )
        return load_and_compile(mapping)

    def run(self, compiled: CompiledMapping, **options: Any) -> RunSummary:
        source = compiled.mapping.source
        connector = connector_class(source["connector"])(source, compiled.mapping.base_dir)
        client = LoopClient(self.sandbox.base_url, "sandbox", rate_limit="0/min")
        with State(self.state_path) as state, connector, client:
            return Runner(compiled, state, connector, client, RunOptions(**options)).run()

    def parked(self, table: str = "quarantine") -> list[dict[str, Any]]:
        with State(self.state_path) as state:
            return state.parked(table)


@pytest.fixture
def pipeline(tmp_path: Path, sandbox: SandboxHandle) -> Pipeline:
    return Pipeline(tmp_path, sandbox)
