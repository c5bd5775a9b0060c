"""loop-etl: a declarative ETL engine for Loop Anywhere integrations.

The library's front door (what the CLI itself uses):

    load_and_compile(path) -> CompiledMapping        the mapping, checked and compiled
    open_context(mapping, state_path) -> Context      services, state, connector, Loop client
    run_mapping(compiled, RunOptions(), state_path)   `etl run`
    BatchSync(compiled, state, loop, run_id)          sync one batch of one entity
    reconcile(compiled, ReconcileOptions(), state_path)

and the error tree of engine.errors. The entry points are imported on first use, so that
`import engine` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.errors import (
    ConfigError,
    EngineError,
    ExtractError,
    LoadError,
    PermanentLoadError,
    RecordError,
    StateError,
    TransientLoadError,
)

__version__ = "0.1.0"

_LAZY = {
    "load_and_compile": "engine.mapping.compile",
    "open_context": "engine.context",
    "run_mapping": "engine.context",
    "RunOptions": "engine.pipeline.run",
    "BatchSync": "engine.pipeline.batch",
    "reconcile": "engine.reconcile",
    "ReconcileOptions": "engine.reconcile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BatchSync",
    "ConfigError",
    "EngineError",
    "ExtractError",
    "LoadError",
    "PermanentLoadError",
    "ReconcileOptions",
    "RecordError",
    "RunOptions",
    "StateError",
    "TransientLoadError",
    "__version__",
    "load_and_compile",
    "open_context",
    "reconcile",
    "run_mapping",
]
