"""The sandbox's shape (architecture review §8): packages without import cycles, module-level
imports only, imports from the rest of the engine limited to a few modules, modules under 400
lines."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT / "engine" / "sandbox"
# What the sandbox may import from the rest of the engine (today's names, and the names the
# restructuring gives them: engine.state.tx, engine.net).
ALLOWED = (
    "engine.errors",
    "engine.validation",
    "engine.state.tx",
    "engine.net.budget",
    "engine.net.sockets",
    "engine.net.retry",
    "engine.loop.webhooks",
    "engine.loop.kinds",
)
MODULES = sorted(SANDBOX.rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {_name(p) for p in MODULES}


def _is_module(name: str) -> bool:
    if name in NAMES:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _imports(tree: ast.Module) -> list[str]:
    """Modules a module imports at its top level (`from pkg import submodule` -> the submodule)."""
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            found += [s for s in subs if _is_module(s)] or [node.module]
    return found


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_layout_module_is_under_400_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < 400


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_layout_imports_only_allowed_engine_modules(path: Path) -> None:
    outside = [
        name
        for name in _imports(_tree(path))
        if name.split(".")[0] in ("engine", "connectors", "examples")
        and not name.startswith("engine.sandbox")
        and not name.startswith(ALLOWED)
    ]
    assert not outside, f"{_name(path)} imports {outside}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_layout_has_no_function_level_imports(path: Path) -> None:
    nested = [
        n.lineno
        for fn in ast.walk(_tree(path))
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(fn)
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    assert not nested, f"{_name(path)}: imports inside functions at lines {nested}"


def test_layout_has_no_import_cycle() -> None:
    graph = {
        _name(p): [m for m in _imports(_tree(p)) if m in NAMES and m != _name(p)] for p in MODULES
    }
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        if node in done:
            return
        for nxt in graph[node]:
            visit(nxt, [*path, node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


def test_layout_is_the_planned_packages() -> None:
    expected = {
        "engine.sandbox.commerce.common",
        "engine.sandbox.commerce.resources",
        "engine.sandbox.commerce.variants",
        "engine.sandbox.commerce.orders",
        "engine.sandbox.returns.errors",
        "engine.sandbox.returns.store",
        "engine.sandbox.returns.lines",
        "engine.sandbox.returns.query",
        "engine.sandbox.returns.actions",
        "engine.sandbox.returns.views",
        "engine.sandbox.returns.cli",
        "engine.sandbox.returns.payloads",
        "engine.sandbox.returns.processing",
        "engine.sandbox.returns.totals",
        "engine.sandbox.worker",
        "engine.sandbox.webhooks",
        "engine.sandbox.delivery",
    }
    assert expected <= NAMES
    assert not [n for n in NAMES if n.rsplit(".", 1)[-1].startswith(("commerce_", "returns_"))]
