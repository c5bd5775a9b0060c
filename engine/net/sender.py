"""The one way an outbound HTTP request is sent: through one keep-alive httpx.Client, within a
request budget, retried by one policy, every message redacted, every attempt counted.

Rules, the same for Loop and for every source:
- a 2xx answer is returned; 408, 429 and 5xx answers, timeouts and dropped or refused
  connections are retried (budget.penalise on a 429, so every holder of the budget waits;
  a sleep otherwise), honouring Retry-After up to the policy's `max_retry_after_s`;
- a request that may have reached the server before failing (a read timeout, a write error,
  the server hanging up) is retried for every method but POST, which is not idempotent: it
  fails at once, saying it may have been applied; failures before sending always retry;
- any other answer or httpx error raises `RequestFailed` at once;
- credentials go only to the configured origin (the client's base_url: scheme, host, port):
  a request or a redirect to another origin (another host, or https -> http) is refused,
  naming the host, unless that origin is in `allowed_origins`, where it goes without any
  credential or configured header. Redirects are followed here (at most MAX_REDIRECTS), not
  by httpx, which would carry custom auth headers across hosts.
The retry loop is written here, not with tenacity: see engine.net.retry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx

from engine.net.breaker import Breaker
from engine.net.budget import RequestBudget
from engine.net.errors import RequestFailed, retried_status
from engine.net.redact import Redactor, SecretLogFilter, excerpt, shown_url
from engine.net.retry import RetryPolicy, parse_retry_after

# Failures after which a request may or may not have reached the server. Retried for every
# method but POST (not idempotent); failures before sending (connect errors, pool timeouts)
# always are.
MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

MAX_REDIRECTS = 5

# What an error answer says, from the response and its parsed body (redacted afterwards).
Describe = Callable[[httpx.Response, Any], str]


def describe_answer(response: httpx.Response, body: Any) -> str:
    """'HTTP 404 Not Found: <the start of the body>'."""
    text = f"HTTP {response.status_code} {response.reason_phrase}: {excerpt(response)}"
    return text.rstrip(": ")


def origin_of(url: httpx.URL) -> str:
    """scheme://host:port, the port explicit (https://h and https://h:443 are one origin)."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}".lower()


