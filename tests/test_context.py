"""`open_context`: the one wiring of a command (services, state, connector, Loop client), and
the description of where data comes from and goes, without credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from engine.context import open_context, public_location, state_path_for
from engine.loop.api import LoopAPI
from engine.mapping.compile import load_and_compile
from engine.mapping.model import Mapping

MAPPING = """\
version: 1
name: ctx
source: {connector: files, root: data}
target: {base_url: "https://user:pw@loop.example/api?token=t#x", api_key: the-secret-key}
entities:
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email}
"""


@pytest.fixture
def mapping(tmp_path: Path) -> Mapping:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.json").write_text(json.dumps([{"id": 1, "email": "a@b.co"}]))
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING)
    return load_and_compile(path).mapping


def test_open_context_without_loop_builds_the_connector_and_no_client(
    mapping: Mapping, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    with open_context(mapping, state, need_loop=False, need_state=False) as ctx:
        assert isinstance(ctx.connector, FilesConnector) and ctx.loop is None
        assert ctx.source == {"connector": "files", "root": "data", "embedded": False}
        assert ctx.target == {"base_url": "https://loop.example/api", "embedded": False}
    assert not state.exists(), "need_state=False touched the state file"


def test_open_context_dry_run_without_a_state_file_keeps_it_in_memory(
    mapping: Mapping, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    with open_context(mapping, state, dry_run=True) as ctx:
        assert ctx.loop is None and ctx.state.path == ":memory:"
    assert not state.exists()


def test_open_context_builds_the_loop_client_and_opens_the_state(
    mapping: Mapping, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    with open_context(mapping, state) as ctx:
        assert isinstance(ctx.loop, LoopAPI)
        assert ctx.state.path == str(state)
        assert "the-secret-key" not in repr(ctx)
    assert state.exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(
            "https://u:p@shop.example:8443/admin?token=t#f",
            "https://shop.example:8443/admin",
            id="userinfo, query and fragment dropped",
        ),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", id="a plain url as is"),
        pytest.param("data/oms.sqlite", "data/oms.sqlite", id="a path as is"),
        pytest.param(":memory:", ":memory:", id="an in-memory database as is"),
    ],
)
def test_public_location_drops_credentials(value: str, shown: str) -> None:
    assert public_location(value) == shown


def test_state_path_for_prefers_the_override_then_the_mapping_then_the_name(
    mapping: Mapping,
) -> None:
    assert state_path_for(mapping, "x.duckdb") == Path("x.duckdb")
    assert state_path_for(mapping) == Path(".etl") / "ctx.duckdb"
