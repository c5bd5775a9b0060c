"""Reconcile's two sides: Loop's records listed through its API, and the field comparison of a
mapped payload with what Loop stores, plus the report they fill."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.mapping.runtime import LookupRef

MAX_FIELDS = 5  # differing fields explained per drifted record
SHOWN = 60  # characters of a value shown in an explanation
MAX_PAIRS = 100_000  # list items compared pairwise to name what a shorter list lacks

Body = dict[str, Any]


@dataclass
class EntityReport:
    """One entity's reconciliation: what differs, and (with --fix) what was repaired.

    Categories are disjoint: a record missing from Loop is `missing` even when its ID map row
    points at nothing (pushing it repairs that row); `stale_id_map` holds the other bad rows.
    """

    entity: str
    kind: str
    platform: int = 0  # records the platform has (mapped, or not mappable)
    loop: int = 0  # records of the kind Loop lists
    id_map: int = 0  # rows in the ID map
    matching: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    # extra records the mapping says Loop is expected to have (reconcile.expected_extras):
    # listed, never counted as differences
    expected_extra: list[str] = field(default_factory=list)
    drifted: dict[str, list[str]] = field(default_factory=dict)  # key -> differing fields
    stale_id_map: dict[str, str] = field(default_factory=dict)  # key -> what is wrong
    unmappable: dict[str, list[str]] = field(default_factory=dict)  # key -> reasons
    fixed: dict[str, list[str]] = field(default_factory=dict)  # category -> keys repaired
    failed: dict[str, list[str]] = field(default_factory=dict)  # key -> why --fix could not
    skipped: str | None = None  # why the entity was not compared at all
    # records outside the entity's `window:` that Loop lacks and never had: not differences
    outside_window: int = 0
    # records of a `send: referenced` entity that Loop lacks and never had: kept until an
    # order (say) looks them up, not differences
    deferred: int = 0

    @property
    def found(self) -> int:
        """Differences found (extra records included: they are reported, never deleted)."""
        return (
            len(self.missing)
            + len(self.extra)
            + len(self.drifted)
            + len(self.stale_id_map)
            + len(self.unmappable)
        )

    @property
    def remaining(self) -> int:
        """Differences still there: found minus what --fix repaired."""
        return self.found - sum(len(keys) for keys in self.fixed.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "kind": self.kind,
            "skipped": self.skipped,
            "platform": self.platform,
            "loop": self.loop,
            "id_map": self.id_map,
            "matching": self.matching,
            "found": self.found,
            "remaining": self.remaining,
            "missing": self.missing,
            "extra": self.extra,
            "expected_extra": self.expected_extra,
            "outside_window": self.outside_window,
            "deferred": self.deferred,
            "drifted": self.drifted,
            "stale_id_map": self.stale_id_map,
            "unmappable": self.unmappable,
            "fixed": self.fixed,
            "failed": self.failed,
        }


@dataclass
class ReconcileReport:
    entities: list[EntityReport] = field(default_factory=list)
    fix: bool = False
    run_id: int | None = None

    @property
    def remaining(self) -> int:
        return sum(e.remaining for e in self.entities)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fix": self.fix,
            "run_id": self.run_id,
            "found": sum(e.found for e in self.entities),
            "remaining": self.remaining,
            "entities": {e.entity: e.as_dict() for e in self.entities},
        }


# --- Loop's side ----------------------------------------------------------------------------


def by_external_id(records: Iterator[Body]) -> dict[str, Body]:
    """Loop's records keyed by external_id; one without is keyed `id:<Loop id>` (never ours)."""
    out: dict[str, Body] = {}
    for record in records:
        external = record.get("external_id")
        out[f"id:{record.get('id')}" if external is None else str(external)] = record
    return out


def one(value: Any) -> Body:
    """An inventory's variant or location: an object, or (as Loop's docs show) a list of one."""
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def inventory_pair(body: Body) -> tuple[int, int] | None:
    """(variant Loop id, location Loop id) of an inventory as Loop lists it."""
    variant, location = one(body.get("product_variant")), one(body.get("location"))
    if variant.get("id") is None or location.get("id") is None:
        return None
    return int(variant["id"]), int(location["id"])


def inventory_label(body: Body) -> str:
    """An inventory Loop has and the platform does not: named by its external ids."""
    variant, location = one(body.get("product_variant")), one(body.get("location"))
    return (
        f"{variant.get('external_id') or variant.get('id')}"
        f"@{location.get('external_id') or location.get('id')}"
    )


# --- the comparison -------------------------------------------------------------------------


def differences(mapped: Any, stored: Any, path: str = "") -> list[str]:
    """What differs between a payload the mapping makes and Loop's stored record.

    Only what the payload says is compared, and only where Loop echoes it: fields Loop adds
    (ids, summaries of referenced records, defaults) are ignored. Loop's normalisations are
    forgiven: a channel name comes back as {id, name}, null as [] or absent, a datetime in
    another offset, a number as a string. References to the order's own lines (known only from
    Loop's answer) are not compared.
    """
    if isinstance(mapped, LookupRef):
        return []
    if isinstance(mapped, dict):
        if not isinstance(stored, dict):
            empty = _empty(stored) and not _has_values(mapped)
            return [] if empty else [_explain(path, stored, mapped)]
        return [
            d
            for key, value in mapped.items()
            if key in stored
            for d in differences(value, stored[key], f"{path}.{key}" if path else key)
        ]
    if isinstance(mapped, list) and isinstance(stored, list):
        if len(mapped) != len(stored):
            return [_explain_lengths(path, mapped, stored)]
        return [
            d
            for i, (m, s) in enumerate(zip(mapped, stored, strict=True))
            for d in differences(m, s, f"{path}[{i}]")
        ]
    return [] if same(mapped, stored) else [_explain(path, stored, mapped)]


def same(mapped: Any, stored: Any) -> bool:
    """Scalar equality, Loop's normalisations forgiven."""
    if _empty(mapped) or _empty(stored):
        return _empty(mapped) and _empty(stored)
    if isinstance(mapped, str) and isinstance(stored, dict) and "name" in stored:
        return bool(mapped == stored["name"])  # channel: a name in, {id, name} out
    if isinstance(mapped, bool) or isinstance(stored, bool):
        return mapped is stored
    if mapped == stored:
        return True
    if isinstance(mapped, int | float | str) and isinstance(stored, int | float | str):
        if str(mapped) == str(stored):
            return True
        number = _number(mapped)
        if number is not None and number == _number(stored):
            return True
        moment = _moment(mapped)
        return moment is not None and moment == _moment(stored)
    return False


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _has_values(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_values(v) for v in value.values())
    return not _empty(value)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 19 or value[4] != "-":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _explain(path: str, stored: Any, mapped: Any) -> str:
    return f"{path or '.'}: Loop has {_short(stored)}, the mapping makes {_short(mapped)}"


def _explain_lengths(path: str, mapped: list[Any], stored: list[Any]) -> str:
    """A list of another length: which mapped items Loop has no match for (the first two)."""
    text = f"{path or '.'}: {len(stored)} item(s) in Loop, the mapping makes {len(mapped)}"
    if len(mapped) * len(stored) > MAX_PAIRS:
        return text
    lacking = [m for m in mapped if all(differences(m, s) for s in stored)]
    if lacking:
        text += f"; not in Loop: {', '.join(_short(m) for m in lacking[:2])}"
        text += f" (+{len(lacking) - 2} more)" if len(lacking) > 2 else ""
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
