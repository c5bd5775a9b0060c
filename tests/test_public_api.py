"""The engine's public names are pinned (httpx's test_exported_members): a change to the
front door is a deliberate change to this list."""

from __future__ import annotations

import subprocess
import sys

import engine

EXPECTED = {
    "BatchSync", "ConfigError", "EngineError", "ExtractError", "LoadError",
    "PermanentLoadError", "ReconcileOptions", "RecordError", "RunOptions", "StateError",
    "TransientLoadError", "__version__", "load_and_compile", "open_context", "reconcile",
    "run_mapping",
}  # fmt: skip


def test_the_public_names_are_exactly_these() -> None:
    assert set(engine.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


def test_importing_engine_loads_no_http_client_or_database() -> None:
    probe = (
        "import engine, sys; "
        "print(sorted(m for m in ('httpx', 'duckdb', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
