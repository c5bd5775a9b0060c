"""The Loop API client: one keep-alive httpx client per Loop URL + key, sending through the HTTP
toolkit (engine.net: the key's shared request budget, retries on 429 / 5xx / timeouts / dropped
connections, redaction), other 4xx raised as PermanentLoadError with Loop's own text; Commerce
Data helpers (upsert, get, list, delete).

The API key is sent in a header and kept out of repr() and of every error message.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from engine.errors import LoadError, PermanentLoadError
from engine.loop.concurrent import map_concurrent
from engine.loop.errors import (
    REFUSED_KEY,
    LoopRefused,
    load_error,
    loop_error_text,
    path_template,
)
from engine.loop.kinds import Kind, kind_named
from engine.net import (
    Breaker,
    Redactor,
    RequestBudget,
    RequestFailed,
    RetryPolicy,
    Sender,
    budget_for,
    parsed_body,
)
from engine.net.budget import origin

__all__ = ["LoopClient"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_RATE = "300/min"
DEFAULT_VERSION = "2026-10"
PAGE_LIMIT = 250
USER_AGENT = "loop-etl"
HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT}


def _http(
    url: str,
    api_key: str,
    timeout_s: float,
    concurrency: int,
    transport: httpx.BaseTransport | None,
) -> httpx.Client:
    """The keep-alive client of one Loop URL + key: a connection per concurrent request."""
    return httpx.Client(
        base_url=url,
        headers={"X-Authorization": api_key, **HEADERS},
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        transport=transport,
    )


def _describe(response: httpx.Response, body: Any) -> str:
    return loop_error_text(body, response.status_code)


class LoopClient:
    """Loop's API at `base_url` (scheme://host[:port]) for one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_version: str = DEFAULT_VERSION,
        rate_limit: str = DEFAULT_RATE,
        timeout_s: float = 30.0,
        max_retries: int = 6,
        concurrency: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        outage_s: float | None = 60.0,
        *,
        budget: RequestBudget | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.rate_limit = rate_limit
        self.concurrency = concurrency
        self.budget = budget or budget_for(self.base_url, api_key, rate_limit)
        # Loop's Retry-After is waited out however long it is (no max_retry_after_s).
        self.retry = RetryPolicy(
            max_retries, backoff_s, max_backoff_s, math.inf, rng or random.Random()
        )
        self._origin = origin(self.base_url)
        self._refused: LoopRefused | None = None
        self._sender = self._new_sender(api_key, timeout_s, outage_s, sleep, transport)
        self.stats = self._sender.stats

    def _new_sender(
        self,
        api_key: str,
        timeout_s: float,
        outage_s: float | None,
        sleep: Callable[[float], None],
        transport: httpx.BaseTransport | None,
    ) -> Sender:
        # Threads beyond `concurrency` wait before taking a budget slot, so that a slot is never
        # spent waiting for a pooled connection (which would bunch requests up); a request
        # counts in Loop's sliding window until its answer is back.
        url = f"{self.base_url}/api/{self.api_version}"
        return Sender(
            _http(url, api_key, timeout_s, self.concurrency, transport),
            budget=self.budget,
            retry=self.retry,
            redact=Redactor(api_key),
            describe=_describe,
            hold_slot=True,
            concurrency=self.concurrency,
            breaker=Breaker(outage_s),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return (
            f"LoopClient(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"rate_limit={self.rate_limit!r}, concurrency={self.concurrency})"
        )

    # --- the core -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        *,
        files: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request with budget and retries; the parsed JSON of the 2xx answer.

        `path` is relative to /api/{version} ("/products") or a full URL on the same Loop
        (a next_page_url); `files` sends a multipart form instead of JSON. Raises TransientLoadError once retries are spent, PermanentLoadError
        for any other 4xx (message: Loop's own error text); LoopRefused for a 401 or 403 (and
        for every request after it), TargetDown once Loop has not answered for `outage_s`."""
        if self._refused is not None:  # another thread met a refused key: send nothing more
            raise self._refused
        method = method.upper()
        url = self._url(path)
        endpoint = f"{method} {path_template(self._relative(path))}"
        try:
            response = self._sender.request(
                method, url, params=params, json=json, endpoint=endpoint, files=files
            )
        except RequestFailed as failure:
            if failure.status in REFUSED_KEY:
                self._refused = LoopRefused(
                    f"Loop at {self.base_url} refused the API key ({failure.status}: "
                    f"{failure.detail}): check LOOP_API_KEY or target.api_key"
                )
                raise self._refused from None
            raise load_error(failure) from None
        return parsed_body(response)

    def _url(self, path: str) -> str:
        if "://" not in path:
            return path if path.startswith("/") else f"/{path}"
        if origin(path) != self._origin:
            # Never send the key to another host, whatever a next_page_url says.
            raise PermanentLoadError(f"refusing to follow {origin(path)}: not {self._origin}")
        return path

    def _relative(self, path: str) -> str:
        if "://" not in path:
            return path
        full = urlsplit(path).path
        prefix = f"/api/{self.api_version}"
        return full[len(prefix) :] if full.startswith(prefix) else full

    # --- Commerce Data helpers -------------------------------------------------------------

    def upsert(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """PUT on the collection: create or update the record with payload's external_id."""
        spec = _spec(kind)
        return _unwrap(self.request("PUT", spec.path, json=payload), spec.wrapper)

    def upsert_variant(self, product_external_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Upsert a variant by its external_id under the product with that external id."""
        return self.upsert_child("variant", product_external_id, payload)

    def upsert_child(
        self, kind: str, parent_external_id: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Upsert a child kind's record under the parent with that external id."""
        spec = kind_named(kind)
        path = spec.child_path(f"external/{_segment(parent_external_id)}")
        return _unwrap(self.request("PUT", path, json=payload), spec.wrapper)

    def put_inventory(
        self, product_variant_id: int, location_id: int, available_count: int
    ) -> dict[str, Any]:
        """Set the available count of a variant at a location (both Loop ids)."""
        spec = kind_named("inventory")
        path = f"{spec.path}/{int(product_variant_id)}/{int(location_id)}"
        body = self.request("PUT", path, json={"available_count": available_count})
        return _unwrap(body, spec.wrapper)

    def get(self, kind: str, loop_id: int) -> dict[str, Any]:
        spec = _spec(kind)
        return _unwrap(self.request("GET", f"{spec.path}/{int(loop_id)}"), spec.wrapper)

    def get_by_external_id(self, kind: str, external_id: str) -> dict[str, Any] | None:
        """The record with that external_id, or None when Loop answers 404."""
        spec = _spec(kind)
        try:
            body = self.request("GET", f"{spec.path}/external/{_segment(external_id)}")
        except PermanentLoadError as exc:
            if exc.status == 404:
                return None
            raise
        return _unwrap(body, spec.wrapper)

    def delete(self, kind: str, loop_id: int) -> dict[str, Any]:
        body = self.request("DELETE", f"{_spec(kind).path}/{int(loop_id)}")
        return body if isinstance(body, dict) else {"result": body}

    def list_all(self, kind: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every record of a kind matching the filters, page by page (limit 250), following
        next_page_url through this client and its budget. Pages are fetched lazily."""
        spec = _spec(kind)
        return self.list_path(spec.path, spec.list_key, **filters)

    def list_children(self, kind: str, parent_id: int) -> Iterator[dict[str, Any]]:
        """Every record of a child kind under one parent (by the parent's Loop id)."""
        spec = kind_named(kind)
        return self.list_path(spec.child_path(str(int(parent_id))), spec.list_key)

    def list_path(self, path: str, key: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every record of a Loop list endpoint (`{key: [...], next_page_url}`), page by page."""
        body = self.request("GET", path, params={"limit": PAGE_LIMIT, **filters})
        while True:
            if not isinstance(body, dict):
                raise LoadError(f"GET {path}: expected an object with {key!r}, got {body!r:.100}")
            yield from body.get(key) or []
            next_url = body.get("next_page_url")
            if not next_url:
                return
            body = self.request("GET", str(next_url))

    def map_concurrent(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | Exception]]:
        """fn over items on up to `concurrency` threads; see engine.loop.concurrent."""
        return map_concurrent(fn, items, self.concurrency)

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> LoopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spec(kind: str) -> Kind:
    found = kind_named(kind)
    if found.write == "child":
        raise ValueError(f"{found.plural} are written under their {found.parent}")
    return found


def _segment(value: str) -> str:
    """One URL path segment: every reserved character (/, ?, #, spaces...) percent-encoded."""
    return quote(str(value), safe="")


def _unwrap(body: Any, wrapper: str) -> dict[str, Any]:
    """{"product": {...}} or the bare {...}."""
    if isinstance(body, dict):
        inner = body.get(wrapper)
        return dict(inner) if isinstance(inner, dict) else body
    raise LoadError(f"expected a JSON object from Loop, got {body!r:.100}")
