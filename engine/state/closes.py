"""Returns that loop-etl closed without processing (`etl returns close`, a rule, a return
action): their `return.closed` must run no outcome, and Loop's payload does not say why a
return was closed (loop-api.md §3.3).

Kept in a small append-only text file beside the state file, not in DuckDB, so that a command
can record a close while `etl serve` holds the state file open; one return id per line, each
append synced before the close is sent.
"""

from __future__ import annotations

import os
from pathlib import Path


def closes_path(state_path: Path | str) -> Path:
    """`.etl/shop.duckdb` -> `.etl/shop.closes`."""
    return Path(state_path).with_suffix(".closes")


class ManualCloses:
    """The file of returns closed by hand."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def add(self, return_id: str) -> None:
        if not return_id.isdigit():
            raise ValueError(f"a Loop return id is digits, not {return_id!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="ascii") as handle:
            handle.write(return_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def __contains__(self, return_id: object) -> bool:
        if not isinstance(return_id, str) or not self.path.exists():
            return False
        with self.path.open(encoding="ascii", errors="replace") as handle:
            return any(line.strip() == return_id for line in handle)


def record_close(state_path: str, return_id: str) -> None:
    """Record that loop-etl closes this return without processing it, beside the state file
    at `state_path` (nothing for an in-memory state)."""
    if state_path != ":memory:":
        ManualCloses(closes_path(state_path)).add(return_id)


def was_closed(state_path: str, return_id: str) -> bool:
    return state_path != ":memory:" and return_id in ManualCloses(closes_path(state_path))
