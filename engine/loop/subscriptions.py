"""Loop's Programmatic Webhooks (subscriptions) over a Loop client, and Loop's table of webhook
topics and triggers (loop-api.md §3.1, §3.2).

Loop creates a subscription `inactive` unless told otherwise, so every one is created `active`.
`ensure` subscribes a URL to several triggers at once without duplicates: an identical active
subscription is kept, an inactive one is activated, and one trigger's refusal does not stop the
others (Loop does not say whether it takes the `return.processing` topic).
"""

from __future__ import annotations

import builtins  # `list` is a method of Subscriptions: the type is builtins.list
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from engine.errors import ConfigError, EngineError, PermanentLoadError
from engine.loop.api import LoopAPI
from engine.loop.returns import loop_failure
from engine.loop.webhooks import TOPICS

__all__ = [
    "DEFAULT_TOPICS",
    "TOPICS",
    "Subscribed",
    "Subscription",
    "SubscriptionError",
    "Subscriptions",
    "triggers_for",
]

PATH = "/webhooks"
DEFAULT_TOPICS = ("return", "label", "restock", "giftcard", "return.processing")
"""What a receiver of return events subscribes to when no topic is named: the label request
flow (OAuth only) and Happy Returns shipments are left out."""


class SubscriptionError(EngineError):
    """Loop refused a subscription call: its message, code and HTTP status."""

    def __init__(self, what: str, message: str, code: str | None, status: int | None) -> None:
        self.message, self.code, self.status = message, code, status
        said = ", ".join(p for p in (f"code {code}" if code else "", f"HTTP {status}") if p)
        super().__init__(f"{what}: Loop said: {message} ({said})")


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription as Loop lists it; the id as text."""

    id: str
    topic: str
    trigger: str
    url: str
    status: str
    shop_id: str | None = None

    @classmethod
    def from_loop(cls, body: dict[str, Any]) -> Subscription:
        shop = body.get("shop_id")
        return cls(
            str(body.get("id", "")),
            str(body.get("topic", "")),
            str(body.get("trigger", "")),
            str(body.get("url", "")),
            str(body.get("status", "")),
            None if shop is None else str(shop),
        )

    @property
    def active(self) -> bool:
        return self.status == "active"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shop_id": self.shop_id,
            "topic": self.topic,
            "trigger": self.trigger,
            "url": self.url,
            "status": self.status,
        }


@dataclass(frozen=True)
class Subscribed:
    """What `ensure` did for one trigger: `created`, `activated`, `exists` or `failed`."""

    topic: str
    trigger: str
    outcome: str
    subscription: Subscription | None = None
    error: EngineError | None = None


def triggers_for(names: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(topic, trigger) pairs for topic names (all their triggers) or trigger names (that one);
    no names: the DEFAULT_TOPICS. An unknown name is a ConfigError naming the known ones."""
    by_trigger = {trigger: topic for topic, triggers in TOPICS.items() for trigger in triggers}
    pairs: list[tuple[str, str]] = []
    for name in list(names) or DEFAULT_TOPICS:
        if name in TOPICS:
            pairs += [(name, trigger) for trigger in TOPICS[name]]
        elif name in by_trigger:
            pairs.append((by_trigger[name], name))
        else:
            raise ConfigError(unknown("webhook topic or trigger", name, [*TOPICS, *by_trigger]))
    return list(dict.fromkeys(pairs))


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """'unknown topic 'retrun' (did you mean 'return'?) (known: ...)'. (engine.mapping.suggest
    says the same, but the loop package sits below the mapping's.)"""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(names)})"


def check_pair(topic: str, trigger: str) -> None:
    """Loop sends empty payloads for mismatched pairs: refuse them before sending."""
    if topic not in TOPICS:
        raise ConfigError(unknown("webhook topic", topic, TOPICS))
    if trigger not in TOPICS[topic]:
        raise ConfigError(f"{trigger!r} is not a trigger of {topic} ({', '.join(TOPICS[topic])})")


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"a webhook URL is http(s)://host/path, not {url!r}")
    return url


class Subscriptions:
    """Loop's webhook subscriptions for one Loop client (its key needs developer_tools)."""

    def __init__(self, loop: LoopAPI) -> None:
        self.loop = loop

    def subscribe(self, url: str, topic: str, trigger: str) -> Subscription:
        """Create an active subscription of `url` to one trigger."""
        check_pair(topic, trigger)
        body = {"topic": topic, "trigger": trigger, "url": check_url(url), "status": "active"}
        answer = self._send(f"subscribe {topic}/{trigger}", "POST", PATH, body)
        if isinstance(answer, dict) and isinstance(answer.get("webhook"), dict):
            answer = answer["webhook"]
        if not isinstance(answer, dict) or "id" not in answer:
            message, code = loop_failure(answer)
            raise SubscriptionError(f"subscribe {topic}/{trigger}", message, code, 200)
        return Subscription.from_loop(answer)

    def list(self) -> tuple[Subscription, ...]:
        """Every subscription of the shop, those made in Loop's admin too."""
        answer = self._send("list subscriptions", "GET", PATH)
        items = answer.get("webhooks") if isinstance(answer, dict) else answer
        if not isinstance(items, Sequence) or isinstance(items, str):
            message, code = loop_failure(answer)
            raise SubscriptionError("list subscriptions", message, code, 200)
        return tuple(Subscription.from_loop(item) for item in items if isinstance(item, dict))

    def unsubscribe(self, subscription_id: int | str) -> None:
        """Delete a subscription (Loop answers 204; an unknown id is a 404)."""
        self._send(
            f"unsubscribe {subscription_id}", "DELETE", f"{PATH}/{_segment(subscription_id)}"
        )

    def activate(self, subscription: Subscription, url: str | None = None) -> Subscription:
        """Turn a subscription on (PUT with the same topic and trigger), at `url` when given:
        a receiver that moved takes its old subscription along."""
        body = {
            "topic": subscription.topic,
            "trigger": subscription.trigger,
            "url": url or subscription.url,
            "status": "active",
        }
        self._send(
            f"activate {subscription.id}", "PUT", f"{PATH}/{_segment(subscription.id)}", body
        )
        return replace(subscription, status="active", url=str(body["url"]))

    def ensure(self, url: str, pairs: Sequence[tuple[str, str]]) -> builtins.list[Subscribed]:
        """`url` subscribed, active, to every (topic, trigger), once: what happened to each."""
        check_url(url)
        for topic, trigger in pairs:
            check_pair(topic, trigger)
        existing = {(s.topic, s.trigger): s for s in self.list() if s.url == url}
        done: builtins.list[Subscribed] = []
        for topic, trigger in pairs:
            found = existing.get((topic, trigger))
            try:
                if found is not None and found.active:
                    done.append(Subscribed(topic, trigger, "exists", found))
                elif found is not None:
                    done.append(Subscribed(topic, trigger, "activated", self.activate(found)))
                else:
                    made = self.subscribe(url, topic, trigger)
                    done.append(Subscribed(topic, trigger, "created", made))
            except SubscriptionError as exc:
                done.append(Subscribed(topic, trigger, "failed", error=exc))
        return done

    def _send(self, what: str, method: str, path: str, json: Any = None) -> Any:
        try:
            return self.loop.request(method, path, json=json)
        except PermanentLoadError as exc:
            status = exc.status
            body = exc.body
            message, code = (
                (str(exc), None) if body in (None, "") else loop_failure(body, status or 400)
            )
            raise SubscriptionError(what, message, code, status) from None


def _segment(value: int | str) -> str:
    return quote(str(value).strip(), safe="")
