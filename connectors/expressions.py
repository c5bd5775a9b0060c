"""JMESPath in a connector's settings (files `group`, `where`, `join`; http `records`,
`include.when`, `count.value`): compiled once, evaluated with the mapping's functions when the
engine hands them over (`Connector.functions`), and failing as an ExtractError that names the
key, never as a traceback. A plain field name (`document_number`, the common case) is read
with `dict.get`, which is what JMESPath would do, at a fraction of its cost."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from engine.errors import ConfigError, ExtractError


@lru_cache(maxsize=512)
def _parsed(text: str) -> ParsedResult:
    return jmespath.compile(text)


class Expression:
    """One setting's expression: `at` is its key (`join[0].match`), for messages."""

    __slots__ = ("at", "field", "options", "parsed", "text")

    def __init__(self, text: str, at: str, options: jmespath.Options | None = None) -> None:
        try:
            self.parsed = _parsed(text)
        except JMESPathError:
            raise ConfigError(f"{at}: {syntax_problem(text)}") from None
        self.text, self.at, self.options = text, at, options
        node = self.parsed.parsed
        self.field: str | None = str(node["value"]) if node.get("type") == "field" else None

    def search(self, value: Any) -> Any:
        if self.field is not None:
            return value.get(self.field) if isinstance(value, dict) else None
        try:
            return self.parsed.search(value, options=self.options)
        except RecursionError:
            raise ExtractError(f"{self.at}: {self.text!r}: nested too deeply") from None
        except ExtractError:
            raise
        except Exception as exc:  # a function refusing the value (JMESPath's or the mapping's)
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise ExtractError(f"{self.at}: {self.text!r}: {detail}") from None


def truthy(value: Any) -> bool:
    """JMESPath's truth: false, null, "", [] and {} are false; everything else (0 too) true."""
    return not (value is None or value is False or value in ("", [], {}))


def syntax_problem(text: str) -> str | None:
    """Why an expression does not compile, or None."""
    try:
        _parsed(text)
    except JMESPathError as exc:
        return f"invalid JMESPath {text!r}: {' '.join(str(exc).split())}"
    return None


def function_names(text: str) -> list[str]:
    """The functions an expression calls (none when it does not compile: its syntax error is
    reported where it is compiled)."""
    try:
        pending: list[Any] = [_parsed(text).parsed]
    except JMESPathError:
        return []
    found: list[str] = []
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "function_expression":
                found.append(str(node["value"]))
            pending += node.get("children", [])
        elif isinstance(node, list):
            pending += node
    return found
