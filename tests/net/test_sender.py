"""Sender: one request through budget, retries and redaction, against httpx.MockTransport (the
seam), with a fake clock so that no test waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from engine.net import Redactor, RequestBudget, RequestFailed, RetryPolicy, SecretLogFilter, Sender

SECRET = "sk-net-SECRET-1234"
BASE = "http://api.test:8080/admin/api/2024-01"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """Answers in order (the last repeats); an exception class is raised instead."""

    def __init__(self, *steps: Any) -> None:
        self.steps = steps
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure", request=request)
        status, headers, body = step if isinstance(step, tuple) else (step, {}, None)
        return httpx.Response(status, headers=headers, json=body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sender(handler: Handler, clock: FakeClock, **kwargs: Any) -> Sender:
    client = httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler))
    options: dict[str, Any] = {
        "budget": RequestBudget("0/s", clock=clock, sleep=clock.sleep),
        "retry": RetryPolicy(max_retries=3, backoff_s=0.01, max_backoff_s=0.02),
        "redact": Redactor(SECRET),
        "sleep": clock.sleep,
    }
    return Sender(client, **(options | kwargs))


def test_sender_returns_a_2xx_and_counts_it(clock: FakeClock) -> None:
    script = Script((200, {}, {"ok": True}))
    with_sender = sender(script, clock)
    response = with_sender.get("/orders.json", {"status": "any"})
    assert response.json() == {"ok": True}
    assert str(script.requests[0].url) == f"{BASE}/orders.json?status=any"
    assert (with_sender.stats.sent, with_sender.stats.ok, with_sender.stats.retries) == (1, 1, 0)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_sender_retries_transient_answers(clock: FakeClock, status: int) -> None:
    script = Script(status, status, 200)
    with_sender = sender(script, clock)
    assert with_sender.put("/x", json={"a": 1}).status_code == 200
    assert len(script.requests) == 3 and with_sender.stats.retries == 2
    assert with_sender.stats.rate_limited == (2 if status == 429 else 0)


def test_sender_429_pauses_the_whole_budget_for_retry_after(clock: FakeClock) -> None:
    script = Script((429, {"Retry-After": "1.5"}, {"message": "slow down"}), 200)
    with_sender = sender(script, clock)
    started = clock.now
    with_sender.get("/x")
    assert with_sender.budget.stats().penalties == 1
    assert with_sender.budget.stats().penalised_s == 1.5
    assert clock.now - started == pytest.approx(1.5), "the retry waited the budget's pause"


def test_sender_5xx_sleeps_for_retry_after(clock: FakeClock) -> None:
    script = Script((503, {"Retry-After": "0.75"}, None), 200)
    sender(script, clock).get("/x")
    assert clock.sleeps == [0.75]


def test_sender_gives_up_after_the_retries(clock: FakeClock) -> None:
    script = Script((503, {}, {"error": f"down for {SECRET}"}))
    with pytest.raises(RequestFailed) as caught:
        sender(script, clock).get("/x", {"key": SECRET})
    failure = caught.value
    assert str(failure).startswith(f"GET {BASE}/x: HTTP 503 Service Unavailable: ")
    assert str(failure).endswith("(after 4 attempts)")
    assert (failure.status, failure.attempts, failure.transient, failure.exhausted) == (
        503,
        4,
        True,
        True,
    )
    assert SECRET not in str(failure) and "***" in failure.detail
    assert len(script.requests) == 4


def test_sender_retry_after_longer_than_allowed_fails_at_once(clock: FakeClock) -> None:
    script = Script((429, {"Retry-After": "3600"}, None), 200)
    retry = RetryPolicy(max_retries=3, max_retry_after_s=60)
    with pytest.raises(RequestFailed, match=r"HTTP 429.*Retry-After 3600 s is more than") as caught:
        sender(script, clock, retry=retry).get("/x")
    assert len(script.requests) == 1 and not caught.value.exhausted


def test_sender_permanent_answer_is_not_retried(clock: FakeClock) -> None:
    script = Script((404, {}, {"error": f"no list for {SECRET}"}))
    with_sender = sender(script, clock)
    with pytest.raises(RequestFailed) as caught:
        with_sender.get("/lists/7")
    failure = caught.value
    assert failure.status == 404 and not failure.transient and failure.attempts == 1
    assert failure.body == {"error": f"no list for {SECRET}"}
    assert SECRET not in str(failure) and SECRET not in failure.detail
    assert len(script.requests) == 1 and with_sender.stats.permanent_failures == 1


def test_sender_a_permanent_answer_after_retries_says_how_many(clock: FakeClock) -> None:
    script = Script(503, 404)
    with pytest.raises(RequestFailed, match=r"HTTP 404 Not Found \(after 2 attempts\)"):
        sender(script, clock).get("/x")


@pytest.mark.parametrize(
    ("method", "error", "tries"),
    [
        pytest.param("POST", httpx.ReadError, 1, id="POST maybe sent: not retried"),
        pytest.param("POST", httpx.ReadTimeout, 1, id="POST read timeout: not retried"),
        pytest.param("POST", httpx.RemoteProtocolError, 1, id="POST hung up: not retried"),
        pytest.param("POST", httpx.ConnectError, 2, id="POST never sent: retried"),
        pytest.param("PUT", httpx.ReadError, 2, id="PUT maybe sent: retried"),
        pytest.param("GET", httpx.WriteTimeout, 2, id="GET write timeout: retried"),
    ],
)
def test_sender_a_post_that_may_have_been_sent_is_not_retried(
    clock: FakeClock, method: str, error: type[Exception], tries: int
) -> None:
    script = Script(error, 200)
    with_sender = sender(script, clock)
    if tries == 1:
        with pytest.raises(RequestFailed, match="a POST is not retried") as caught:
            with_sender.request(method, "/orders", json={"name": "x"})
        assert caught.value.transient and caught.value.status is None
        assert with_sender.stats.transient_failures == 1
    else:
        assert with_sender.request(method, "/orders", json={"name": "x"}).status_code == 200
    assert len(script.requests) == tries


def test_sender_no_answer_shows_the_whole_url_never_the_query(clock: FakeClock) -> None:
    script = Script(httpx.ConnectError)
    with pytest.raises(RequestFailed) as caught:
        sender(script, clock).get("/orders.json", {"api_key": SECRET, "page": 2})
    message = str(caught.value)
    assert message.startswith(f"GET {BASE}/orders.json: connection failed (ConnectError")
    assert "api_key" not in message and SECRET not in message
    assert caught.value.status is None and caught.value.exhausted


def test_sender_timeouts_say_so(clock: FakeClock) -> None:
    with pytest.raises(RequestFailed, match=r"timed out \(ReadTimeout"):
        sender(Script(httpx.ReadTimeout), clock).get("/x")


def test_sender_other_httpx_errors_are_permanent(clock: FakeClock) -> None:
    script = Script(httpx.TooManyRedirects)
    with pytest.raises(RequestFailed) as caught:
        sender(script, clock).get("/x")
    assert not caught.value.transient and len(script.requests) == 1


def test_sender_endpoint_names_messages_and_counters(clock: FakeClock) -> None:
    script = Script(200, 200, (422, {}, {"message": "bad"}))
    with_sender = sender(script, clock, describe=lambda r, body: body["message"])
    with_sender.put("/products/1", endpoint="PUT /products/{id}")
    with_sender.put("/products/2", endpoint="PUT /products/{id}")
    with pytest.raises(RequestFailed) as caught:
        with_sender.put("/products/3", endpoint="PUT /products/{id}")
    assert str(caught.value) == "PUT /products/{id}: bad" and caught.value.detail == "bad"
    assert caught.value.label == "PUT /products/{id}"
    assert with_sender.stats.by_endpoint == {"PUT /products/{id}": 3}
    snapshot = with_sender.stats.snapshot()
    assert (snapshot.sent, snapshot.ok, snapshot.permanent_failures) == (3, 2, 1)


def test_sender_failures_from_an_auth_flow_follow_the_same_rules(clock: FakeClock) -> None:
    calls: list[int] = []

    class Flaky(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
            calls.append(1)
            if len(calls) == 1:
                raise RequestFailed("token endpoint: HTTP 503", status=503, transient=True)
            if len(calls) == 2:
                raise RequestFailed("token endpoint: HTTP 401", status=401)
            yield request

    client = httpx.Client(base_url=BASE, transport=httpx.MockTransport(Script(200)), auth=Flaky())
    with_sender = Sender(client, sleep=clock.sleep, budget=RequestBudget("0/s", clock=clock))
    with pytest.raises(RequestFailed, match=r"token endpoint: HTTP 401 \(after 2 attempts\)"):
        with_sender.get("/x")
    assert len(calls) == 2


def test_sender_concurrency_gate_bounds_requests_in_flight() -> None:
    lock = threading.Lock()
    active, peak = 0, 0

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1
        return httpx.Response(200)

    client = httpx.Client(base_url=BASE, transport=httpx.MockTransport(slow))
    with_sender = Sender(client, concurrency=2, hold_slot=True)
    threads = [threading.Thread(target=with_sender.get, args=("/x",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak <= 2 and with_sender.stats.ok == 8


def test_sender_close_releases_the_client_and_its_redactor(clock: FakeClock) -> None:
    with_sender = sender(Script(200), clock)
    assert SecretLogFilter.watching(with_sender.redact)
    with_sender.close()
    assert with_sender.client.is_closed
    assert not SecretLogFilter.watching(with_sender.redact)
    assert SECRET not in repr(with_sender)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("https://api.test:8080/next", id="https instead of http"),
        pytest.param("http://evil.test:8080/next", id="another host"),
        pytest.param("http://api.test:9090/next", id="another port"),
    ],
)
def test_sender_sends_nothing_to_another_origin(clock: FakeClock, target: str) -> None:
    script = Script(200)
    with pytest.raises(RequestFailed, match="refusing to send credentials to") as caught:
        sender(script, clock).get(target)
    assert script.requests == [] and caught.value.status is None


def test_sender_refuses_a_downgrade_redirect(clock: FakeClock) -> None:
    script = Script((301, {"Location": "http://api.test:80/plain"}, None), 200)
    with pytest.raises(RequestFailed, match=r"refusing to send credentials to http://api\.test:80"):
        sender(script, clock).get("/x")
    assert len(script.requests) == 1
