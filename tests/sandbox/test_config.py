"""Settings declared on SandboxConfig: webhook timeout, restock webhooks, shop id."""

from __future__ import annotations

import itertools

import pytest

from engine.loop.webhooks import SIGNATURE_HEADER, verify
from engine.sandbox.core import DEFAULT_SHOP_ID, SandboxConfig
from tests.sandbox.support import (
    SECRET,
    Receiver,
    api,
    create_return,
    flush,
    sandbox,
    subscribe,
    sync_order,
)

_tags = itertools.count(7000)


def test_config_defaults_are_the_documented_ones() -> None:
    config = SandboxConfig()
    assert config.webhook_timeout_s == 5.0
    assert config.restock_webhooks is True
    # Loop's delivery policy: 5 retries; Loop sends only X-Loop-Signature; ids as strings.
    assert config.webhook_retries == 5 and config.webhook_debug_headers is False
    assert config.integer_ids is False
    assert config.webhook_duplicate_rate == config.webhook_reorder_rate == 0.0
    assert config.process_fail_rate == 0.0
    assert config.shop_id == DEFAULT_SHOP_ID > 2**53


def test_config_rejects_a_webhook_timeout_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="webhook_timeout_s"):
        SandboxConfig(webhook_timeout_s=0)


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param({"webhook_duplicate_rate": 1.5}, id="duplicate rate over 1"),
        pytest.param({"webhook_reorder_rate": -0.5}, id="reorder rate under 0"),
        pytest.param({"process_fail_rate": 2.0}, id="process fail rate over 1"),
        pytest.param({"webhook_reorder_delay_s": -1.0}, id="negative reorder delay"),
        pytest.param({"webhook_retries": -1}, id="negative retries"),
        pytest.param({"webhook_backoff_s": -0.1}, id="negative backoff"),
        pytest.param({"webhook_time_scale": -1.0}, id="negative time scale"),
    ],
)
def test_config_rejects_bad_fault_and_schedule_settings(setting: dict[str, float]) -> None:
    (name,) = setting
    with pytest.raises(ValueError, match=name):
        SandboxConfig(**setting)  # type: ignore[arg-type]


def test_config_restock_webhooks_off_for_the_whole_sandbox() -> None:
    with sandbox(restock_webhooks=False) as sb, Receiver() as rx:
        subscribe(sb, rx.url, "restock", "restock.requested")
        subscribe(sb, rx.url, "return", "return.closed")
        order = sync_order(sb, tag=str(next(_tags)))
        created = create_return(sb, order)
        assert api(sb).post(f"/warehouse/return/{created['id']}/process").status_code == 200
        flush(sb)
    assert [r.json()["trigger"] for r in rx.received] == ["return.closed"]


def test_config_shop_id_is_on_returns_subscriptions_and_payloads() -> None:
    with sandbox(shop_id=424242) as sb, Receiver() as rx:
        hook = subscribe(sb, rx.url, "return", "return.created")
        created = create_return(sb, sync_order(sb, tag=str(next(_tags))))
        flush(sb)
    assert hook["shop_id"] == created["shop_id"] == 424242
    assert rx.received[0].json()["shop_id"] == "424242"  # ids in webhooks are strings


def test_config_webhook_timeout_cuts_a_slow_receiver_off() -> None:
    with sandbox(webhook_timeout_s=0.1, webhook_retries=0) as sb, Receiver() as rx:
        rx.delay_s = 1.0
        subscribe(sb, rx.url, "return", "return.created")
        create_return(sb, sync_order(sb, tag=str(next(_tags))))
        flush(sb)
        (attempt,) = sb.admin.get("/deliveries").json()["deliveries"]
    assert attempt["status"] is None and "Timeout" in attempt["error"]


def test_config_deliveries_verify_with_the_engine_verifier() -> None:
    with sandbox() as sb, Receiver() as rx:
        subscribe(sb, rx.url, "return", "return.created")
        create_return(sb, sync_order(sb, tag=str(next(_tags))))
        flush(sb)
    (got,) = rx.received
    header = got.headers[SIGNATURE_HEADER.lower()]
    assert verify(got.raw, header, ["rotated-away", SECRET])
    assert not verify(got.raw, header, ["another-secret"])
