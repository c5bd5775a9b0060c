"""The http connector against a real loopback platform: pagination, auth, retries, budget, secrets."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.http import HttpConnector, HttpExtractError
from connectors.testing import ConnectorConformance, MakeSource
from engine.errors import ExtractError
from engine.net import RetryPolicy
from tests.connectors.platform_server import CLIENT_ID, CLIENT_SECRET, PlatformServer, Scripted

FAST_RETRIES = {"max": 3, "backoff_s": 0.01, "max_backoff_s": 0.05}
PAGINATIONS: dict[str, dict[str, Any]] = {
    "link_header": {"type": "link_header"},
    "next_url": {"type": "next_url", "path": "next_page_url"},
    "cursor": {"type": "cursor", "path": "meta.next"},
    "page_number": {"type": "page_number"},
    "offset": {"type": "offset"},
    "none": {"type": "none", "size_param": None},
}
SECRET = "tok-SECRET-9f8e7d"


class TestHttpConformance(ConnectorConformance):
    @pytest.fixture(params=list(PAGINATIONS))
    def make_source(self, request: pytest.FixtureRequest, platform: PlatformServer) -> MakeSource:
        kind = request.param

        def make(
            _tmp: Path, records: list[dict[str, Any]]
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            source = {
                "connector": "http",
                "base_url": platform.url,
                "pagination": PAGINATIONS[kind],
            }
            return source, {
                "path": platform.dataset(records, kind),
                "records": "items",
                "cursor": "updated_at",
            }

        return make


def _run(
    source: dict[str, Any],
    cfg: dict[str, Any],
    cursor: str | None = None,
    tmp_path: Path = Path("."),
) -> list[dict[str, Any]]:
    with HttpConnector({"connector": "http", **source}, tmp_path) as conn:
        return [r for p in conn.extract(ExtractRequest("e", cfg, cursor)) for r in p.records]


@pytest.mark.parametrize(
    ("auth", "where", "key", "expected"),
    [
        pytest.param(
            {"type": "header", "name": "X-Shop-Token", "value": SECRET},
            "headers",
            "x-shop-token",
            SECRET,
            id="header",
        ),
        pytest.param(
            {"type": "bearer", "token": SECRET},
            "headers",
            "authorization",
            f"Bearer {SECRET}",
            id="bearer",
        ),
        pytest.param(
            {"type": "basic", "username": "etl", "password": SECRET},
            "headers",
            "authorization",
            "Basic ZXRsOnRvay1TRUNSRVQtOWY4ZTdk",
            id="basic",
        ),
        pytest.param(
            {"type": "query", "name": "api_key", "value": SECRET},
            "query",
            "api_key",
            SECRET,
            id="query",
        ),
    ],
)
def test_http_auth_reaches_the_server(
    platform: PlatformServer, auth: dict[str, Any], where: str, key: str, expected: str
) -> None:
    [record] = _run(
        {"base_url": platform.url, "auth": auth, "headers": {"X-Extra": "1"}},
        {"path": "/echo", "records": "items"},
    )
    assert record[where][key] == expected
    assert record["headers"]["x-extra"] == "1"


@pytest.mark.parametrize("client_auth", ["body", "basic"])
def test_http_oauth2_token_fetched_once_and_refreshed_after_401(
    platform: PlatformServer, client_auth: str
) -> None:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": f"{platform.url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "read",
        "client_auth": client_auth,
    }
    source = {
        "connector": "http",
        "base_url": platform.url,
        "auth": auth,
        "pagination": {"type": "offset"},
    }
    cfg = {"path": "/oauth/items", "records": "items", "page_size": 2}
    issued = platform.state.tokens_issued
    with HttpConnector(source, Path(".")) as conn:
        first = [r for p in conn.extract(ExtractRequest("e", cfg)) for r in p.records]
        assert platform.state.tokens_issued == issued + 1, "one token for every page"
        platform.state.valid_tokens.clear()  # the platform revokes it
        second = [r for p in conn.extract(ExtractRequest("e", cfg)) for r in p.records]
    assert [r["id"] for r in first] == [r["id"] for r in second] == list(range(6))
    assert platform.state.tokens_issued == issued + 2, "fetched again after the 401"


def test_http_oauth2_bad_credentials_fail_without_the_secret(platform: PlatformServer) -> None:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": f"{platform.url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": "wrong-secret-value",
    }
    with pytest.raises(ExtractError, match=r"OAuth2 token request.*HTTP 401") as caught:
        _run({"base_url": platform.url, "auth": auth}, {"path": "/oauth/items", "records": "items"})
    assert "wrong-secret-value" not in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_http_retries_transient_statuses(platform: PlatformServer, status: int) -> None:
    sid = platform.script(Scripted(status), Scripted(status), Scripted(200))
    records = _run(
        {"base_url": platform.url, "retries": FAST_RETRIES},
        {"path": f"/script/{sid}", "records": "items"},
    )
    assert records == [{"id": 1}]
    assert len(platform.state.hits[sid]) == 3


def test_http_retry_after_seconds_is_honoured(platform: PlatformServer) -> None:
    sid = platform.script(Scripted(429, {"Retry-After": "1"}), Scripted(200))
    _run(
        {"base_url": platform.url, "retries": FAST_RETRIES},
        {"path": f"/script/{sid}", "records": "items"},
    )
    first, second = platform.state.hits[sid]
    assert second - first >= 0.95, "the server-side gap is at least Retry-After"


def test_http_retry_after_with_a_fraction_is_honoured(platform: PlatformServer) -> None:
    # Before the shared toolkit the connector read only whole seconds and ignored "1.5".
    sid = platform.script(Scripted(429, {"Retry-After": "1.5"}), Scripted(200))
    _run(
        {"base_url": platform.url, "retries": FAST_RETRIES},
        {"path": f"/script/{sid}", "records": "items"},
    )
    first, second = platform.state.hits[sid]
    assert second - first >= 1.45, "the server-side gap is at least Retry-After"


def test_http_gives_up_after_max_retries(platform: PlatformServer) -> None:
    sid = platform.script(Scripted(503, body={"error": "down"}))
    with pytest.raises(HttpExtractError, match=r"HTTP 503.*down.*after 4 attempts") as caught:
        _run(
            {"base_url": platform.url, "retries": FAST_RETRIES},
            {"path": f"/script/{sid}", "records": "items"},
        )
    assert caught.value.status == 503
    assert len(platform.state.hits[sid]) == 4


def test_http_permanent_404_is_not_retried_and_hides_the_token(platform: PlatformServer) -> None:
    sid = platform.script(Scripted(404, body={"error": f"no such list for {SECRET}"}))
    with pytest.raises(HttpExtractError) as caught:
        _run(
            {
                "base_url": platform.url,
                "auth": {"type": "bearer", "token": SECRET},
                "retries": FAST_RETRIES,
            },
            {"path": f"/script/{sid}", "records": "items"},
        )
    message = str(caught.value)
    assert caught.value.status == 404 and "HTTP 404" in message and "no such list" in message
    assert SECRET not in message and "***" in message
    assert len(platform.state.hits[sid]) == 1


def test_http_timeouts_are_retried(platform: PlatformServer) -> None:
    sid = platform.script(Scripted(delay=0.6), Scripted(200))
    records = _run(
        {"base_url": platform.url, "timeout_s": 0.2, "retries": FAST_RETRIES},
        {"path": f"/script/{sid}", "records": "items"},
    )
    assert records == [{"id": 1}] and len(platform.state.hits[sid]) == 2


def test_http_connection_errors_are_retried_then_fail(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(HttpExtractError, match=r"connection failed.*after 2 attempts"):
        _run(
            {"base_url": f"http://127.0.0.1:{port}", "retries": {"max": 1, "backoff_s": 0.01}},
            {"path": "/x"},
        )


def test_http_connection_error_shows_the_whole_url(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    base = f"http://127.0.0.1:{port}/admin/api/2024-01"
    with pytest.raises(HttpExtractError) as caught:
        _run(
            {
                "base_url": base,
                "auth": {"type": "query", "name": "key", "value": SECRET},
                "retries": {"max": 0},
            },
            {"path": "/orders.json", "params": {"status": "any"}},
        )
    message = str(caught.value)
    assert f"GET {base}/orders.json: connection failed" in message
    assert "status=" not in message and SECRET not in message and "?" not in message
    assert caught.value.status is None


def test_http_rate_limit_spaces_requests(platform: PlatformServer) -> None:
    path = platform.dataset(
        [{"id": i, "updated_at": "2024-01-01T00:00:00Z"} for i in range(6)], "offset"
    )
    source = {
        "connector": "http",
        "base_url": platform.url,
        "rate_limit": "20/s",
        "pagination": {"type": "offset"},
    }
    with HttpConnector(source, Path(".")) as conn:
        started = time.monotonic()
        list(conn.extract(ExtractRequest("e", {"path": path, "records": "items", "page_size": 1})))
        elapsed = time.monotonic() - started
        assert conn.requests == 7
    assert elapsed >= 6 * 0.05 - 0.01


@pytest.mark.parametrize(
    ("source", "cursor", "param"),
    [
        pytest.param({}, "updated_at", "updated_at_min", id="shorthand default"),
        pytest.param(
            {"incremental_param": "since_{field}"},
            "updated_at",
            "since_updated_at",
            id="source template",
        ),
        pytest.param(
            {},
            {"field": "updated_at", "param": "changed_after"},
            "changed_after",
            id="explicit param",
        ),
    ],
)
def test_http_cursor_goes_out_as_a_parameter(
    platform: PlatformServer, source: dict[str, Any], cursor: Any, param: str
) -> None:
    cfg = {"path": "/echo", "records": "items", "cursor": cursor, "params": {"status": "any"}}
    [record] = _run({"base_url": platform.url, **source}, cfg, cursor="2024-03-01T00:00:00Z")
    assert record["query"][param] == "2024-03-01T00:00:00Z"
    assert record["query"]["status"] == "any"


def test_http_secrets_never_in_logs_reprs_or_errors(
    platform: PlatformServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sid = platform.script(Scripted(500, body={"echo": SECRET}))
    source = {
        "connector": "http",
        "base_url": platform.url,
        "auth": {"type": "query", "name": "key", "value": SECRET},
        "retries": FAST_RETRIES,
    }
    with HttpConnector(source, Path(".")) as conn:
        list(conn.extract(ExtractRequest("e", {"path": "/echo", "records": "items"})))
        with pytest.raises(ExtractError) as caught:
            list(conn.extract(ExtractRequest("e", {"path": f"/script/{sid}"})))
        shown = [repr(conn), repr(conn.auth), str(caught.value), repr(caught.value)]
    assert "HTTP Request" in caplog.text, "httpx logged its requests"
    assert SECRET not in caplog.text
    assert all(SECRET not in text for text in shown)


@pytest.mark.parametrize(
    ("answer", "records", "message"),
    [
        pytest.param(Scripted(text="<html>"), None, "the body is not JSON", id="not json"),
        pytest.param(
            Scripted(body={"items": 3}), "items", "records 'items' is not a list", id="not a list"
        ),
        pytest.param(
            Scripted(body={"items": []}), None, r"the body \(set extract.records\)", id="no records"
        ),
    ],
)
def test_http_bad_bodies_are_extract_errors(
    platform: PlatformServer, answer: Scripted, records: str | None, message: str
) -> None:
    sid = platform.script(answer)
    cfg = {"path": f"/script/{sid}", **({"records": records} if records else {})}
    with pytest.raises(ExtractError, match=message):
        _run({"base_url": platform.url}, cfg)


def test_http_retry_after_longer_than_allowed_fails_at_once(platform: PlatformServer) -> None:
    sid = platform.script(Scripted(429, {"Retry-After": "3600"}), Scripted(200))
    retries = {**FAST_RETRIES, "max_retry_after_s": 5}
    with pytest.raises(HttpExtractError, match=r"HTTP 429.*Retry-After 3600 s is more than"):
        _run({"base_url": platform.url, "retries": retries}, {"path": f"/script/{sid}"})
    assert len(platform.state.hits[sid]) == 1


@pytest.mark.parametrize("rate", ["0/min", "0/s", "0.0/hour"])
def test_http_zero_rate_limit_is_unlimited(platform: PlatformServer, rate: str) -> None:
    path = platform.dataset(
        [{"id": i, "updated_at": "2024-01-01T00:00:00Z"} for i in range(3)], "offset"
    )
    source = {"base_url": platform.url, "rate_limit": rate, "pagination": {"type": "offset"}}
    records = _run(source, {"path": path, "records": "items", "page_size": 1})
    assert [r["id"] for r in records] == [0, 1, 2]
    with HttpConnector({"connector": "http", **source}, Path(".")) as conn:
        assert conn.sender.budget.unlimited


def test_http_uses_the_toolkits_full_jitter() -> None:
    with HttpConnector(
        {"connector": "http", "base_url": "http://x.test", "retries": {"max_backoff_s": 1}},
        Path("."),
    ) as conn:
        policy = conn.sender.retry
    assert isinstance(policy, RetryPolicy)
    delays = [policy.delay(5) for _ in range(200)]
    assert all(0.0 <= d <= 1.0 for d in delays)
    # Equal jitter (the connector's old rule) never went below half the ceiling.
    assert min(delays) < 0.5
