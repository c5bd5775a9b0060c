"""`embedded` as a base URL or path: start the demo platform and the Loop sandbox in-process.

- target `base_url: embedded`: the Loop sandbox on a loopback port, its data in a DuckDB file
  beside the mapping's state (`<state>.sandbox.duckdb`), so a second run meets the Loop the
  first one filled.
- source `base_url: embedded` (http), `root: embedded` (files), `database: embedded` or
  `root: embedded` (sql: a database, or the folder of files its queries read):
  the demo platform named by the mapping (`name:`), or by `embedded:NAME`. Its size comes from
  ETL_DEMO_ORDERS (default 60) and ETL_DEMO_SEED (default 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.registry import connector_class
from engine.errors import ConfigError
from engine.mapping.model import Mapping

EMBEDDED = "embedded"
DEFAULT_DEMO_ORDERS = 60


@dataclass
class Services:
    """Where the run reads and writes: the source block to use and Loop's base URL."""

    source: dict[str, Any]
    loop_url: str
    sandbox: Any = None  # the SandboxHandle when Loop is embedded


def is_embedded(value: Any) -> bool:
    return isinstance(value, str) and (value == EMBEDDED or value.startswith(EMBEDDED + ":"))


def demo_options() -> dict[str, int]:
    try:
        return {
            "orders": int(os.environ.get("ETL_DEMO_ORDERS", DEFAULT_DEMO_ORDERS)),
            "seed": int(os.environ.get("ETL_DEMO_SEED", 1)),
        }
    except ValueError:
        raise ConfigError("ETL_DEMO_ORDERS and ETL_DEMO_SEED must be whole numbers") from None


@contextmanager
def services(mapping: Mapping, state_path: Path, need_loop: bool = True) -> Iterator[Services]:
    """Start what the mapping calls `embedded`; everything stops when the block ends."""
    with ExitStack() as stack:
        source = dict(mapping.source)
        for key in connector_class(source["connector"]).embedded_keys:
            if is_embedded(source.get(key)):
                source[key] = stack.enter_context(_demo(mapping, source[key], state_path))
        loop_url, handle = mapping.target.base_url, None
        if need_loop and is_embedded(loop_url):
            handle = stack.enter_context(_sandbox(mapping, state_path))
            loop_url = handle.base_url
        yield Services(source, loop_url, handle)


@contextmanager
def _demo(mapping: Mapping, value: str, state_path: Path) -> Iterator[str]:
    from examples import DEMOS, start_embedded

    name = value.partition(":")[2] or mapping.name
    if name not in DEMOS:
        raise ConfigError(
            f"no demo platform {name!r} to embed (known: {', '.join(DEMOS)}); "
            f"name one as 'embedded:NAME'"
        )
    cache = state_path.parent.resolve() / "demo"
    with start_embedded(name, cache_dir=str(cache), **demo_options()) as where:
        yield where


@contextmanager
def _sandbox(mapping: Mapping, state_path: Path) -> Iterator[Any]:
    from engine.sandbox.server import running_sandbox

    db = state_path.with_name(state_path.stem + ".sandbox.duckdb")
    db.parent.mkdir(parents=True, exist_ok=True)
    with running_sandbox(
        db_path=str(db), api_keys=(mapping.target.api_key,), rate_limit=mapping.target.rate_limit
    ) as handle:
        yield handle


def state_path_for(mapping: Mapping, override: str | Path | None = None) -> Path:
    """`--state`, else the mapping's `state.path`, else `.etl/<name>.duckdb`."""
    if override is not None:
        return Path(override)
    if mapping.state_path:
        return Path(mapping.state_path)
    return Path(".etl") / f"{mapping.name}.duckdb"
