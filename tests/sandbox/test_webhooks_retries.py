"""Loop's delivery rules over real HTTP (loop-api.md §3.3): only X-Loop-Signature, 5 retries
with backoff on 500/503/network errors, none on 4xx, Retry-After up to 30 minutes; and the
delivery faults a receiver must survive (duplicates, events out of order)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from engine.sandbox.delivery import parse_retry_after
from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import (
    SECRET,
    TIME_SCALE,
    Receiver,
    api,
    create_return,
    flush,
    sandbox,
    signature_ok,
    subscribe,
    sync_order,
)

_tags = itertools.count(8000)
# What any HTTP client sends; everything else on a delivery is Loop's own.
TRANSPORT_HEADERS = {"host", "content-length", "accept", "accept-encoding", "connection"}


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def sb(shared: SandboxHandle) -> SandboxHandle:
    flush(shared)
    shared.admin.reset()
    return shared


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def _one_event(handle: SandboxHandle, rx: Receiver) -> list[dict[str, Any]]:
    """Subscribes `rx` to return.created, creates a return, waits: every attempt made."""
    subscribe(handle, rx.url, "return", "return.created")
    create_return(handle, sync_order(handle, tag=str(next(_tags))))
    flush(handle)
    return list(handle.admin.get("/deliveries").json()["deliveries"])


def test_webhooks_retries_deliveries_carry_only_loops_signature(
    sb: SandboxHandle, rx: Receiver
) -> None:
    _one_event(sb, rx)
    (got,) = rx.received
    own = set(got.headers) - TRANSPORT_HEADERS - {"user-agent"}
    assert own == {"content-type", "x-loop-signature"}
    assert signature_ok(SECRET, got.raw, got.headers["x-loop-signature"])


def test_webhooks_retries_debug_headers_only_when_asked() -> None:
    with sandbox(webhook_debug_headers=True) as handle, Receiver() as rx:
        rx.script = [500]
        _one_event(handle, rx)
    first, second = rx.received
    assert first.headers["x-loop-webhook-attempt"] == "1"
    assert second.headers["x-loop-webhook-attempt"] == "2"
    assert first.headers["x-loop-webhook-id"] == second.headers["x-loop-webhook-id"]
    assert first.headers["x-loop-event-id"]


@pytest.mark.parametrize(
    ("status", "attempts"),
    [
        pytest.param(500, 6, id="500 retried"),
        pytest.param(503, 6, id="503 retried"),
        pytest.param(408, 6, id="408 retried (undocumented)"),
        pytest.param(409, 6, id="409 retried (undocumented)"),
        pytest.param(429, 6, id="429 retried (undocumented)"),
        pytest.param(502, 6, id="502 retried (undocumented)"),
        pytest.param(504, 6, id="504 retried (undocumented)"),
        pytest.param(400, 1, id="400 not retried"),
        pytest.param(401, 1, id="401 not retried"),
        pytest.param(403, 1, id="403 not retried"),
        pytest.param(404, 1, id="404 not retried"),
        pytest.param(405, 1, id="405 not retried"),
    ],
)
def test_webhooks_retries_follow_loops_policy(
    sb: SandboxHandle, rx: Receiver, status: int, attempts: int
) -> None:
    rx.script = [status] * 10
    made = _one_event(sb, rx)
    assert [a["status"] for a in made] == [status] * attempts
    assert [a["attempt"] for a in made] == list(range(1, attempts + 1))
    assert made[-1]["retry_in_s"] is None and len(rx.received) == attempts
    for n, attempt in enumerate(made[:-1]):  # exponential backoff from 0.5 s, with jitter
        step = 0.5 * 2**n * TIME_SCALE
        assert step / 2 <= attempt["retry_in_s"] <= step


def test_webhooks_retries_honour_retry_after(sb: SandboxHandle, rx: Receiver) -> None:
    rx.script = [(503, {"Retry-After": "5"}), (429, {"Retry-After": "0.5"})]
    made = _one_event(sb, rx)
    assert [a["status"] for a in made] == [503, 429, 200]
    assert made[0]["retry_in_s"] == pytest.approx(5 * TIME_SCALE)
    assert made[1]["retry_in_s"] == pytest.approx(0.5 * TIME_SCALE)


def test_webhooks_retries_a_retry_after_over_30_minutes_fails_the_delivery(
    sb: SandboxHandle, rx: Receiver
) -> None:
    rx.script = [(503, {"Retry-After": "1801"})]
    (only,) = _one_event(sb, rx)
    assert only["status"] == 503 and only["retry_in_s"] is None
    assert "30 minutes" in only["error"]
    assert len(rx.received) == 1


def test_webhooks_retries_a_retry_after_of_30_minutes_is_honoured() -> None:
    with sandbox(webhook_time_scale=0.0001) as handle, Receiver() as rx:
        rx.script = [(503, {"Retry-After": "1800"})]
        made = _one_event(handle, rx)
    assert [a["status"] for a in made] == [503, 200]
    assert made[0]["retry_in_s"] == pytest.approx(0.18)


def test_webhooks_retries_duplicate_fault_sends_the_same_event_twice(
    sb: SandboxHandle, rx: Receiver
) -> None:
    sb.admin.configure(webhook_duplicate_rate=1.0)
    made = _one_event(sb, rx)
    first, second = rx.received
    assert first.raw == second.raw
    assert first.headers["x-loop-signature"] == second.headers["x-loop-signature"]
    assert len({a["delivery_id"] for a in made}) == 2 and len({a["event_id"] for a in made}) == 1
    assert sorted(str(a["fault"]) for a in made) == ["None", "duplicate"]


def test_webhooks_retries_reorder_fault_lets_later_events_overtake(
    sb: SandboxHandle, rx: Receiver
) -> None:
    subscribe(sb, rx.url, "return", "return.created")
    subscribe(sb, rx.url, "return", "return.closed")
    order = sync_order(sb, tag=str(next(_tags)))
    # return.created is held back 0.5-1 s (50 s x the time scale); return.closed is not.
    sb.admin.configure(webhook_reorder_rate=1.0, webhook_reorder_delay_s=50)
    created = create_return(sb, order)
    sb.admin.configure(webhook_reorder_rate=0.0)
    assert api(sb).post(f"/warehouse/return/{created['id']}/close").json() == "true"
    flush(sb)
    assert [b["trigger"] for b in rx.bodies()] == ["return.closed", "return.created"]
    held = sb.admin.get("/deliveries", params={"trigger": "return.created"}).json()["deliveries"]
    assert held[0]["fault"] == "delayed"


def test_webhooks_retries_reset_turns_the_faults_off(sb: SandboxHandle, rx: Receiver) -> None:
    sb.admin.configure(webhook_duplicate_rate=1.0, webhook_reorder_rate=1.0)
    sb.admin.reset()
    made = _one_event(sb, rx)
    assert len(made) == 1 and made[0]["fault"] is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param("120", 120.0, id="delta seconds"),
        pytest.param("1.5", 1.5, id="fractional seconds"),
        pytest.param("-3", 0.0, id="negative is now"),
        pytest.param("soon", None, id="unreadable: backoff instead"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_webhooks_retries_read_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_webhooks_retries_read_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    found = parse_retry_after(when)
    assert found is not None and 85 <= found <= 90
