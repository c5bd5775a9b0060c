"""Bucket IV: a processed return's outcomes executed in the platform exactly once, then Loop
brought up to date (context.py: what the event says, for the platform; steps.py: one step in
the platform; execute.py: the outbox-driven executor)."""

from engine.outcomes.execute import Executor, OutcomeDeferred, OutcomeResult
from engine.outcomes.steps import Platform

__all__ = ["Executor", "OutcomeDeferred", "OutcomeResult", "Platform"]
