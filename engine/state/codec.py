"""How the state stores values: JSON as compact text, times as aware UTC datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def dumps_or_null(value: Any) -> str | None:
    """None stays SQL NULL rather than the JSON text 'null'."""
    return None if value is None else dumps(value)


def loads_or_none(text: str | None) -> Any:
    return json.loads(text) if text else None
