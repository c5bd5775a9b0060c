"""`reconcile.expected_extras` (engine/reconcile/reconciler.py, engine/mapping/sections.py):
records Loop has and the platform does not that the mapping expects (customers Loop created
inline from orders) are listed as `expected_extra` and do not make `etl reconcile` exit 3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.sandbox.server import SandboxHandle
from tests.cli.loop_support import etl
from tests.sandbox.support import api, sandbox

MAPPING = """\
version: 1
name: extras
source: {connector: files, root: data}
target: {base_url: "${LOOP_API_URL:-embedded}", api_key: "${LOOP_API_KEY:-sandbox}"}
entities:
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email}
"""
# made in Loop, not on the platform: a guest from an order, and one by hand
GUEST = {"external_id": "guest-1", "email": "guest@example.com"}
BY_HAND = {"external_id": "by-hand", "first_name": "Hand"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def synced(server: SandboxHandle, tmp_path: Path) -> tuple[SandboxHandle, Path]:
    """The platform's one customer synced, then two more made in Loop directly."""
    server.admin.reset()
    sb = server
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.json").write_text(json.dumps([{"id": 1, "email": "a@x.io"}]))
    _mapping(tmp_path, "")
    assert etl(sb, "run", str(tmp_path / "extras.yaml"), *_state(tmp_path)).exit_code == 0
    for body in (GUEST, BY_HAND):
        assert api(sb).put("/customers", json=body).status_code == 200
    return sb, tmp_path


def _mapping(folder: Path, section: str) -> Path:
    path = folder / "extras.yaml"
    path.write_text(MAPPING + section)
    return path


def _state(folder: Path) -> list[str]:
    return ["--state", str(folder / "state.duckdb")]


def _reconcile(sb: SandboxHandle, folder: Path, section: str) -> tuple[int, dict[str, Any]]:
    result = etl(sb, "reconcile", str(_mapping(folder, section)), "--json", *_state(folder))
    return result.exit_code, json.loads(result.stdout)["entities"]["customers"]


def test_expected_extras_without_them_every_extra_makes_exit_3(
    synced: tuple[SandboxHandle, Path],
) -> None:
    code, customers = _reconcile(*synced, "")

    assert code == 3
    assert (customers["extra"], customers["expected_extra"]) == (["by-hand", "guest-1"], [])


def test_expected_extras_listed_entities_are_listed_and_exit_0(
    synced: tuple[SandboxHandle, Path],
) -> None:
    code, customers = _reconcile(*synced, "reconcile: {expected_extras: [customers]}\n")

    assert code == 0, customers
    assert (customers["extra"], customers["expected_extra"]) == ([], ["by-hand", "guest-1"])
    assert customers["found"] == customers["remaining"] == 0
    sb, folder = synced
    table = etl(sb, "reconcile", str(folder / "extras.yaml"), *_state(folder))
    assert table.exit_code == 0 and "customers expected extra: by-hand, guest-1" in table.output


def test_expected_extras_jmespath_expects_only_the_records_it_is_true_for(
    synced: tuple[SandboxHandle, Path],
) -> None:
    section = 'reconcile: {expected_extras: {customers: "email != null"}}\n'

    code, customers = _reconcile(*synced, section)

    assert code == 3
    assert (customers["extra"], customers["expected_extra"]) == (["by-hand"], ["guest-1"])


def test_expected_extras_unknown_entity_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = _mapping(tmp_path, "reconcile: {expected_extras: {customerz: true, orders: 'a b'}}\n")

    result = CliRunner().invoke(main, ["check", str(path)])

    assert result.exit_code == 2, result.output
    assert "reconcile.expected_extras.customerz" in result.output and "customers" in result.output
    assert "reconcile.expected_extras.orders" in result.output
