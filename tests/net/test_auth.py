"""Auth flows: where each puts its key, which secrets each lists, OAuth2's token life cycle."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from engine.net import Redactor, RequestFailed, build_auth

SECRET = "tok-AUTH-9f8e7d"


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"headers": dict(request.headers), "query": dict(request.url.params)}
    )


@pytest.mark.parametrize(
    ("cfg", "where", "key", "expected"),
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
            "Basic ZXRsOnRvay1BVVRILTlmOGU3ZA==",
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
def test_auth_puts_the_key_where_asked_and_lists_it(
    cfg: dict[str, Any], where: str, key: str, expected: str
) -> None:
    redact = Redactor()
    auth = build_auth(cfg, redact)
    assert auth is not None
    with httpx.Client(transport=httpx.MockTransport(_echo), auth=auth) as client:
        seen = client.get("http://api.test/echo").json()
    assert seen[where][key] == expected
    assert redact(json.dumps(seen)).count(SECRET) == 0
    assert SECRET not in repr(auth) and cfg["type"] in repr(auth)


def test_auth_none_without_a_block() -> None:
    assert build_auth(None, Redactor()) is None


class TokenServer:
    """A token endpoint and an API that accepts only the last token issued."""

    def __init__(self, token_status: int = 200) -> None:
        self.token_status = token_status
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            self.forms.append(parse_qs(request.content.decode()))
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            self.issued.append(f"issued-{len(self.issued)}")
            return httpx.Response(200, json={"access_token": self.issued[-1], "expires_in": 3600})
        good = self.issued and request.headers["authorization"] == f"Bearer {self.issued[-1]}"
        return httpx.Response(200 if good else 401, json={"ok": bool(good)})


def _oauth(server: TokenServer, redact: Redactor) -> httpx.Client:
    cfg = {
        "type": "oauth2_client_credentials",
        "token_url": "http://auth.test/token?tenant=1",
        "client_id": "etl",
        "client_secret": SECRET,
        "scope": "read",
    }
    auth = build_auth(cfg, redact)
    return httpx.Client(transport=httpx.MockTransport(server), auth=auth)


def test_auth_oauth2_fetches_once_and_again_after_a_401() -> None:
    server, redact = TokenServer(), Redactor()
    with _oauth(server, redact) as client:
        assert client.get("http://api.test/a").json() == {"ok": True}
        assert client.get("http://api.test/b").json() == {"ok": True}
        assert len(server.issued) == 1
        server.issued.append("revoked-elsewhere")  # the API now wants another token
        assert client.get("http://api.test/c").json() == {"ok": True}
    assert len(server.issued) == 3
    assert server.forms[0]["client_secret"] == [SECRET] and server.forms[0]["scope"] == ["read"]
    assert redact(f"{SECRET} issued-0 issued-2") == "*** *** ***"


@pytest.mark.parametrize(("status", "transient"), [(401, False), (503, True)])
def test_auth_oauth2_token_failure_is_a_request_failure(status: int, transient: bool) -> None:
    redact = Redactor()
    with _oauth(TokenServer(status), redact) as client, pytest.raises(RequestFailed) as caught:
        client.get("http://api.test/a")
    failure = caught.value
    assert str(failure).startswith(
        f"OAuth2 token request to http://auth.test/token failed: HTTP {status}"
    )
    assert failure.status == status and failure.transient is transient
    assert SECRET not in str(failure) and "tenant" not in str(failure)
