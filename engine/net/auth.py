"""Authentication of outbound requests as httpx auth flows; each lists its secrets for redaction.

Types (the `auth:` block of an http source): header (name, value), bearer (token), basic
(username, password), query (a parameter name and value) and OAuth2 client credentials (token
fetched once, kept until shortly before it expires, fetched anew on a 401 and the request
replayed once).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from engine.net.errors import RequestFailed, retried_status
from engine.net.redact import Redactor, excerpt, shown_url


class SecretAuth(httpx.Auth):
    """An auth flow that can list its secrets and never shows them in its repr."""

    kind = "auth"

    def secrets(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} (secrets hidden)>"


class HeaderAuth(SecretAuth):
    kind = "header"

    def __init__(self, name: str, value: str) -> None:
        self.name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.name] = self._value
        yield request

    def secrets(self) -> list[str]:
        return [self._value]


class BearerAuth(HeaderAuth):
    kind = "bearer"

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", f"Bearer {token}")
        self._token = token

    def secrets(self) -> list[str]:
        return [self._token, self._value]


class BasicAuth(HeaderAuth):
    kind = "basic"

    def __init__(self, username: str, password: str) -> None:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        super().__init__("Authorization", f"Basic {pair}")
        self._password = password

    def secrets(self) -> list[str]:
        return [self._password, self._value.removeprefix("Basic ")]


class QueryAuth(SecretAuth):
    kind = "query"

    def __init__(self, name: str, value: str) -> None:
        self.name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_set_param(self.name, self._value)
        yield request

    def secrets(self) -> list[str]:
        return [self._value, str(httpx.QueryParams({self.name: self._value}))]


class OAuth2ClientCredentials(SecretAuth):
    """OAuth2 client credentials: one token fetched and kept until shortly before it expires;
    a 401 fetches a new one and replays the request once."""

    kind = "oauth2_client_credentials"

    def __init__(self, cfg: Mapping[str, Any], redact: Redactor) -> None:
        self.token_url = str(cfg["token_url"])
        self._client_id = str(cfg["client_id"])
        self._client_secret = str(cfg["client_secret"])
        self.scope = cfg.get("scope")
        self.client_auth = str(cfg.get("client_auth", "body"))
        self._redact = redact
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0

    def secrets(self) -> list[str]:
        return [self._client_secret, *([self._token] if self._token else [])]

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._store((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            with self._lock:
                self._store((yield self._token_request()))
                request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = str(self.scope)
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            pair = f"{self._client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            self._redact.add(headers["Authorization"].removeprefix("Basic "))
        else:
            data |= {"client_id": self._client_id, "client_secret": self._client_secret}
        return httpx.Request("POST", self.token_url, data=data, headers=headers)

    def _store(self, response: httpx.Response) -> None:
        response.read()  # sync_auth_flow is overridden (for the lock): it reads bodies itself
        status = response.status_code
        if status != 200:
            text = f"HTTP {status}: {self._redact(excerpt(response))}"
            raise RequestFailed(
                f"OAuth2 token request to {shown_url(self.token_url)} failed: {text}",
                label=f"POST {shown_url(self.token_url)}",
                detail=text,
                status=status,
                transient=retried_status(status),
            )
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise RequestFailed(
                f"OAuth2 token response from {shown_url(self.token_url)} has no access_token",
                status=status,
            ) from None
        self._token = token
        self._redact.add(token)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float | str) else 1e9
        self._expires_at = time.monotonic() + lifetime - min(30.0, lifetime / 10)
        self.fetched += 1


def build_auth(cfg: Mapping[str, Any] | None, redact: Redactor) -> SecretAuth | None:
    """The auth flow for `source.auth`, its secrets registered with `redact`."""
    if not cfg:
        return None
    kind = cfg["type"]
    auth: SecretAuth
    if kind == "header":
        auth = HeaderAuth(str(cfg["name"]), str(cfg["value"]))
    elif kind == "bearer":
        auth = BearerAuth(str(cfg["token"]))
    elif kind == "basic":
        auth = BasicAuth(str(cfg["username"]), str(cfg["password"]))
    elif kind == "query":
        auth = QueryAuth(str(cfg["name"]), str(cfg["value"]))
    else:
        auth = OAuth2ClientCredentials(cfg, redact)
    redact.add(*auth.secrets())
    return auth
