"""Loop's webhook signature (engine/loop/webhooks.py): PHP-style body, sign, verify with rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign, verify

SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"
PAYLOAD = {
    "topic": "return",
    "trigger": "return.closed",
    "id": 2**53 + 7,
    "status_page_url": "https://returns.example.com/r/1",
    "customer": "zoë@example.com",
    "total": "63.30",
}
RAW = php_json(PAYLOAD)


def test_webhooks_php_json_is_compact_ascii_with_escaped_slashes() -> None:
    text = RAW.decode("ascii")
    assert "\n" not in text and ", " not in text and ": " not in text
    assert "https:\\/\\/returns.example.com\\/r\\/1" in text
    assert "zo\\u00eb@example.com" in text
    assert f'"id":{2**53 + 7}' in text
    assert json.loads(RAW) == PAYLOAD


def test_webhooks_sign_is_base64_of_hmac_sha256_over_the_raw_bytes() -> None:
    expected = base64.b64encode(hmac.new(SECRET.encode(), RAW, hashlib.sha256).digest()).decode()
    assert sign(SECRET, RAW) == expected


def test_webhooks_header_name_is_the_documented_one() -> None:
    assert SIGNATURE_HEADER == "X-Loop-Signature"


def test_webhooks_verify_accepts_the_right_secret() -> None:
    assert verify(RAW, sign(SECRET, RAW), [SECRET]) is True


def test_webhooks_verify_accepts_surrounding_whitespace_in_the_header() -> None:
    assert verify(RAW, f" {sign(SECRET, RAW)} ", [SECRET]) is True


def test_webhooks_verify_accepts_the_old_secret_during_rotation() -> None:
    signed_with_old = sign(OLD_SECRET, RAW)
    assert verify(RAW, signed_with_old, [SECRET, OLD_SECRET]) is True
    assert verify(RAW, sign(SECRET, RAW), [SECRET, OLD_SECRET]) is True
    assert verify(RAW, signed_with_old, [SECRET]) is False


@pytest.mark.parametrize(
    ("raw", "header", "secrets"),
    [
        pytest.param(RAW, sign("wrong", RAW), [SECRET], id="wrong secret"),
        pytest.param(RAW.replace(b"63.30", b"99.30"), sign(SECRET, RAW), [SECRET], id="tampered"),
        pytest.param(
            json.dumps(PAYLOAD).encode(), sign(SECRET, RAW), [SECRET], id="re-serialised JSON"
        ),
        pytest.param(RAW, None, [SECRET], id="missing header"),
        pytest.param(RAW, "", [SECRET], id="empty header"),
        pytest.param(RAW, "   ", [SECRET], id="blank header"),
        pytest.param(RAW, "not base64 at all é", [SECRET], id="garbage header"),
        pytest.param(RAW, sign(SECRET, RAW), [], id="no secrets"),
        pytest.param(RAW, sign("", RAW), [""], id="empty secret"),
    ],
)
def test_webhooks_verify_rejects(raw: bytes, header: str | None, secrets: list[str]) -> None:
    assert verify(raw, header, secrets) is False
