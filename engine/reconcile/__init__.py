"""`etl reconcile`: the platform, the ID map and Loop compared entity by entity; --fix repairs.

reconcile(compiled, options, state_path) -> ReconcileReport   (reconciler.py)
differences(payload, stored)                                  (compare.py)
"""

from __future__ import annotations

from engine.reconcile.compare import EntityReport, ReconcileReport, differences
from engine.reconcile.reconciler import ReconcileOptions, Reconciler, reconcile

__all__ = [
    "EntityReport",
    "ReconcileOptions",
    "ReconcileReport",
    "Reconciler",
    "differences",
    "reconcile",
]
