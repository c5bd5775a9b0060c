"""Shared by the `etl returns` and `etl webhooks` tests: a small mapping whose Loop target is
`${LOOP_API_URL:-embedded}`, and `etl` run through click's runner against a sandbox the test
started (LOOP_API_URL, LOOP_API_KEY and LOOP_RATE_LIMIT point it there)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from engine.cli import main
from engine.sandbox.server import SandboxHandle

MAPPING = """\
version: 1
name: returns-cli
source: {connector: files, root: data}
target: {base_url: "${LOOP_API_URL:-embedded}", api_key: "${LOOP_API_KEY:-sandbox}"}
entities:
  customers:
    extract: {path: customers.json}
    map: {external_id: to_string(id), email: email}
"""


def mapping_file(folder: Path) -> Path:
    """The mapping, with its (empty) data folder, in `folder`."""
    (folder / "data").mkdir(exist_ok=True)
    path = folder / "returns-cli.yaml"
    path.write_text(MAPPING)
    return path


def etl(handle: SandboxHandle, *args: str) -> Result:
    """`etl ARGS...` with the mapping's Loop pointed at the sandbox."""
    env = {
        "LOOP_API_URL": handle.base_url,
        "LOOP_API_KEY": handle.api_key,
        "LOOP_RATE_LIMIT": "0/min",
    }
    return CliRunner().invoke(main, list(args), env=env)
