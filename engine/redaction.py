"""Values that came from the environment, kept out of every message the engine prints or stores.

A mapping's `${VAR}` may carry a password, a token or a private host name; an error that quotes
the value (a SQL error quoting its query, a schema error quoting a bad `auth.type`, a JMESPath
syntax error, a bad time zone or state path) or a reason stored in the state would leak it.
The mapping loader remembers every value it took from the environment (but the locations the
run summary names on purpose: Loop's and the source's URL, stripped of any credentials); the
CLI's error handler and the state's writes of reasons and summaries scrub them to `***`.
Short values (under 4 characters) and plain numbers are left alone: they say nothing and would
garble every message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

MASK = "***"
MIN_LENGTH = 4

_values: set[str] = set()
_lock = threading.Lock()


def remember(values: Iterable[str]) -> None:
    """Values to scrub from now on (for the life of the process)."""
    kept = {v for v in values if len(v) >= MIN_LENGTH and not _is_number(v)}
    if kept:
        with _lock:
            _values.update(kept)


def scrub(text: str) -> str:
    """The text with every remembered value replaced by ***, longest first."""
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def forget_all() -> None:
    """For tests: start from nothing remembered."""
    with _lock:
        _values.clear()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
