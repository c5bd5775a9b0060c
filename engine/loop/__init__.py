"""The Loop API client the pipeline loads through: one shared request budget per Loop URL + API
key, retries with backoff and Retry-After, Loop's own error text on permanent failures.

    LoopClient(base_url, api_key, ...)      request / upsert / upsert_variant / put_inventory /
                                            get / get_by_external_id / delete / list_all /
                                            map_concurrent
    RequestBudget(rate, burst)              acquire / penalise / stats
    budget_for(base_url, api_key, rate)     the process-wide shared budget of a key
"""

from __future__ import annotations

from engine.loop.budget import BudgetStats, RequestBudget, budget_for, parse_rate
from engine.loop.client import LoopClient
from engine.loop.concurrent import map_concurrent
from engine.loop.kinds import KINDS, Kind
from engine.loop.retry import ClientStats, RetryPolicy, loop_error_text, parse_retry_after

__all__ = [
    "KINDS",
    "BudgetStats",
    "ClientStats",
    "Kind",
    "LoopClient",
    "RequestBudget",
    "RetryPolicy",
    "budget_for",
    "loop_error_text",
    "map_concurrent",
    "parse_rate",
    "parse_retry_after",
]
