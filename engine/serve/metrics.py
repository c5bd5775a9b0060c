"""`etl serve`'s Prometheus metrics: webhook intake, settled inbox events, and the inbox itself.

prometheus-client writes the exposition format (and keeps the counters thread-safe) rather than
hand-written text; each app has its own registry, so two receivers in one process (the tests)
never share counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from engine.state import State
from engine.state.inbox import FAILED, PROCESSED, STATUSES, UNPROCESSABLE

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"  # a bad or missing signature, or a body over the size limit
ERROR = "error"  # signed, but it could not be stored: answered 503 so that Loop retries
RESULTS = (ACCEPTED, DUPLICATE, REJECTED, ERROR)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Intake answers in about a millisecond; the upper buckets catch a stalled state file.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SYNC_RECORDS_HELP = (
    "Records synced into Loop by the scheduled sync and platform webhooks, by entity and "
    "result (created, updated, unchanged, quarantined, held)."
)
OUTCOME_STEPS_HELP = (
    "Outcome steps run in the platform (bucket IV), by outcome and result (confirmed, "
    "failed, deferred: its result unknown, tried again later)."
)


class Metrics:
    """The counters of one receiver, on a registry of their own."""

    def __init__(self, state: State | None = None) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = self._counter(
            "etl_loop_webhooks", "Loop webhook deliveries received, by result.", ("result",)
        )
        self.events = self._counter(
            "etl_inbox_events",
            "Inbox events settled by processing (or unreadable on arrival), by status.",
            ("status",),
        )
        self.latency = Histogram(
            "etl_loop_webhook_seconds",
            "Seconds from a delivery's arrival to its answer.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.platform_webhooks = self._counter(
            "etl_platform_webhooks",
            "Platform change webhooks received, by entity and HTTP status answered.",
            ("entity", "status"),
        )
        self.return_actions = self._counter(
            "etl_return_actions",
            "Actions on Loop returns (rules and return_actions), by action and result.",
            ("action", "result"),
        )
        self.sync_records = self._counter(
            "etl_sync_records", SYNC_RECORDS_HELP, ("entity", "result")
        )
        self.outcome_steps = self._counter(
            "etl_outcome_steps", OUTCOME_STEPS_HELP, ("outcome", "result")
        )
        for result in RESULTS:  # every series exists from the start, at 0
            self.webhooks.labels(result=result)
        for status in (PROCESSED, FAILED, UNPROCESSABLE):
            self.events.labels(status=status)
        if state is not None:
            self.registry.register(InboxCollector(state))

    def _counter(self, name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def step(self, outcome: str, result: str) -> None:
        """An outcome step confirmed, failed, or deferred (its result unknown: tried later)."""
        self.outcome_steps.labels(outcome=outcome, result=result).inc()

    def delivery(self, result: str, seconds: float) -> None:
        self.webhooks.labels(result=result).inc()
        self.latency.observe(seconds)

    def platform(self, entity: str, status: int) -> None:
        self.platform_webhooks.labels(entity=entity, status=str(status)).inc()

    def action(self, action: str, result: str) -> None:
        self.return_actions.labels(action=action, result=result).inc()

    def synced(self, entity: str, counts: dict[str, int]) -> None:
        for result, count in counts.items():
            if count:
                self.sync_records.labels(entity=entity, result=result).inc(count)

    def watch_loop(self, stats: Callable[[], Any]) -> None:
        """Report the Loop client's request counters (`stats()`: a SendStats snapshot)."""
        self.registry.register(LoopRequestsCollector(stats))

    def settled(self, status: str, count: int = 1) -> None:
        self.events.labels(status=status).inc(count)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (reads the inbox: call off the loop)."""
        return generate_latest(self.registry)


class InboxCollector(Collector):
    """What the inbox holds at scrape time, read from the state file."""

    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        try:
            counts = self.state.inbox_counts()
            last = self.state.inbox_last_received()
        except Exception:  # the counters above still matter most when the state fails
            yield GaugeMetricFamily(
                "etl_inbox_readable", "Whether the inbox could be read.", value=0
            )
            return
        yield GaugeMetricFamily("etl_inbox_readable", "Whether the inbox could be read.", value=1)
        stored = GaugeMetricFamily(
            "etl_inbox_stored", "Events in the inbox, by status.", labels=["status"]
        )
        for status in STATUSES:
            stored.add_metric([status], counts[status])
        yield stored
        yield GaugeMetricFamily(
            "etl_inbox_last_received_timestamp_seconds",
            "When the last delivery arrived (Unix time; 0 when none has).",
            value=last.timestamp() if last is not None else 0.0,
        )


class LoopRequestsCollector(Collector):
    """The Loop client's requests since the process started, by what came back."""

    def __init__(self, stats: Callable[[], Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        snapshot = self.stats()
        family = CounterMetricFamily(
            "etl_loop_requests",
            "Requests sent to Loop, by outcome (ok, rate_limited: 429, retried, failed).",
            labels=["status"],
        )
        family.add_metric(["ok"], snapshot.ok)
        family.add_metric(["rate_limited"], snapshot.rate_limited)
        family.add_metric(["retried"], snapshot.retries)
        family.add_metric(["failed"], snapshot.transient_failures + snapshot.permanent_failures)
        yield family
