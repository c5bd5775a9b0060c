"""`embedded` as a base URL or path: start the demo platform and the Loop sandbox in-process.

- target `base_url: embedded`: the Loop sandbox on a loopback port, its data in a DuckDB file
  beside the mapping's state (`<state>.sandbox.duckdb`), so a second run meets the Loop the
  first one filled. When LOOP_API_URL is set, the environment wins: the target is that URL,
  with LOOP_API_KEY as its key and LOOP_RATE_LIMIT as its rate when they are set.
- source `base_url: embedded` (http), `root: embedded` (files), `database: embedded` or
  `root: embedded` (sql: a database, or the folder of files its queries read):
  always the demo platform named by the mapping (`name:`), or by `embedded:NAME`. Its size
  comes from ETL_DEMO_ORDERS (default 60) and ETL_DEMO_SEED (default 1).

Demos are found by name in the entry-point group `loop_etl.demos`: each entry point is a
function taking the keyword options `orders`, `seed`, `cache_dir` (shared, generated data) and
`data_dir` (this state's own: a file demo copies its data there, so what a run writes into it
stays with this state) (a demo ignores those it does not need) and returning a context manager
that starts the demo and yields where it is: a base URL, a folder or a file path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from collections.abc import Mapping as EnvMapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import duckdb

from connectors.registry import connector_class
from engine.errors import ConfigError, StateError
from engine.mapping.model import Mapping, Target

EMBEDDED = "embedded"
DEFAULT_DEMO_ORDERS = 60
DEMO_GROUP = "loop_etl.demos"

DemoStarter = Callable[..., AbstractContextManager[Any]]


@dataclass
class Services:
    """Where the run reads and writes: the source block to use and Loop's target."""

    source: dict[str, Any]
    target: Target  # base_url is where requests go: the sandbox's URL when it runs
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


def loop_target(target: Target, env: EnvMapping[str, str] | None = None) -> Target:
    """The target a run uses: an `embedded` one becomes LOOP_API_URL (with LOOP_API_KEY and
    LOOP_RATE_LIMIT when set) when that is set; anything else is kept as the mapping says."""
    env = os.environ if env is None else env
    url = env.get("LOOP_API_URL")
    if not (url and is_embedded(target.base_url)):
        return target
    return replace(
        target,
        base_url=url,
        api_key=env.get("LOOP_API_KEY") or target.api_key,
        rate_limit=env.get("LOOP_RATE_LIMIT") or target.rate_limit,
    )


@contextmanager
def services(mapping: Mapping, state_path: Path, need_loop: bool = True) -> Iterator[Services]:
    """Start what the mapping calls `embedded`; everything stops when the block ends."""
    with ExitStack() as stack:
        source = dict(mapping.source)
        for key in connector_class(source["connector"]).embedded_keys:
            if is_embedded(source.get(key)):
                source[key] = stack.enter_context(_demo(mapping, source[key], state_path))
        target, handle = loop_target(mapping.target), None
        if need_loop and is_embedded(target.base_url):
            handle = stack.enter_context(_sandbox(mapping, state_path))
            target = replace(target, base_url=handle.base_url)
        yield Services(source, target, handle)


def known_demos() -> list[str]:
    """The names of the installed demo platforms."""
    return sorted(ep.name for ep in entry_points(group=DEMO_GROUP))


def demo_starter(name: str) -> DemoStarter:
    """The installed demo platform `name`; a miss lists the known ones."""
    found = {ep.name: ep for ep in entry_points(group=DEMO_GROUP)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(
            f"no demo platform {name!r} to embed (known: {known}); name one as 'embedded:NAME'"
        )
    starter: DemoStarter = found[name].load()
    return starter


@contextmanager
def _demo(mapping: Mapping, value: str, state_path: Path) -> Iterator[str]:
    start = demo_starter(value.partition(":")[2] or mapping.name)
    cache = state_path.parent.resolve() / "demo"
    own = state_path.parent.resolve() / f"{state_path.stem}.demo"
    with start(cache_dir=str(cache), data_dir=str(own), **demo_options()) as where:
        yield str(where)


@contextmanager
def _sandbox(mapping: Mapping, state_path: Path) -> Iterator[Any]:
    from engine.sandbox.server import running_sandbox

    db = state_path.with_name(state_path.stem + ".sandbox.duckdb")
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        started = running_sandbox(
            db_path=str(db),
            api_keys=(mapping.target.api_key,),
            rate_limit=mapping.target.rate_limit,
        )
        handle = started.__enter__()
    except duckdb.IOException:
        raise StateError(
            f"cannot open the embedded sandbox's database {db}: another process is using it"
        ) from None
    try:
        yield handle
    finally:
        started.__exit__(None, None, None)
