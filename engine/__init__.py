"""loop-etl: a declarative ETL engine for Loop Anywhere integrations."""

from __future__ import annotations

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

__all__ = [
    "ConfigError",
    "EngineError",
    "ExtractError",
    "LoadError",
    "PermanentLoadError",
    "RecordError",
    "StateError",
    "TransientLoadError",
    "__version__",
]
