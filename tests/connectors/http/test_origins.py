"""The source's credentials stay with its host: a next link or a redirect to another origin is
refused naming it, or (declared in allowed_origins) followed with no credential and no
configured header. Two real servers on loopback: the platform, and a stranger on another port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ExtractRequest
from connectors.http import HttpConnector
from engine.errors import ConfigError, ExtractError

TOKEN = "shpat-ORIGIN-SECRET-42"


class Server:
    """A loopback server whose routes answer (status, headers, body); it records what came."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], Any]]) -> None:
        self.routes, self.seen = routes, []  # type: ignore[var-annotated]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append((self.path, dict(self.headers)))
                status, headers, body = outer.routes.get(self.path.split("?")[0], (404, {}, {}))
                raw = isinstance(body, str) and body.startswith("RAW:")
                data = body[4:].encode() if raw else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stranger() -> Iterator[Server]:
    server = Server({"/more": (200, {}, {"items": [{"id": 2}]})})
    yield server
    server.close()


def _platform(stranger: Server, how: str) -> Server:
    if how == "link":
        first = (200, {"Link": f'<{stranger.url}/more>; rel="next"'}, {"items": [{"id": 1}]})
    else:
        first = (302, {"Location": f"{stranger.url}/more"}, {})
    return Server({"/items": first})


def _extract(platform: Server, **source: Any) -> list[dict[str, Any]]:
    config = {
        "connector": "http",
        "base_url": platform.url,
        "auth": {"type": "header", "name": "X-Shop-Token", "value": TOKEN},
        "headers": {"X-Custom": f"custom-{TOKEN}"},
        "pagination": {"type": "link_header"},
        "retries": {"max": 0},
        **source,
    }
    with HttpConnector(config, Path(".")) as connector:
        request = ExtractRequest("items", {"path": "/items", "records": "items"})
        return [r for page in connector.extract(request) for r in page.records]


@pytest.mark.parametrize("how", ["link", "redirect"])
def test_another_origin_is_refused_naming_it_and_gets_nothing(stranger: Server, how: str) -> None:
    platform = _platform(stranger, how)
    try:
        with pytest.raises(ExtractError) as caught:
            _extract(platform)
    finally:
        platform.close()
    message = str(caught.value)
    assert "refusing to send credentials to http://127.0.0.1:" in message
    assert stranger.url.split(":")[-1] in message
    assert TOKEN not in message
    assert stranger.seen == []


@pytest.mark.parametrize("how", ["link", "redirect"])
def test_an_allowed_origin_is_followed_without_credentials(stranger: Server, how: str) -> None:
    platform = _platform(stranger, how)
    try:
        records = _extract(platform, allowed_origins=[stranger.url])
    finally:
        platform.close()
    assert records[-1] == {"id": 2}
    [(_, headers)] = stranger.seen
    assert TOKEN not in json.dumps(headers)
    assert {"X-Shop-Token", "X-Custom"}.isdisjoint(headers)
    [(_, sent)] = platform.seen
    assert sent["X-Shop-Token"] == TOKEN


def test_a_redirect_within_the_origin_keeps_the_credentials() -> None:
    platform = Server(
        {
            "/items": (301, {"Location": "/v2/items"}, {}),
            "/v2/items": (200, {}, {"items": [{"id": 7}]}),
        }
    )
    try:
        assert _extract(platform) == [{"id": 7}]
    finally:
        platform.close()
    assert [path.split("?")[0] for path, _ in platform.seen] == ["/items", "/v2/items"]
    assert all(headers["X-Shop-Token"] == TOKEN for _, headers in platform.seen)


@pytest.mark.parametrize("url", ["::::", "ftp://x.test", "http://", "not a url"])
def test_a_base_url_that_is_no_http_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL with a host"):
        HttpConnector({"connector": "http", "base_url": url}, Path("."))


def test_a_json_body_nested_too_deep_is_an_extract_error() -> None:
    # served as raw text: json.dumps itself would refuse this nesting
    platform = Server({"/items": (200, {}, "RAW:" + "[" * 10_000 + "]" * 10_000)})
    try:
        with pytest.raises(ExtractError, match="nested too deeply"):
            _extract(platform)
    finally:
        platform.close()


def test_a_source_that_never_answers_stops_the_extract_within_its_outage_window() -> None:
    import socket
    import time

    from engine.net import TargetDown

    listener = socket.socket()  # accepts connections, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = {
        "connector": "http",
        "base_url": url,
        "timeout_s": 0.2,
        "retries": {"max": 100, "backoff_s": 0.01, "max_backoff_s": 0.02},
        "outage_s": 1,
    }
    started = time.monotonic()
    try:
        with HttpConnector(config, Path(".")) as connector, pytest.raises(TargetDown):
            request = ExtractRequest("items", {"path": "/items", "records": "items"})
            list(connector.extract(request))
    finally:
        listener.close()
    assert time.monotonic() - started < 10, "100 retries of 0.2 s would take 20 s and more"
