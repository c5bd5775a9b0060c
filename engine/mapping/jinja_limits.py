"""Bounds on what one template may compute: text and list sizes, numbers, loop steps.

Jinja's sandbox stops templates from reaching Python internals but not from exhausting the
process: `{{ 10 ** (10 ** 10) }}` hangs (and Jinja folds it at compile time), `'x' ~ 'x'`
doubled in a loop or `'{:999999999}'.format(1)` takes gigabytes, nested loops run for ever.
A mapping runs on records from outside for weeks, so every such path is bounded here; going
past a bound raises SecurityError, which makes the record's field an issue (the record is
quarantined with the reason) or, for constants, a mapping error at `etl check`.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import re
import string
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError

MAX_TEXT = 1_000_000
"""Longest text a template may build or output (characters)."""
MAX_REPEAT = 100_000
"""Longest text or list that `*` may build (the sandbox's own range limit)."""
MAX_INT_BITS = 100_000
"""Largest integer `**` may build (about 30,000 digits)."""
MAX_WIDTH = 10_000
"""Widest field a format (`%10s`, `{:>10}`) or padding (`center`, `ljust`, ...) may ask for."""
MAX_STEPS = 100_000
"""Loop iterations one rendering may take, all loops together."""

_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_WIDTH_ARGS = {"center": 0, "ljust": 0, "rjust": 0, "zfill": 0, "expandtabs": 0}
_steps: contextvars.ContextVar[list[int]] = contextvars.ContextVar("jinja_steps")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `*` repetition, `**` and `%` formatting whose result would be too large."""
    if operator == "+" and _is_sequence(left) and _is_sequence(right):
        if len(left) + len(right) > MAX_TEXT:
            raise SecurityError(f"'+' would build more than {MAX_TEXT} items")
    elif operator == "*" and (_is_sequence(left) or _is_sequence(right)):
        sequence, count = (left, right) if _is_sequence(left) else (right, left)
        if isinstance(count, int) and len(sequence) * count > MAX_REPEAT:
            raise SecurityError(f"'*' would build more than {MAX_REPEAT} items")
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
        if abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
            raise SecurityError(f"'**' would build a number of more than {MAX_INT_BITS} bits")
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left)


def check_percent_format(text: str) -> None:
    for match in _PERCENT_WIDTH.finditer(text):
        for group in match.groups():
            if group == "*" or (group and int(group) > MAX_WIDTH):
                raise SecurityError(f"a format field wider than {MAX_WIDTH} in {text[:40]!r}")


def check_brace_format(text: str) -> None:
    """Widths and precisions in a str.format() pattern ('{:>999999999}')."""
    try:
        fields = [spec for _, _, spec, _ in string.Formatter().parse(text) if spec]
    except ValueError:
        return  # str.format raises its own error for a broken pattern
    for spec in fields:
        if any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec)):
            raise SecurityError(f"a format field wider than {MAX_WIDTH} in {text[:40]!r}")


def check_call(obj: Any, args: tuple[Any, ...]) -> None:
    """Padding methods of text ('x'.center(10**9)) with a width past the bound."""
    name = getattr(obj, "__name__", "")
    if isinstance(getattr(obj, "__self__", None), str) and name in _WIDTH_ARGS:
        width = args[_WIDTH_ARGS[name]] if args else None
        if isinstance(width, int) and width > MAX_WIDTH:
            raise SecurityError(f"{name}() wider than {MAX_WIDTH}")


def bounded_join(parts: Iterable[Any]) -> str:
    """`a ~ b`: the texts joined, refused past MAX_TEXT characters."""
    texts = [str(part) for part in parts]
    if sum(map(len, texts)) > MAX_TEXT:
        raise SecurityError(f"'~' would build text of more than {MAX_TEXT} characters")
    return "".join(texts)


def start_rendering() -> contextvars.Token[list[int]]:
    """A fresh loop-step budget for one rendering (reset with the token when it ends)."""
    return _steps.set([MAX_STEPS])


def bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """A template loop's items, each one counted against the rendering's step budget."""
    budget = _steps.get(None)
    for item in iterable:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"the template's loops took more than {MAX_STEPS} steps")
        yield item


def guard_tree(tree: nodes.Template) -> None:
    """Count every loop's steps, and check constant `**`, `*` and `%` now (at `etl check`)
    rather than at the first record: Jinja would otherwise fold them at compile time."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(
            nodes.Name("_bounded_iter", "load"), [loop.iter], [], None, None, lineno=loop.lineno
        )
    for node in tree.find_all(nodes.BinExpr):
        with contextlib.suppress(nodes.Impossible):
            _const(node)


_FOLDED: dict[type[nodes.BinExpr], tuple[str, Callable[[Any, Any], Any]]] = {
    nodes.Add: ("+", operator.add),
    nodes.Sub: ("-", operator.sub),
    nodes.Mul: ("*", operator.mul),
    nodes.Div: ("/", operator.truediv),
    nodes.FloorDiv: ("//", operator.floordiv),
    nodes.Mod: ("%", operator.mod),
    nodes.Pow: ("**", operator.pow),
}


def _const(node: nodes.Node) -> Any:
    """The value of a constant arithmetic expression, every step checked (Impossible when
    it is not constant, or fails the way it would at render time)."""
    if isinstance(node, nodes.Const):
        return node.value
    if not isinstance(node, nodes.BinExpr) or type(node) not in _FOLDED:
        raise nodes.Impossible()
    spec = _FOLDED[type(node)]
    left, right = _const(node.left), _const(node.right)
    check_binop(spec[0], left, right)
    try:
        return spec[1](left, right)
    except Exception:
        raise nodes.Impossible() from None


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
