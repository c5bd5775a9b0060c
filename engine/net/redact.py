"""Keeping secrets out of messages and logs: the `Redactor`, the log filter on httpx's loggers,
and how a URL and a response body are shown in a message.

Secrets (header values, tokens, passwords, client secrets, query keys, API keys, and the tokens
fetched with them) never reach an exception message, a log line or a repr: every message a
`Sender` builds goes through its `Redactor`, and `SecretLogFilter` scrubs httpx's own request
logs (a `query` auth key travels in the URL that httpx logs).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import ClassVar

import httpx

MASK = "***"
EXCERPT_CHARS = 300


class Redactor:
    """Replaces every known secret in a text with ***."""

    def __init__(self, *secrets: str) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class SecretLogFilter(logging.Filter):
    """Attached once to httpx's loggers: scrubs the secrets of every live redactor.

    Redactors are held weakly, so one that is never `forget()`-ten (a client never closed)
    still leaves with its owner."""

    _redactors: ClassVar[weakref.WeakSet[Redactor]] = weakref.WeakSet()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def watch(cls, redactor: Redactor) -> None:
        with cls._lock:
            cls._redactors.add(redactor)

    @classmethod
    def forget(cls, redactor: Redactor) -> None:
        with cls._lock:
            cls._redactors.discard(redactor)

    @classmethod
    def watching(cls, redactor: Redactor) -> bool:
        with cls._lock:
            return redactor in cls._redactors

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactors = list(self._redactors)
        if redactors:
            message = record.getMessage()
            for redactor in redactors:
                message = redactor(message)
            record.msg, record.args = message, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(SecretLogFilter())


def excerpt(response: httpx.Response) -> str:
    """The start of a response body, on one line (redact it before showing it)."""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def shown_url(url: httpx.URL | str) -> str:
    """A URL as messages show it: scheme, host, port and the whole path, never the query
    (where a key may travel) nor any user:password."""
    url = httpx.URL(url)
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"
