"""`etl run` through click's runner: where the data goes when the environment overrides a literal
`embedded` target, the summary naming source and target, and the key never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from engine.sandbox.server import SandboxHandle, running_sandbox

REPO = Path(__file__).resolve().parents[2]
SECRET = "loop-key-that-must-never-be-printed"
# The variables a developer's shell may carry that would point the run somewhere else.
UNSET = (
    *("SHOP_URL", "SHOP_TOKEN", "SHOP_LOCATION_IDS"),
    *("LOOP_API_URL", "LOOP_API_KEY", "LOOP_RATE_LIMIT", "ETL_DEMO_SEED"),
)


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    """A Loop sandbox started apart from the run, accepting only SECRET."""
    with running_sandbox(rate_limit="0/min", api_keys=(SECRET,), seed=3) as handle:
        yield handle


@pytest.fixture
def literal(tmp_path: Path) -> Path:
    """mappings/shopify-like.yaml with `embedded` written literally in its target."""
    text = (REPO / "mappings" / "shopify-like.yaml").read_text()
    defaults = {"LOOP_API_URL": "embedded", "LOOP_API_KEY": "sandbox", "LOOP_RATE_LIMIT": "300/min"}
    for variable, default in defaults.items():
        text = text.replace(f"${{{variable}:-{default}}}", default)
    assert "${LOOP" not in text
    path = tmp_path / "literal.yaml"
    path.write_text(text)
    return path


def _etl(*args: str, **env: str) -> Result:
    environment: dict[str, str | None] = {name: None for name in UNSET}
    return CliRunner().invoke(main, list(args), env={**environment, "ETL_DEMO_ORDERS": "5", **env})


def test_run_literal_embedded_target_goes_where_loop_api_url_says(
    literal: Path, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    env = {"LOOP_API_URL": sandbox.base_url, "LOOP_API_KEY": SECRET, "LOOP_RATE_LIMIT": "0/min"}

    result = _etl("run", str(literal), "-e", "locations", "--json", "--state", str(state), **env)

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target"] == {"base_url": sandbox.base_url, "embedded": False}
    assert summary["source"]["connector"] == "http" and summary["source"]["embedded"] is True
    assert summary["source"]["base_url"].startswith("http://127.0.0.1:")
    assert [e["created"] for e in summary["entities"]] == [3]
    assert len(sandbox.admin.records("location")) == 3, "the records went somewhere else"
    assert not state.with_name("state.sandbox.duckdb").exists(), "an embedded sandbox ran"


def test_run_never_prints_the_loop_key(
    literal: Path, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    env = {"LOOP_API_URL": sandbox.base_url, "LOOP_API_KEY": SECRET}

    as_json = _etl("run", str(literal), "-e", "locations", "--json", "--state", str(state), **env)
    table = _etl("run", str(literal), "-e", "locations", "--state", str(state), **env)
    env_wrong = {**env, "LOOP_API_KEY": SECRET + "-wrong"}
    wrong = _etl("run", str(literal), "-e", "products", "--state", str(state), **env_wrong)

    assert (as_json.exit_code, table.exit_code) == (0, 0), as_json.output + table.output
    assert wrong.exit_code == 1, wrong.output  # Loop refused the key: the run stops
    for result in (as_json, table, wrong):
        assert SECRET not in result.stdout + result.stderr


def test_run_summary_table_names_source_and_target(
    literal: Path, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    env = {"LOOP_API_URL": sandbox.base_url, "LOOP_API_KEY": SECRET}

    result = _etl(
        "run", str(literal), "-e", "locations", "--state", str(tmp_path / "s.duckdb"), **env
    )

    assert result.exit_code == 0, result.output
    title = [line.strip() for line in result.stdout.splitlines()][:3]
    assert title[0] == "run 1" and title[2] == f"to Loop {sandbox.base_url}", title
    assert title[1].startswith("from http http://127.0.0.1:"), title
    assert title[1].endswith("/admin/api/2024-01 (embedded demo)"), title


def test_run_dry_run_names_the_embedded_target_it_would_use(literal: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"

    result = _etl(
        "run", str(literal), "-e", "locations", "--dry-run", "--json", "--state", str(state)
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target"] == {"base_url": "embedded", "embedded": True}
    assert not state.exists()
