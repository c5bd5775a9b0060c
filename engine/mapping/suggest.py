"""'Did you mean' for names: the closest known name, when one is close."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'cents'?)' when a known name is close, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    names = sorted(set(known))
    return f"unknown {what} {name!r}{did_you_mean(name, names)} (known: {', '.join(names)})"
