"""The house rules of the layout, read from the code's imports with `ast`: each test fails when
a module breaks one (see the README's "Layout" section for why each rule exists)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.loop.kinds import KINDS

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "connectors", "examples")
MAX_LINES = 400
MAX_FUNCTION_LINES = 40


@dataclass(frozen=True)
class Module:
    name: str  # engine.pipeline.run
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(REPO).as_posix()

    def imports(self) -> Iterator[tuple[str, int]]:
        """Every module this one imports (at any depth: function-level imports count too),
        with the line; `from x import y` also yields x.y (y may be a module)."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node)
                yield base, node.lineno
                for alias in node.names:
                    yield f"{base}.{alias.name}", node.lineno

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.name.split(".")
        package = parts if self.path.name == "__init__.py" else parts[:-1]
        package = package[: len(package) - node.level + 1]
        return ".".join([*package, *([node.module] if node.module else [])])


def _modules() -> list[Module]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


MODULES = _modules()
NAMES = {m.name for m in MODULES}


def _under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _offences(rule: str, modules: list[Module], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{m.rel}:{line} imports {target} ({rule})"
        for m in modules
        for target, line in m.imports()
        if _under(target, *forbidden)
    ]


def _engine(*, besides: tuple[str, ...] = ()) -> list[Module]:
    return [m for m in MODULES if _under(m.name, "engine") and not _under(m.name, *besides)]


def test_only_the_sandbox_and_the_embedded_wiring_import_the_sandbox_or_examples() -> None:
    modules = _engine(besides=("engine.sandbox", "engine.embedded"))
    modules += [m for m in MODULES if _under(m.name, "connectors")]
    assert _offences("the emulator and demos are not the engine", modules,
                     ("engine.sandbox", "examples")) == []  # fmt: skip


def test_only_the_cli_imports_click_and_rich() -> None:
    # The sandbox's own commands (`etl sandbox ...`) are click commands too; they reach the
    # `etl` group through the `loop_etl.commands` entry point, as `etl demo` does.
    commands = ("engine.cli", "engine.sandbox.cli", "engine.sandbox.returns.cli")
    assert _offences("only the CLI talks to a terminal", _engine(besides=commands),
                     ("click", "rich")) == []  # fmt: skip
    sandbox_cli = [m for m in MODULES if m.name in commands[1:]]
    assert _offences("the sandbox's commands print plain lines", sandbox_cli, ("rich",)) == []


def test_connectors_import_only_errors_net_and_validation_from_the_engine() -> None:
    allowed = ("engine.errors", "engine.net", "engine.validation", "engine.resources")
    offences = [
        f"{m.rel}:{line} imports {target}"
        for m in MODULES
        if _under(m.name, "connectors")
        for target, line in m.imports()
        if _under(target, "engine") and not _under(target, *allowed) and target != "engine"
    ]
    assert offences == []


def test_the_sandbox_imports_only_shared_ground_from_the_engine() -> None:
    allowed = (
        "engine.errors", "engine.validation", "engine.resources", "engine.state.tx",
        "engine.net.budget", "engine.net.sockets", "engine.loop.webhooks", "engine.loop.kinds",
        "engine.sandbox",
    )  # fmt: skip
    offences = [
        f"{m.rel}:{line} imports {target}"
        for m in MODULES
        if _under(m.name, "engine.sandbox")
        for target, line in m.imports()
        if _under(target, "engine", "connectors", "examples") and not _under(target, *allowed)
    ]
    assert offences == []


def _calls(module: Module, names: set[str]) -> Iterator[tuple[str, int]]:
    """Calls of `names` (`LoopClient(...)`) and of what `connector_class(...)` returns."""
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in names:
            yield func.id, node.lineno
        inner = func.func if isinstance(func, ast.Call) else None
        if isinstance(inner, ast.Name) and inner.id == "connector_class":
            yield "connector_class(...)(...)", node.lineno


def test_only_the_wiring_constructs_a_connector_or_a_loop_client() -> None:
    builders = {"LoopClient", "HttpConnector", "FilesConnector", "SqlConnector"}
    offences = [
        f"{m.rel}:{line} constructs {what}"
        for m in _engine(besides=("engine.context", "engine.sandbox"))
        for what, line in _calls(m, builders)
    ]
    assert offences == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.rel)
def test_no_module_is_over_400_lines(module: Module) -> None:
    lines = len(module.path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.rel} has {lines} lines: split it"


def _long_functions(module: Module) -> Iterator[str]:
    """Functions and methods (nested ones too) over MAX_FUNCTION_LINES, from the `def` line
    to the last line of the body, docstring included (decorators are not counted)."""
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                yield f"{module.rel}:{node.lineno} {node.name} ({lines} lines)"


def test_no_function_is_over_40_lines() -> None:
    offences = [offence for module in MODULES for offence in _long_functions(module)]
    limit = f"split these functions (at most {MAX_FUNCTION_LINES} lines):\n"
    assert offences == [], limit + "\n".join(offences)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        graph[module.name] = {t for t, _ in module.imports() if t in NAMES and t != module.name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None (iterative DFS with colours)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_no_import_cycle_between_modules() -> None:
    # A package's __init__ importing its own submodules is its public face, not a cycle.
    graph = {
        name: {t for t in targets if not (t.startswith(name + "."))}
        for name, targets in _graph().items()
    }
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_mapping_schema_names_exactly_the_kinds_of_the_kind_table() -> None:
    schema = json.loads((REPO / "schemas" / "mapping.schema.json").read_text())
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("title") == "Loop kind" and "enum" in node:
                found.append(node["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert [sorted(enum) for enum in found] == [sorted(KINDS)]


def test_tests_mirror_the_tree() -> None:
    for package in ("pipeline", "state", "cli", "net", "loop", "sandbox", "connectors"):
        folder = REPO / "tests" / package
        assert folder.is_dir() and any(folder.rglob("test_*.py")), f"tests/{package}/"
