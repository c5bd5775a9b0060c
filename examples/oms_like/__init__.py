"""oms-like: a generated SQLite database of an order management system (see `generate`)."""

from __future__ import annotations

from examples.oms_like.generate import STATUSES, TABLES, generate_oms_db

__all__ = ["STATUSES", "TABLES", "generate_oms_db"]
