"""The demo platforms the mappings run against by default, so nothing needs anyone's account.

- shopify-like: a local HTTP server in the shape of Shopify's REST Admin API
  (`examples.shopify_like.running_shopify_like`, `etl demo shopify-like`).
- erp-like: generated CSV exports of an ERP (`examples.erp_like.generate_erp_csv`).
- oms-like: a generated SQLite database of an OMS (`examples.oms_like.generate_oms_db`).

All three describe the same deterministic shop for a given (orders, seed). The engine imports
nothing from here: it finds `etl demo` (`loop_etl.commands`) and each demo that `embedded`
starts (`loop_etl.demos`, `examples.embedded`) through the entry points in pyproject.toml.
"""

from __future__ import annotations

from examples.embedded import DEMOS, start_embedded

__all__ = ["DEMOS", "start_embedded"]
