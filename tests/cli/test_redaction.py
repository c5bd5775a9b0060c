"""Values from the environment never appear in what `etl` prints or stores, wherever the error
that would quote them comes from (issue 8, point 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.state import State

SECRET = "env-secret-5b1e9c"

MAPPING = """\
version: 1
name: redaction
timezone: {timezone}
source:
  connector: {connector}
{source}
entities:
  customers:
    extract: {extract}
    map:
      external_id: {expression}
      email: email
"""


def _write(tmp_path: Path, **parts: str) -> Path:
    (tmp_path / "customers.csv").write_text("id,email\n1,a@x.test\n")
    values = {
        "timezone": "UTC",
        "connector": "files",
        "source": f"  root: {tmp_path}",
        "extract": "{path: customers.csv}",
        "expression": "to_string(id)",
    } | parts
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.format(**values))
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"SECRET_VALUE": SECRET})
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param({"timezone": "${SECRET_VALUE}"}, id="time zone"),
        pytest.param({"expression": "\"'${SECRET_VALUE}' |\""}, id="jmespath syntax"),
        pytest.param(
            {
                "connector": "http",
                "source": "  base_url: http://x.test\n  auth: {type: '${SECRET_VALUE}'}",
            },
            id="auth.type",
        ),
        pytest.param(
            {
                "connector": "http",
                "source": "  base_url: http://x.test\n  pagination: {type: '${SECRET_VALUE}'}",
            },
            id="pagination.type",
        ),
    ],
)
def test_check_never_echoes_a_value_from_the_environment(
    tmp_path: Path, parts: dict[str, str]
) -> None:
    code, output = _invoke("check", str(_write(tmp_path, **parts)))
    assert code == 2, output
    assert SECRET not in output
    assert "***" in output or "from the environment" in output


def test_a_sql_error_quoting_a_bound_value_never_shows_it(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id,email\n1,a@x.test\n")
    mapping = _write(
        tmp_path,
        connector="sql",
        source=f"  database: ':memory:'\n  root: {tmp_path}",
        extract=(
            "{query: \"SELECT * FROM read_csv('c.csv', encoding=$enc)\", "
            "params: {enc: '${SECRET_VALUE}'}}"
        ),
    )
    code, output = _invoke("run", str(mapping), "--dry-run")
    # the query is prepared when the mapping loads: refused as a bad mapping (exit 2), and
    # the database's message quotes the bound value only as ***
    assert code == 2, output
    assert "encoding" in output and SECRET not in output and "***" in output


def test_a_bad_state_path_from_the_environment_is_not_shown(tmp_path: Path) -> None:
    mapping = _write(tmp_path)
    text = mapping.read_text().replace(
        "timezone: UTC", "timezone: UTC\nstate: {path: '/proc/${SECRET_VALUE}/s.duckdb'}"
    )
    mapping.write_text(text)
    code, output = _invoke("run", str(mapping))
    assert code != 0 and "error:" in output and SECRET not in output, output
    code, output = _invoke("status", str(mapping))
    assert code != 0 and "***" in output and SECRET not in output, output


def test_reasons_stored_in_the_state_never_hold_a_value_from_the_environment(
    tmp_path: Path,
) -> None:
    mapping = _write(tmp_path, expression="\"{{ '${SECRET_VALUE}' | enum({}) }}\"")
    state = tmp_path / "state.duckdb"
    code, output = _invoke("run", str(mapping), "--state", str(state), "--json")
    assert code in (1, 3), output
    with State(state) as opened:
        stored = json.dumps(opened.parked("quarantine"))
    assert "***" in stored and SECRET not in stored
