"""Entity dependencies: lookups found in field specs, a stable topological order, and what
`send: referenced` needs of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from engine.loop.kinds import BUILD_ORDER
from engine.mapping.yamlsource import KeyPath

if TYPE_CHECKING:
    from engine.mapping.model import Entity


def lookups_in(spec: Any, path: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """Every `{lookup: ENTITY, ...}` in a field spec tree, with the path of the spec."""
    if isinstance(spec, dict):
        if isinstance(spec.get("lookup"), str):
            yield path, spec
        for key, child in spec.items():
            yield from lookups_in(child, (*path, str(key)))
    elif isinstance(spec, list):
        for i, child in enumerate(spec):
            yield from lookups_in(child, (*path, i))


def dependency_order(
    edges: dict[str, set[str]], kinds: dict[str, str]
) -> tuple[tuple[str, ...], list[str]]:
    """Entities so that each comes after what it needs; ties follow Loop's build order.

    Returns (order, cycle): cycle is empty, or the names forming one dependency cycle.
    """
    rank = {name: (BUILD_ORDER.index(kinds[name]), name) for name in edges}
    done: list[str] = []
    placed: set[str] = set()
    pending = set(edges)
    while pending:
        ready = sorted((n for n in pending if edges[n] <= placed), key=rank.__getitem__)
        if not ready:
            return tuple(done), _find_cycle(edges, pending)
        first = ready[0]
        done.append(first)
        placed.add(first)
        pending.discard(first)
    return tuple(done), []


def _find_cycle(edges: dict[str, set[str]], pending: set[str]) -> list[str]:
    start = min(pending)
    seen: list[str] = []
    node = start
    while node not in seen:
        seen.append(node)
        node = min(n for n in edges[node] if n in pending)
    return seen[seen.index(node) :]


def referrers(entities: Iterable[Entity]) -> dict[str, set[str]]:
    """Entity -> the other entities that look it up (a `lookup`, by key or `via` an alias)."""
    out: dict[str, set[str]] = {}
    for entity in entities:
        for _, spec in lookups_in(entity.map, ()):
            if spec["lookup"] != entity.name:
                out.setdefault(str(spec["lookup"]), set()).add(entity.name)
    return out


def send_problems(entities: Iterable[Entity]) -> list[tuple[KeyPath, str]]:
    """`send: referenced` needs another entity that looks this one up, and no children
    (variants go with their product)."""
    entities = list(entities)
    looked_up = referrers(entities)
    out: list[tuple[KeyPath, str]] = []
    for entity in entities:
        if entity.send != "referenced":
            continue
        at = (*entity.path, "send")
        if any(e.parent == entity.name for e in entities):
            out.append((at, "an entity with `variants:` cannot be `send: referenced`"))
        elif not looked_up.get(entity.name):
            out.append(
                (
                    at,
                    f"no other entity looks {entity.name} up (`lookup: {entity.name}`): "
                    "with `send: referenced` none of its records would ever be sent",
                )
            )
    return out
