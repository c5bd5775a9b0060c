"""The outbound HTTP toolkit shared by the Loop client and the source connectors: one request
budget, one retry policy, one way to authenticate, redact and send.

    Sender(client, budget=, retry=, redact=)   request / get / post / put -> httpx.Response,
                                               RequestFailed for good; stats
    RequestBudget(rate, burst)                 acquire / slot / penalise / stats
    budget_for(base_url, api_key, rate)        the process-wide shared budget of a key
    parse_rate("120/min")                      Rate(limit, window); 0 = unlimited
    RetryPolicy(max_retries, backoff_s, ...)   full-jitter backoff, Retry-After capped
    Breaker(window_s)                          TargetDown once a target is down that long
    build_auth(cfg, redact)                    header, bearer, basic, query, OAuth2
    Redactor, SecretLogFilter, shown_url       secrets out of messages and logs
"""

from __future__ import annotations

from engine.net.auth import SecretAuth, build_auth
from engine.net.breaker import Breaker, TargetDown
from engine.net.budget import BudgetStats, Rate, RequestBudget, budget_for, parse_rate
from engine.net.errors import RequestFailed
from engine.net.redact import Redactor, SecretLogFilter, excerpt, shown_url
from engine.net.retry import RetryPolicy, parse_retry_after
from engine.net.sender import Sender, SendStats, describe_answer, parsed_body

__all__ = [
    "Breaker",
    "BudgetStats",
    "Rate",
    "Redactor",
    "RequestBudget",
    "RequestFailed",
    "RetryPolicy",
    "SecretAuth",
    "SecretLogFilter",
    "SendStats",
    "Sender",
    "TargetDown",
    "budget_for",
    "build_auth",
    "describe_answer",
    "excerpt",
    "parse_rate",
    "parse_retry_after",
    "parsed_body",
    "shown_url",
]
