"""A built wheel carries the connector packages, their schema files and the conformance suite,
so that a plugin's tests can `from connectors.testing import ConnectorConformance`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json
from connectors.registry import connector_class
from connectors.testing import ConnectorConformance
import connectors.testing, engine.resources
print(json.dumps({
    "suite": connectors.testing.__file__,
    "schemas": str(engine.resources.schemas_dir()),
    "titles": [connector_class(n).source_schema["title"] for n in ("http", "files", "sql")],
}))
"""


@pytest.mark.timeout(600)
def test_wheel_ships_connectors_their_schemas_and_the_suite(tmp_path: Path) -> None:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    build = subprocess.run(
        [*pip_wheel, "-w", str(tmp_path / "dist"), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("loop_etl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("http", "files", "sql"):
        assert f"connectors/{name}/__init__.py" in names
        for kind in ("source", "extract"):
            assert f"engine/_data/schemas/connectors/{name}.{kind}.schema.json" in names
    assert "engine/_data/schemas/connectors/common.schema.json" in names
    assert "connectors/testing.py" in names and "engine/net/sender.py" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["suite"] == str(site / "connectors" / "testing.py")
    assert found["schemas"] == str(site / "engine" / "_data" / "schemas")
    assert found["titles"] == ["http source", "files source", "sql source"]
