"""schemas/ and mappings/ are found at run time, installed editable or from a built wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.resources import mappings_dir, schemas_dir

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, engine.resources as r, engine.validation as v
print(json.dumps({"schemas": str(r.schemas_dir()), "mappings": str(r.mappings_dir()),
                  "names": v.schema_names(),
                  "order_ok": v.validator("order").errors({"name": 1}) != []}))
"""


def test_editable_install_reads_the_repository_folders() -> None:
    assert schemas_dir() == REPO / "schemas"
    assert mappings_dir() == REPO / "mappings"


@pytest.mark.timeout(600)
def test_built_wheel_carries_schemas_and_mappings(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("loop_etl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/_data/schemas/mapping.schema.json" in names
    assert "engine/_data/schemas/loop/order.schema.json" in names
    assert "engine/_data/mappings/shopify-like.yaml" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["schemas"] == str(site / "engine" / "_data" / "schemas")
    assert found["mappings"] == str(site / "engine" / "_data" / "mappings")
    assert "loop/order" in found["names"] and "mapping" in found["names"]
    assert found["order_ok"] is True
