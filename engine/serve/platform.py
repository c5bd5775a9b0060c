"""The platform's own change webhooks (`POST /webhooks/platform/{entity}`): verified with the
platform's HMAC scheme on the raw bytes, then the record synced into Loop at once through the
pipeline's batch (mapped, validated, diffed, pushed, ID map updated), under one long-lived run
of the serve process. What cannot be synced is parked (quarantine, held) as in `etl run`.

And subscribing to them (`subscribe_platform`): what `platform_webhooks.subscribe` declares,
sent through the source's own HTTP sender when `etl serve` starts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
from jinja2 import TemplateError

from engine.errors import EngineError
from engine.loop.api import LoopAPI
from engine.mapping.compile import CompiledMapping
from engine.mapping.jinja_env import compile_template, make_environment
from engine.mapping.model import PlatformSubscribe, SubscriptionList
from engine.net import Sender
from engine.pipeline.batch import BatchSync
from engine.pipeline.run import source_entities
from engine.state import State

DEFAULT_HEADER = "X-Shopify-Hmac-Sha256"
COUNTED = ("created", "updated", "unchanged", "quarantined", "held", "deferred")
PATH = "/webhooks/platform/{entity}"


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


class PlatformWebhooks:
    """Verifies and syncs one platform webhook at a time (the batch writes the state)."""

    def __init__(self, compiled: CompiledMapping, state: State, loop: LoopAPI | None) -> None:
        spec = compiled.mapping.platform_webhooks or {}
        self.compiled, self.state, self.loop = compiled, state, loop
        self.secret = str(spec["secret"]).encode()
        self.header = str(spec.get("header", DEFAULT_HEADER))
        self.encoding = str(spec.get("encoding", "base64"))
        self.record = jmespath.compile(str(spec.get("record", "@")))
        self.max_body = int(spec.get("max_body_bytes", 1024 * 1024))
        self.entities = set(source_entities(compiled))
        self._lock = threading.Lock()
        self._run_id: int | None = None

    def verify(self, raw: bytes, signature: str | None) -> bool:
        """HMAC-SHA256 of the raw bytes, compared in constant time."""
        if not signature:
            return False
        digest = hmac.new(self.secret, raw, hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode() if self.encoding == "base64" else digest.hex()
        return hmac.compare_digest(expected.encode(), signature.strip().encode())

    def handle(self, entity: str, raw: bytes, signature: str | None) -> Outcome:
        if entity not in self.entities:
            known = ", ".join(sorted(self.entities))
            return Outcome(404, {"error": f"no entity {entity!r} (known: {known})"})
        if not self.verify(raw, signature):
            return Outcome(401, {"error": f"missing or wrong {self.header}"})
        try:
            record = self.record.search(json.loads(raw))
        except (ValueError, RecursionError):
            return Outcome(400, {"error": "the body is not JSON"})
        if not isinstance(record, dict):
            return Outcome(
                400, {"error": "the body holds no record (see platform_webhooks.record)"}
            )
        return self._sync(entity, record)

    def _sync(self, entity: str, record: dict[str, Any]) -> Outcome:
        with self._lock:
            if self._run_id is None:
                self._run_id = self.state.start_run("platform-webhooks")
            batches = BatchSync(self.compiled, self.state, self.loop, self._run_id)
            results = batches.sync_records(entity, [record], unique=False)
        counts: dict[str, dict[str, int]] = {}
        # the records themselves, then what their lookups sent first (`send: referenced`)
        for r in [*results, *batches.pulled]:
            row = counts.setdefault(r.entity, dict.fromkeys(COUNTED, 0))
            row["created"] += r.created
            row["updated"] += r.updated
            row["unchanged"] += r.unchanged
            row["quarantined"] += len(r.quarantined)
            row["held"] += len(r.held)
            row["deferred"] += len(r.deferred)
        return Outcome(200, {"synced": counts})

    def close(self) -> None:
        if self._run_id is not None:
            self.state.finish_run(self._run_id, "ok", {"webhooks": True})


@dataclass(frozen=True)
class Subscribed:
    """What became of one topic: `subscribed`, `exists` (skipped) or `failed` (`detail` says
    why, redacted by the sender)."""

    topic: str
    entity: str
    address: str
    status: str
    detail: str = ""


def platform_url(base: str, entity: str) -> str:
    """Where the platform is to send `entity`'s changes, below serve's base URL."""
    return base.rstrip("/") + PATH.format(entity=entity)


@dataclass(frozen=True)
class PlatformSubscriptions:
    """Each topic's outcome, and why the existing subscriptions could not be listed ("": they
    were, or `list` is not declared)."""

    results: list[Subscribed]
    listing_error: str = ""


def subscribe_platform(sender: Sender, spec: PlatformSubscribe, base: str) -> PlatformSubscriptions:
    """Subscribes each topic of `spec` to this receiver (at `base`); one that is listed
    already is skipped. Never raises for the platform's answers: a failure is reported."""
    existing, listing_error = _existing(sender, spec.listing)
    env = make_environment()
    out = []
    for topic, entity in spec.topics.items():
        url = platform_url(base, entity)
        if (topic, url) in existing:
            out.append(Subscribed(topic, entity, url, "exists"))
            continue
        try:
            body = _render(spec.body, env, {"topic": topic, "url": url, "entity": entity})
            sender.request(spec.method, spec.path, json=body)
        except (EngineError, TemplateError) as exc:
            out.append(Subscribed(topic, entity, url, "failed", str(exc)))
            continue
        out.append(Subscribed(topic, entity, url, "subscribed"))
    return PlatformSubscriptions(out, listing_error)


def _existing(sender: Sender, listing: SubscriptionList | None) -> tuple[set[tuple[str, str]], str]:
    """The (topic, address) pairs the platform lists, and why not when the listing failed."""
    if listing is None:
        return set(), ""
    try:
        body = sender.get(listing.path).json()
        found = jmespath.search(listing.records, body) if listing.records else body
        topic, address = jmespath.compile(listing.topic), jmespath.compile(listing.address)
    except (EngineError, ValueError, jmespath.exceptions.JMESPathError) as exc:
        return set(), str(exc) or type(exc).__name__
    if not isinstance(found, list):
        return set(), f"GET {listing.path}: {listing.records or 'the body'} is not a list"
    pairs = {(str(topic.search(i)), str(address.search(i))) for i in found if isinstance(i, dict)}
    return pairs, ""


def _render(value: Any, env: Any, context: dict[str, str]) -> Any:
    """The body with each string rendered as a template of `context`."""
    if isinstance(value, str):
        return compile_template(env, value).render(context)
    if isinstance(value, dict):
        return {k: _render(v, env, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, env, context) for v in value]
    return value
