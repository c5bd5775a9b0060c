"""`etl serve`: the one long-running process that owns a mapping's state file.

It runs the receiver app (app.py: Loop's signed webhooks into the spool, /healthz, /metrics)
and, beside it, the background jobs of `ServeProcess.jobs`: the spool mover (intake.py, which
moves spooled deliveries into the inbox) and the inbox worker (worker.py);
scheduled work (a first sync, a schedule) joins that list. With the embedded sandbox as its
Loop it subscribes itself to the sandbox's return events.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Mapping as EnvMapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.applications import Starlette

from engine import redaction
from engine.errors import ConfigError
from engine.loop.api import LoopAPI
from engine.loop.subscriptions import Subscription, Subscriptions
from engine.mapping.model import Target
from engine.mapping.rules import CompiledRule
from engine.outcomes import Executor
from engine.rules import ReturnActions, apply_rules
from engine.serve.app import RECEIVER_PATH, ReceiverSettings, build_app
from engine.serve.intake import LINGER_S, Mover
from engine.serve.metrics import Metrics
from engine.serve.platform import PlatformWebhooks
from engine.serve.server import BackgroundJob, listen, run_server, running_server
from engine.serve.worker import Worker, process
from engine.state import InboxEvent, Settlement, State
from engine.state.inbox import PROCESSED, parse

__all__ = [
    "RETURN_TRIGGERS",
    "SANDBOX_WEBHOOK_SECRET",
    "BackgroundJob",
    "ReceiverSettings",
    "ServeProcess",
    "build_process",
    "listen",
    "receiver_url",
    "run_server",
    "running_server",
    "subscribe",
    "webhook_secrets",
]

SECRET_ENV = "LOOP_WEBHOOK_SECRET"
PREVIOUS_SECRET_ENV = "LOOP_WEBHOOK_SECRET_PREVIOUS"
# What the embedded sandbox signs with (its SandboxConfig default, as `embedded` starts it).
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"
RETURN_TRIGGERS = ("return.created", "return.updated", "return.closed")


def webhook_secrets(
    target: Target, *, embedded: bool, env: EnvMapping[str, str] | None = None
) -> tuple[str, ...]:
    """The secrets a delivery may be signed with: LOOP_WEBHOOK_SECRET, else the mapping's
    `target.webhook_secret`; LOOP_WEBHOOK_SECRET_PREVIOUS too while a rotation lasts; and,
    when Loop is the embedded sandbox, the secret the sandbox signs with. ConfigError when
    there is none (a receiver that verifies nothing must not start)."""
    env = os.environ if env is None else env
    current = env.get(SECRET_ENV) or target.webhook_secret
    found = [s for s in (current, env.get(PREVIOUS_SECRET_ENV)) if s]
    redaction.remember(found)  # never echoed, wherever an error might quote one
    if embedded:
        found.append(SANDBOX_WEBHOOK_SECRET)
    if not found:
        raise ConfigError(
            f"etl serve needs the secret Loop signs webhooks with: set {SECRET_ENV} (or "
            "`target.webhook_secret` in the mapping); Loop shows it under Developer Tools"
        )
    return tuple(dict.fromkeys(found))


@dataclass
class ServeProcess:
    """What `etl serve` runs: the app, and the jobs started before it serves and stopped after
    (append scheduled work to `jobs`; /healthz reports each one)."""

    app: Starlette
    metrics: Metrics
    worker: Worker | None
    jobs: list[BackgroundJob] = field(default_factory=list)
    platform: PlatformWebhooks | None = None


def build_process(
    state: State,
    settings: ReceiverSettings,
    *,
    process_events: bool = True,
    rules: tuple[CompiledRule, ...] = (),
    actions: ReturnActions | None = None,
    platform: PlatformWebhooks | None = None,
    outcomes: Callable[[Metrics], Executor | None] = lambda metrics: None,
    linger_s: float = LINGER_S,
) -> ServeProcess:
    """The receiver over `state`, with the spool mover (which waits `linger_s` for deliveries
    to gather) and the inbox worker unless `process_events` is False (then events are only
    stored, for a later process to handle); the mapping's `rules` act on the events it
    processes through `actions` (Loop's return actions), and `outcomes` builds the executor of
    its outcomes (given the metrics it counts steps in)."""
    metrics = Metrics(state)
    executor = outcomes(metrics)
    processor = with_rules(rules, actions, state, metrics, executor)
    worker = Worker(state, metrics, processor=processor) if process_events else None
    mover = Mover(state, worker.wake if worker is not None else lambda: None, linger_s=linger_s)
    jobs: list[BackgroundJob] = [mover] if worker is None else [mover, worker]
    app = build_app(
        state,
        settings,
        metrics,
        on_received=mover.wake,
        jobs=jobs,  # the same list: jobs appended later are reported too
        platform=platform,
    )
    return ServeProcess(app, metrics, worker, jobs, platform)


def with_rules(
    rules: tuple[CompiledRule, ...],
    actions: ReturnActions | None,
    state: State,
    metrics: Metrics | None = None,
    executor: Executor | None = None,
) -> Callable[[InboxEvent], Settlement]:
    """Processing, then the mapping's rules on each event it processed (once per return and
    rule; a rule Loop cannot take now makes the event fail, to be tried again), then its
    outcomes (once per return and outcome; a step to try again later fails the event too)."""
    if not (rules and actions is not None) and executor is None:
        return process

    def processor(event: InboxEvent) -> Settlement:
        settled = process(event)
        if settled.status == PROCESSED:
            body, _ = parse(event.body)
            if body is not None and rules and actions is not None:
                for firing in apply_rules(rules, body, actions, state):
                    if metrics is not None:
                        for action in firing.actions or ["rule"]:
                            metrics.action(action, firing.status)
            if body is not None and executor is not None:
                executor.on_event(body, event.key)
        return settled

    return processor


def receiver_url(host: str, port: int) -> str:
    """Where this machine reaches the receiver (a wildcard address becomes loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def subscribe(
    loop: LoopAPI, url: str, topic: str = "return", triggers: tuple[str, ...] = RETURN_TRIGGERS
) -> list[Subscription]:
    """Active subscriptions of `url` to `topic` with each trigger (created `active`, since
    Loop's default is inactive). One that exists is kept (made active), and one of an earlier
    receiver on the same host is moved here rather than left to fail."""
    subscriptions = Subscriptions(loop)
    hooks = [h for h in subscriptions.list() if h.topic == topic]
    host = urlsplit(url).netloc.rpartition(":")[0]
    out = []
    for trigger in triggers:
        mine = [h for h in hooks if h.trigger == trigger]
        same = [h for h in mine if h.url == url]
        moved = [h for h in mine if _earlier_receiver(h.url, host)]
        found = next(iter(same or moved), None)
        if found is None:
            out.append(subscriptions.subscribe(url, topic, trigger))
        elif found.active and found.url == url:
            out.append(found)
        else:
            out.append(subscriptions.activate(found, url))
    return out


def _earlier_receiver(url: str, host: str) -> bool:
    parts = urlsplit(url)
    return parts.path == RECEIVER_PATH and parts.netloc.rpartition(":")[0] == host
