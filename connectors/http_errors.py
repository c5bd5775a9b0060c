"""Errors of the `http` connector, and the redaction that keeps secrets out of them and of logs.

Secrets (header values, tokens, passwords, client secrets, query keys, and the tokens fetched
with them) never reach an exception message, a log line or a repr: every message the connector
builds goes through a `Redactor`, and `SecretLogFilter` scrubs httpx's own request logs (a
`query` auth key travels in the URL that httpx logs).
"""

from __future__ import annotations

import logging
from typing import ClassVar

import httpx

from engine.errors import ExtractError

MASK = "***"
EXCERPT_CHARS = 300


class HttpExtractError(ExtractError):
    """The source answered with an error status (after any retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status is not None and (self.status == 429 or self.status >= 500)


class Redactor:
    """Replaces every known secret in a text with ***."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class SecretLogFilter(logging.Filter):
    """Attached once to httpx's loggers: scrubs the secrets of every open connector."""

    redactors: ClassVar[list[Redactor]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactors:
            message = record.getMessage()
            for redactor in list(self.redactors):
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


def shown_url(url: httpx.URL) -> str:
    """A URL as messages show it: without its query, where a key may travel."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"
