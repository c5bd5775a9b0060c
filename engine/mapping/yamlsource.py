"""Loads YAML with `yaml.safe_load` semantics while keeping the line and column of every node.

The result is plain Python data plus a `Positions` table from key paths to (line, col), so
every later phase can say `file:line:col` for any value it complains about.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from engine.errors import ConfigError, Problem

KeyPath = tuple[str | int, ...]
_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
# Bounds on what a mapping file may expand to: YAML aliases can make a few lines into billions
# of values (an "alias bomb"), and a mapping never needs anything near these.
MAX_VALUES = 200_000
MAX_DEPTH = 64
MAX_BYTES = 8 * 1024 * 1024


class _TooLarge(Exception):
    """The document expands past a bound; the message says which."""


def dotted(path: KeyPath) -> str:
    """('entities', 'orders', 'map', 'line_items', 0) -> 'entities.orders.map.line_items[0]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Positions:
    """Where each value of a loaded document stands in its file (1-based line and column)."""

    file: str
    marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: KeyPath) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: KeyPath, message: str) -> Problem:
        line, col = self.at(path)
        return Problem(self.file, line, col, dotted(path), message)


class _Builder:
    """Turns a composed node tree into Python values, recording positions on the way."""

    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []
        self._explicit: set[KeyPath] = set()  # keys written out, not merged in with <<
        self.values = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooLarge(
                f"the mapping expands to more than {MAX_VALUES:,} values "
                "(YAML aliases repeating each other?)"
            )
        if len(path) > MAX_DEPTH:
            raise _TooLarge(f"the mapping nests deeper than {MAX_DEPTH} levels")
        self.positions.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN:
            self._error(node, path, f"unsupported YAML tag {node.tag!r}: mappings are plain data")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        self.constructor.flatten_mapping(node)  # resolves YAML merge keys (<<), placed first
        merged = len(node.value) - explicit
        out: dict[Any, Any] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                self._error(key_node, path, "a mapping key must be a plain scalar")
                continue
            child: KeyPath = (*path, key if isinstance(key, str) else str(key))
            if key in out and index >= merged and child in self._explicit:
                self._error(key_node, child, f"duplicate key {key!r}")
                continue
            if index >= merged:
                self._explicit.add(child)
            out[key] = self.build(value_node, child)
            if not isinstance(value_node, yaml.ScalarNode):
                # A block collection "starts" at its first child: point at its key instead.
                mark = key_node.start_mark
                self.positions.marks[child] = (mark.line + 1, mark.column + 1)
        return out

    def _error(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        self.problems.append(Problem(self.positions.file, line, col, dotted(path), message))


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document; ConfigError with position on a syntax error or duplicate key."""
    positions = Positions(file)
    if len(text) > MAX_BYTES:
        raise _config_error(file, f"the mapping is larger than {MAX_BYTES // 2**20} MiB")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise _config_error(file, "YAML nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = Problem(file, line, col, "", f"YAML syntax error: {exc.problem}")
        raise ConfigError(str(problem), [problem]) from None
    except yaml.YAMLError as exc:
        problem = Problem(file, 1, 1, "", f"YAML error: {exc}")
        raise ConfigError(str(problem), [problem]) from None
    if node is None:
        return None, positions
    builder = _Builder(positions)
    try:
        data = builder.build(node, ())
    except ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        builder.problems.append(Problem(file, line, col, "", f"YAML error: {exc.problem}"))
        data = None
    except _TooLarge as exc:
        raise _config_error(file, str(exc)) from None
    if builder.problems:
        raise ConfigError(str(builder.problems[0]), builder.problems)
    return data, positions


def _config_error(file: str, message: str, line: int = 1, col: int = 1) -> ConfigError:
    problem = Problem(file, line, col, "", message)
    return ConfigError(str(problem), [problem])


def load_yaml_file(path: Path) -> tuple[Any, Positions]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _config_error(str(path), f"cannot read the mapping: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"the mapping is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        raise _config_error(str(path), message, line, col) from None
    return load_yaml(text, str(path))


def walk(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every (path, scalar) in a loaded document, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, str(key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, (*path, i))
    else:
        yield path, value
