"""The one wiring of a command: embedded services, the state, the connector and the Loop client,
opened together and closed together; and `run_mapping`, the library entry point of `etl run`.

Only this module builds a connector or a Loop client: `etl run`, `etl quarantine replay`,
`etl preview` (records straight from the source) and reconcile all come through
`open_context`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from connectors.base import Connector
from connectors.registry import connector_class
from engine.embedded import Services, is_embedded, services
from engine.mapping.functions import make_options
from engine.mapping.model import Mapping, Target
from engine.state import State

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.loop.api import LoopAPI
    from engine.loop.client import LoopClient
    from engine.mapping.compile import CompiledMapping
    from engine.pipeline.estimate import Estimate
    from engine.pipeline.run import Progress, RunOptions, RunSummary


@dataclass(frozen=True)
class Context:
    """What a command works with, and where its data comes from and goes (no credentials)."""

    mapping: Mapping
    state: State
    connector: Connector
    loop: LoopAPI | None  # None when the command sends nothing to Loop
    source: dict[str, Any]  # {"connector", its base_url / root / database, "embedded"}
    target: dict[str, Any]  # {"base_url" (Loop's, never the key), "embedded"}


@contextmanager
def open_context(
    mapping: Mapping,
    state_path: Path,
    *,
    need_loop: bool = True,
    dry_run: bool = False,
    need_state: bool = True,
) -> Iterator[Context]:
    """Start what the mapping calls `embedded`, open the state, build the connector and (when
    needed, and not in a dry run) the Loop client; everything closes when the block ends.

    A dry run writes no state: with no state file yet it diffs against an empty one in
    memory. `need_state=False` (preview) never touches the state file."""
    send = need_loop and not dry_run
    with ExitStack() as stack:
        # The state first: its lock is what keeps a second command off this mapping's files
        # (the embedded sandbox's database lives beside it).
        in_memory = not need_state or (dry_run and not state_path.exists())
        state = stack.enter_context(State(":memory:" if in_memory else state_path))
        running = stack.enter_context(services(mapping, state_path, need_loop=send))
        cls = connector_class(running.source["connector"])
        connector = stack.enter_context(cls(running.source, mapping.base_dir))
        connector.functions = make_options(mapping.timezone)
        loop = stack.enter_context(_loop_client(running.target)) if send else None
        yield Context(
            mapping,
            state,
            connector,
            loop,
            describe_source(mapping, running),
            describe_target(running),
        )


def run_mapping(
    compiled: CompiledMapping,
    options: RunOptions,
    state_path: Path,
    progress: Progress | None = None,
    announce: Callable[[Estimate], None] | None = None,
) -> RunSummary:
    """Run a compiled mapping with its services: the library entry point of `etl run` (and of
    `etl quarantine replay`). The summary names where the data came from and went. Before a
    first run of some entity, the backfill estimate is made, given to `announce` and kept in
    the summary (a dry run and a replay make none)."""
    from engine.pipeline.estimate import before_run
    from engine.pipeline.run import Runner

    with open_context(compiled.mapping, state_path, dry_run=options.dry_run) as ctx:
        estimate = None
        if options.sync and not options.dry_run and not options.replay:
            estimate = before_run(compiled, ctx.state, ctx.connector, options.entities, options.now)
        if estimate is not None and announce is not None:
            announce(estimate)
        runner = Runner(compiled, ctx.state, ctx.connector, ctx.loop, options, progress)
        summary = runner.run()
    summary.source, summary.target = ctx.source, ctx.target
    summary.estimate = estimate.as_dict() if estimate is not None else None
    return summary


def state_path_for(mapping: Mapping, override: str | Path | None = None) -> Path:
    """`--state`, else the mapping's `state.path`, else `.etl/<name>.duckdb`."""
    if override is not None:
        return Path(override)
    if mapping.state_path:
        return Path(mapping.state_path)
    return Path(".etl") / f"{mapping.name}.duckdb"


def describe_source(mapping: Mapping, running: Services) -> dict[str, Any]:
    """The connector and where it reads, as used (an embedded demo's own URL or path)."""
    out: dict[str, Any] = {"connector": running.source["connector"]}
    # The keys a connector may call `embedded` are the ones that say where it reads.
    keys = connector_class(running.source["connector"]).embedded_keys
    for key in keys:
        value = running.source.get(key)
        if isinstance(value, str):
            out[key] = public_location(value)
    out["embedded"] = any(is_embedded(mapping.source.get(key)) for key in keys)
    return out


def describe_target(running: Services) -> dict[str, Any]:
    """Loop's base URL as used (never the key); `embedded` when it is the local sandbox (or,
    in a dry run, would be)."""
    url = running.target.base_url
    embedded = running.sandbox is not None or is_embedded(url)
    return {"base_url": public_location(url), "embedded": embedded}


def public_location(value: str) -> str:
    """A URL without its userinfo, query and fragment (where credentials hide); a path as is."""
    parts = urlsplit(value)
    if not (parts.scheme and parts.netloc):
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _loop_client(target: Target) -> LoopClient:
    from engine.loop.client import LoopClient  # httpx only when a command sends to Loop

    return LoopClient(
        target.base_url,
        target.api_key,
        api_version=target.api_version,
        rate_limit=target.rate_limit,
        timeout_s=target.timeout_s,
        max_retries=target.max_retries,
        outage_s=target.outage_s,
        concurrency=target.concurrency,
    )
