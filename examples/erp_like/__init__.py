"""erp-like: generated CSV exports of an ERP (see `generate` for the files and their columns),
and the import files it applies (`formats`, `apply`)."""

from __future__ import annotations

from examples.erp_like.apply import ApplyReport, apply_imports, watch_imports
from examples.erp_like.formats import FORMATS
from examples.erp_like.generate import FILES, STATUS_CODES, generate_erp_csv

__all__ = [
    "FILES",
    "FORMATS",
    "STATUS_CODES",
    "ApplyReport",
    "apply_imports",
    "generate_erp_csv",
    "watch_imports",
]