def parsed_body(response: httpx.Response) -> Any:
    """Parsed JSON (ints stay exact: ids above 2**53 survive), else the text, else None."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


@dataclass
class SendStats:
    """What a sender sent and what came back. Thread-safe: every change goes through `add`;
    read single counters directly or take a consistent `snapshot()`."""

    sent: int = 0
    ok: int = 0
    rate_limited: int = 0
    retries: int = 0
    transient_failures: int = 0
    permanent_failures: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, endpoint: str | None = None, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)
            if endpoint is not None:
                self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def snapshot(self) -> SendStats:
        with self._lock:
            return SendStats(
                self.sent,
                self.ok,
                self.rate_limited,
                self.retries,
                self.transient_failures,
                self.permanent_failures,
                dict(self.by_endpoint),
            )


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, failure: RequestFailed, retry_after: float | None = None) -> None:
        super().__init__(str(failure))
        self.failure, self.retry_after = failure, retry_after


class Sender:
    """Sends requests through `client` (which it owns from now on: `close()` closes it).

    `budget`: the request budget (default: unlimited, though a 429 still pauses it);
    `allowed_origins`: other origins a link or redirect may lead to, reached without
    credentials (see the module docstring); `breaker`: stops every request once the target
    has given no answer for its window (engine.net.breaker);
    `hold_slot`: a request counts in the budget until its answer is back (Loop's sliding
    window), not only when it leaves; `concurrency`: at most this many requests in flight, the
    rest wait before taking a budget slot; `describe`: what an error answer says."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        redact: Redactor | None = None,
        describe: Describe = describe_answer,
        hold_slot: bool = False,
        concurrency: int | None = None,
        allowed_origins: Collection[str] = (),
        breaker: Breaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.origin = origin_of(client.base_url) if client.base_url.host else None
        self.allowed = frozenset(origin_of(httpx.URL(o)) for o in allowed_origins)
        self.budget = budget or RequestBudget("0/s")
        self.retry = retry or RetryPolicy()
        self.redact = redact or Redactor()
        self.describe, self.hold_slot, self._sleep = describe, hold_slot, sleep
        self._gate = threading.BoundedSemaphore(concurrency) if concurrency else None
        self.stats = SendStats()
        self.breaker = breaker or Breaker(None)
        SecretLogFilter.watch(self.redact)

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", url, params=params, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", url, json=json, **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, json=json, **kw)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send until a 2xx answer (returned, body read) or a failure for good (RequestFailed).

        `url` is relative to the client's base_url or absolute; `endpoint` names the request
        in messages and in `stats.by_endpoint` (default: the method and the URL without its
        query, not counted by endpoint); `headers` are added to this request only;
        `retry=False` sends once (a caller that cannot risk a request twice retries itself);
        `files` (httpx's form) sends a multipart/form-data body instead of `json`."""
        method = method.upper()
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, params, json, endpoint, headers, files)
            except RequestFailed as failed:
                if not attempt:
                    raise
                raise _final(failed, attempt + 1) from None
            except _Retry as problem:
                failure, wait = problem.failure, problem.retry_after
                why = ""
                if self.retry.too_long(wait) and attempt < self.retry.max_retries:
                    why = f"; Retry-After {wait:.0f} s is more than max_retry_after_s"
                if why or not retry or attempt >= self.retry.max_retries:
                    self.stats.add(transient_failures=1)
                    raise _final(failure, attempt + 1, why, exhausted=not why) from None
                self.stats.add(retries=1)
                self._pause(attempt, failure.status, wait)
                attempt += 1

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        endpoint: str | None,
        headers: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        request = self._build(method, url, params, json, headers, files)
        # The request's own URL: base_url's path included (base_url.join(url) would drop it).
        label = endpoint or f"{method} {shown_url(request.url)}"
        self.breaker.check(f"{method} {shown_url(request.url)}")
        with self._gate or nullcontext(), self._budget_slot():
            self.stats.add(endpoint, sent=1)
            try:
                response = self._send(request, label)
            except RequestFailed as failure:  # raised inside an auth flow (a token endpoint)
                raise self._retry_or_raise(failure) from None
            except (*NOT_SENT, *MAYBE_SENT) as exc:
                raise self._no_answer(method, label, exc) from None
            except httpx.HTTPError as exc:
                raise self._permanent(self.redact(f"{label}: {exc}"), label) from None
        return self._check(response, label)

    def _build(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        query = dict(params) if params else None
        request = self.client.build_request(
            method, url, params=query, json=json, headers=headers, files=files
        )
        if self._foreign(request.url):  # nothing configured travels to another origin
            headers = {"Accept": request.headers.get("Accept", "*/*")}
            request = httpx.Request(method, request.url, json=json, headers=headers, files=files)
        return request

    def _foreign(self, url: httpx.URL) -> bool:
        """Another origin than the configured one; raises unless it is allowed."""
        here = origin_of(url)
        if self.origin is None or here == self.origin:
            return False
        if here in self.allowed:
            return True
        label = f"{shown_url(url)}"
        raise self._permanent(
            f"refusing to send credentials to {here} ({label}): not the configured "
            f"{self.origin}; declare it in allowed_origins to follow it without credentials",
            label,
        )

    def _send(self, request: httpx.Request, label: str) -> httpx.Response:
        """Send, following redirects ourselves, credentials only to the configured origin."""
        for _ in range(MAX_REDIRECTS + 1):
            foreign = self._foreign(request.url)
            response = self.client.send(request, auth=None if foreign else httpx.USE_CLIENT_DEFAULT)
            if not response.has_redirect_location:
                return response
            response.close()
            request = self._redirected(request, response)
        raise self._permanent(f"{label}: more than {MAX_REDIRECTS} redirects", label)

    def _redirected(self, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        location = request.url.join(response.headers["Location"])
        method = "GET" if response.status_code == 303 else request.method
        content = None if method == "GET" and request.method != "GET" else request.content
        if self._foreign(location):
            headers = {"Accept": request.headers.get("Accept", "*/*")}
        else:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        return httpx.Request(method, location, content=content, headers=headers)

    @contextmanager
    def _budget_slot(self) -> Iterator[None]:
        if self.hold_slot:
            with self.budget.slot():
                yield
        else:
            self.budget.acquire()
            yield

    def _check(self, response: httpx.Response, label: str) -> httpx.Response:
        status = response.status_code
        if retried_status(status) and status != 429:
            self.breaker.failed(f"HTTP {status} {response.reason_phrase}")
        else:
            self.breaker.answered()
        if response.is_success:
            self.stats.add(ok=1)
            return response
        body = parsed_body(response)
        detail = self.redact(self.describe(response, body))
        failure = RequestFailed(
            self.redact(f"{label}: {detail}"),
            label=label,
            detail=detail,
            status=status,
            body=self.redact(body) if isinstance(body, str) else body,
            transient=retried_status(status),
        )
        if status == 429:
            self.stats.add(rate_limited=1)
        raise self._retry_or_raise(failure, parse_retry_after(response.headers.get("Retry-After")))

    def _retry_or_raise(
        self, failure: RequestFailed, retry_after: float | None = None
    ) -> _Retry | RequestFailed:
        if failure.transient:
            return _Retry(failure, retry_after)
        self.stats.add(permanent_failures=1)
        return failure

    def _no_answer(self, method: str, label: str, exc: httpx.HTTPError) -> Exception:
        name = type(exc).__name__
        self.breaker.failed(name)
        if method == "POST" and isinstance(exc, MAYBE_SENT):
            self.stats.add(transient_failures=1)
            detail = f"{name} after sending; a POST is not retried (it may have been applied)"
            message = self.redact(f"{label}: {detail}")
            return RequestFailed(message, label=label, detail=detail, transient=True)
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        said = str(exc)
        detail = self.redact(f"{kind} ({name}: {said})" if said else f"{kind} ({name})")
        message = self.redact(f"{label}: {detail}")
        return _Retry(RequestFailed(message, label=label, detail=detail, transient=True))

    def _permanent(self, message: str, label: str) -> RequestFailed:
        self.stats.add(permanent_failures=1)
        return RequestFailed(message, label=label)

    def _pause(self, attempt: int, status: int | None, retry_after: float | None) -> None:
        if status == 429:
            # Everyone on this budget backs off, not only this thread.
            self.budget.penalise(self.retry.pause_after_429(attempt, retry_after))
        else:
            self._sleep(self.retry.delay(attempt, retry_after))

    def close(self) -> None:
        self.client.close()
        SecretLogFilter.forget(self.redact)

    def __repr__(self) -> str:
        return f"Sender(budget={self.budget!r}, retry={self.retry!r})"


def _final(
    failure: RequestFailed, attempts: int, why: str = "", *, exhausted: bool = False
) -> RequestFailed:
    """The failure as raised for good: the number of attempts and why it stopped added."""
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return RequestFailed(
        f"{failure}{tries}{why}",
        label=failure.label,
        detail=failure.detail,
        status=failure.status,
        body=failure.body,
        attempts=attempts,
        transient=failure.transient,
        exhausted=exhausted,
    )
