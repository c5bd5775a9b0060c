"""A stop asked by a signal (SIGTERM), remembered: DuckDB turns the exception that a signal
handler raises in the middle of a query into RuntimeError('Query interrupted'), and such a run
must still end as interrupted (exit 143, run status 'interrupted'), not as a failure."""

from __future__ import annotations

_asked: list[int] = []


def ask(signum: int) -> None:
    """Remember that the process was asked to stop by `signum`."""
    _asked.append(signum)


def asked() -> int | None:
    """The signal that asked the process to stop, if one did."""
    return _asked[-1] if _asked else None


def forget() -> None:
    _asked.clear()
