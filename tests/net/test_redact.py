"""Redaction: secrets out of texts and httpx's logs; URLs shown whole but without the query."""

from __future__ import annotations

import gc
import logging
import weakref

import httpx
import pytest

from engine.net import Redactor, SecretLogFilter, shown_url

SECRET = "tok-REDACT-5678"


def test_redact_replaces_every_secret_longest_first() -> None:
    redact = Redactor("abc", "abcdef")
    redact.add("", "xyz")
    assert redact("abcdef abc xyz ab") == "*** *** *** ab"
    assert "abc" not in repr(redact) and repr(redact) == "Redactor(3 secrets)"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param(
            "https://shop.example/admin/api/2024-01/orders.json?page_info=x&key=s",
            "https://shop.example/admin/api/2024-01/orders.json",
            id="path kept, query dropped",
        ),
        pytest.param("http://127.0.0.1:9/x", "http://127.0.0.1:9/x", id="port kept"),
        pytest.param("http://u:pw@[::1]:8080/a?b=1", "http://[::1]:8080/a", id="no user info"),
    ],
)
def test_redact_shown_url(url: str, shown: str) -> None:
    assert shown_url(url) == shown == shown_url(httpx.URL(url))


def test_redact_httpx_logs_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    redact = Redactor(SECRET)
    SecretLogFilter.watch(redact)
    try:
        logging.getLogger("httpx").info("HTTP Request: GET http://x.test/?key=%s", SECRET)
    finally:
        SecretLogFilter.forget(redact)
    assert "key=***" in caplog.text and SECRET not in caplog.text


def test_redact_log_filter_lets_go_of_dropped_redactors() -> None:
    """A client never closed does not leave its secrets in the filter for ever."""
    redact = Redactor(SECRET)
    SecretLogFilter.watch(redact)
    assert SecretLogFilter.watching(redact)
    gone = weakref.ref(redact)
    del redact
    gc.collect()
    assert gone() is None
