"""erp-like: generated CSV exports of an ERP (see `generate` for the files and their columns)."""

from __future__ import annotations

from examples.erp_like.generate import FILES, STATUS_CODES, generate_erp_csv

__all__ = ["FILES", "STATUS_CODES", "generate_erp_csv"]
