"""engine.loop.subscriptions: the topic table, subscribe / list / unsubscribe against the sandbox
over real HTTP (created active, no duplicates, inactive ones switched on), and Loop's refusals
(through httpx.MockTransport where the sandbox cannot be made to refuse)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from engine.errors import ConfigError
from engine.loop.client import LoopClient
from engine.loop.subscriptions import (
    DEFAULT_TOPICS,
    TOPICS,
    SubscriptionError,
    Subscriptions,
    triggers_for,
)
from engine.sandbox.server import SandboxHandle, running_sandbox
from tests.sandbox.support import subscribe

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min") as handle:
        yield handle


@pytest.fixture
def subs(server: SandboxHandle) -> Iterator[Subscriptions]:
    server.admin.reset()
    with LoopClient(server.base_url, server.api_key, rate_limit="0/min") as client:
        yield Subscriptions(client)


def test_triggers_for_no_names_is_the_default_topics() -> None:
    pairs = triggers_for()

    assert {topic for topic, _ in pairs} == set(DEFAULT_TOPICS)
    assert ("return.processing", "return.processing.failed") in pairs
    assert ("return", "return.closed") in pairs and ("giftcard", "giftcard.requested") in pairs
    assert len(pairs) == sum(len(TOPICS[t]) for t in DEFAULT_TOPICS)


def test_triggers_for_takes_topics_and_single_triggers_once() -> None:
    assert triggers_for(["label", "label.updated", "return.closed"]) == [
        ("label", "label.created"),
        ("label", "label.updated"),
        ("return", "return.closed"),
    ]


def test_triggers_for_an_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"unknown webhook topic or trigger 'retrun'.*'return'"):
        triggers_for(["retrun"])


def test_subscriptions_subscribe_list_unsubscribe(
    subs: Subscriptions, server: SandboxHandle
) -> None:
    made = subs.subscribe(HOOK, "return", "return.closed")

    listed = subs.list()
    subs.unsubscribe(made.id)

    assert (made.topic, made.trigger, made.url, made.status) == (
        "return",
        "return.closed",
        HOOK,
        "active",
    )
    assert [s.id for s in listed] == [made.id]
    assert subs.list() == ()
    posted = server.admin.requests("POST", "/api/2026-10/webhooks")
    assert json.loads(posted[0]["body"])["status"] == "active", "Loop's default is inactive"


def test_subscriptions_ensure_creates_once_and_switches_inactive_ones_on(
    subs: Subscriptions, server: SandboxHandle
) -> None:
    inactive = subscribe(server, HOOK, "return", "return.created", status="inactive")
    elsewhere = subscribe(server, "http://127.0.0.1:9/other", "return", "return.updated")
    pairs = triggers_for(["return"])

    first = subs.ensure(HOOK, pairs)
    again = subs.ensure(HOOK, pairs)

    assert [d.outcome for d in first] == ["activated", "created", "created"]
    assert first[0].subscription is not None and first[0].subscription.id == str(inactive["id"])
    assert [d.outcome for d in again] == ["exists"] * 3
    mine = [s for s in subs.list() if s.url == HOOK]
    assert len(mine) == 3 and all(s.active for s in mine)
    assert str(elsewhere["id"]) in {s.id for s in subs.list()}, "another URL's is left alone"


def test_subscriptions_ensure_goes_on_after_a_refused_trigger(
    subs: Subscriptions, server: SandboxHandle
) -> None:
    def refuse_processing(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"webhooks": []})
        body = json.loads(request.content)
        if body["topic"] == "return.processing":
            invalid = {"message": "The given data was invalid.", "errors": {"topic": ["Bad."]}}
            return httpx.Response(422, json=invalid)
        return httpx.Response(201, json={"id": 5, **body})

    transport = httpx.MockTransport(refuse_processing)
    with LoopClient("https://loop.test", "k", rate_limit="0/min", transport=transport) as client:
        done = Subscriptions(client).ensure(HOOK, triggers_for())

    failed = [d for d in done if d.outcome == "failed"]
    assert [(d.topic, d.trigger) for d in failed] == [
        ("return.processing", "return.processing.failed")
    ]
    assert isinstance(failed[0].error, SubscriptionError) and failed[0].error.status == 422
    assert "topic: Bad." in str(failed[0].error)
    assert len(done) - len(failed) == len(triggers_for()) - 1


def test_subscriptions_unsubscribe_unknown_is_loops_404(subs: Subscriptions) -> None:
    with pytest.raises(SubscriptionError, match=r"unsubscribe 42: Loop said: .*HTTP 404"):
        subs.unsubscribe(42)


@pytest.mark.parametrize(
    ("topic", "trigger", "url", "message"),
    [
        pytest.param("label", "return.created", HOOK, "not a trigger of label", id="mismatch"),
        pytest.param("orders", "orders.created", HOOK, "unknown webhook topic", id="topic"),
        pytest.param("return", "return.closed", "ftp://x/y", "http", id="not an http URL"),
    ],
)
def test_subscriptions_subscribe_refuses_before_sending(
    subs: Subscriptions, server: SandboxHandle, topic: str, trigger: str, url: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        subs.subscribe(url, topic, trigger)

    assert server.admin.requests("POST") == []


def test_subscriptions_read_a_wrapped_webhook_and_an_error_body() -> None:
    answers = iter(
        [
            httpx.Response(201, json={"webhook": {"id": "7", "topic": "label",
                                                  "trigger": "label.created", "url": HOOK,
                                                  "status": "active", "shop_id": 3}}),
            httpx.Response(200, json={"errors": {"message": "Nope.",
                                                 "code": "FAILED_TO_CREATE_WEBHOOK"}}),
        ]
    )  # fmt: skip
    transport = httpx.MockTransport(lambda request: next(answers))
    with LoopClient("https://loop.test", "k", rate_limit="0/min", transport=transport) as client:
        made = Subscriptions(client).subscribe(HOOK, "label", "label.created")
        with pytest.raises(SubscriptionError, match=r"Nope\. \(code FAILED_TO_CREATE_WEBHOOK"):
            Subscriptions(client).subscribe(HOOK, "label", "label.updated")

    assert (made.id, made.shop_id, made.active) == ("7", "3", True)
