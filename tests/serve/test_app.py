"""The receiver over real HTTP on loopback: signatures, the size limit, duplicates, bodies of
unexpected shape, /healthz and /metrics."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from engine.state.spool import HEADER
from tests.serve.support import (
    PREVIOUS,
    SECRET,
    Receiver,
    return_event,
    running_receiver,
    signed,
)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with running_receiver(tmp_path / "s.duckdb", (SECRET, PREVIOUS)) as r:
        yield r


def _stored(receiver: Receiver) -> int:
    return len(receiver.state.inbox_events())


def _spooled_bytes(receiver: Receiver) -> int:
    """Bytes of frames in the spool file (moved or not), read from the file itself."""
    return receiver.state.spool.path.stat().st_size - HEADER


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    wanted = f"{name}{{{inner}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{wanted} not in the metrics")


def _tampered() -> tuple[bytes, dict[str, str]]:
    raw, headers = signed(return_event(state="open"))
    return raw.replace(b'"open"', b'"closed"'), headers


def _reserialised() -> tuple[bytes, dict[str, str]]:
    raw, headers = signed(return_event(status_page_url="https://x.example/r/1"))
    # The same JSON as Python writes it: spaces, unescaped slashes. Signed bytes differ.
    return json.dumps(json.loads(raw)).encode(), headers


BAD = [
    pytest.param(lambda: (php_json(return_event()), {}), id="no signature header"),
    pytest.param(lambda: signed(return_event(), "some-other-secret"), id="wrong secret"),
    pytest.param(_tampered, id="tampered body"),
    pytest.param(_reserialised, id="re-serialised body"),
    pytest.param(
        lambda: (php_json(return_event()), {SIGNATURE_HEADER: ""}), id="empty signature header"
    ),
    pytest.param(
        lambda: (php_json(return_event()), {SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"}),
        id="garbage signature",
    ),
]


@pytest.mark.parametrize("make", BAD)
def test_receiver_refuses_a_bad_signature_with_401_and_stores_nothing(
    receiver: Receiver, make
) -> None:
    raw, headers = make()
    response = receiver.http.post("/webhooks/loop", content=raw, headers=headers)
    assert response.status_code == 401
    assert SECRET not in response.text and PREVIOUS not in response.text
    assert raw.decode() not in response.text
    assert _stored(receiver) == 0 and _spooled_bytes(receiver) == 0


@pytest.mark.parametrize("secret", [SECRET, PREVIOUS], ids=["current secret", "previous secret"])
def test_receiver_accepts_the_current_and_the_rotating_secret(
    receiver: Receiver, secret: str
) -> None:
    response = receiver.post(return_event(), secret)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    assert _stored(receiver) == 1


def test_receiver_refuses_the_old_secret_once_the_rotation_ends(tmp_path: Path) -> None:
    with running_receiver(tmp_path / "s.duckdb", (SECRET,)) as receiver:
        assert receiver.post(return_event(), PREVIOUS).status_code == 401
        assert receiver.post(return_event(), SECRET).status_code == 200
        assert _stored(receiver) == 1


def test_receiver_keeps_the_raw_bytes_exactly(receiver: Receiver) -> None:
    raw, headers = signed(return_event(return_id=123, customer="a/b@example.com"))
    assert b"\\/" in raw  # PHP-style escaped slash, kept as sent
    assert receiver.http.post("/webhooks/loop", content=raw, headers=headers).status_code == 200
    (row,) = receiver.state.inbox_events()
    event = receiver.state.inbox_event(row["key"])
    assert event is not None and event["body"] == raw
    assert row["return_id"] == "123" and row["source"] == "webhook"


def test_receiver_answers_413_past_the_limit_without_storing(tmp_path: Path) -> None:
    with running_receiver(tmp_path / "s.duckdb", max_body_bytes=2048) as receiver:
        small = return_event(note="x" * 1000)
        assert receiver.post(small).status_code == 200
        spooled = _spooled_bytes(receiver)
        big = return_event(note="x" * 4000)
        assert receiver.post(big).status_code == 413
        assert _spooled_bytes(receiver) == spooled
        assert _stored(receiver) == 1


def test_receiver_413_does_not_wait_for_a_body_it_will_not_read(tmp_path: Path) -> None:
    """Content-Length over the limit: answered before the body is sent at all."""
    with running_receiver(tmp_path / "s.duckdb") as receiver:
        host, port = receiver.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /webhooks/loop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1073741824\r\n\r\n{"
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413")


def test_receiver_413_on_a_chunked_body_over_the_limit(tmp_path: Path) -> None:
    with running_receiver(tmp_path / "s.duckdb", max_body_bytes=1000) as receiver:
        raw, headers = signed(return_event(note="y" * 2000))
        chunks = (raw[i : i + 100] for i in range(0, len(raw), 100))
        response = receiver.http.post("/webhooks/loop", content=chunks, headers=headers)
        assert response.status_code == 413
        assert _stored(receiver) == 0 and _spooled_bytes(receiver) == 0


def test_receiver_the_same_delivery_ten_times_is_one_event_and_one_effect(
    receiver: Receiver,
) -> None:
    body = return_event(return_id="4242", state="closed", trigger="return.closed")
    answers = [receiver.post(body) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 9
    receiver.settle()
    (row,) = receiver.state.inbox_events()
    assert row["duplicates"] == 9 and row["status"] == "processed" and row["attempts"] == 1
    assert [(e["return_id"], e["state"]) for e in receiver.state.return_effects()] == [
        ("4242", "closed")
    ]
    metrics = receiver.http.get("/metrics").text
    assert _metric(metrics, "etl_loop_webhooks_total", result="accepted") == 1
    assert _metric(metrics, "etl_loop_webhooks_total", result="duplicate") == 9


def test_receiver_a_re_serialised_duplicate_is_still_one_event(receiver: Receiver) -> None:
    """Signed either way, the same body written differently (key order, spacing) is one key."""
    body = return_event(return_id="77", state="open")
    receiver.post(body)
    reordered = json.dumps(dict(reversed(list(body.items())))).encode()
    raw, headers = signed(reordered)
    assert receiver.http.post("/webhooks/loop", content=raw, headers=headers).json() == {
        "received": True,
        "duplicate": True,
    }
    assert _stored(receiver) == 1


UNEXPECTED = [
    pytest.param(b"this is not json", "not JSON", id="not JSON"),
    pytest.param(b"\xff\xfe\x00garbage", "not UTF-8", id="not UTF-8"),
    pytest.param(b"[1, 2, 3]", "a JSON list, not an object", id="a JSON list"),
    pytest.param(b"[" * 100_000, "nests too deeply", id="deeply nested"),
    pytest.param(b'{"hello": "world"}', "topic", id="no topic"),
    pytest.param(b'{"topic": "return", "trigger": "return.created"}', "id", id="no return id"),
    pytest.param(
        b'{"topic": "return", "trigger": "return.exploded", "id": "1"}',
        "return.exploded",
        id="unknown trigger",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), UNEXPECTED)
def test_receiver_stores_an_unexpected_shape_as_unprocessable_with_200(
    receiver: Receiver, raw: bytes, reason: str
) -> None:
    body, headers = signed(raw)
    response = receiver.http.post("/webhooks/loop", content=body, headers=headers)
    assert response.status_code == 200
    receiver.settle()
    (row,) = receiver.state.inbox_events()
    assert row["status"] == "unprocessable"
    assert any(reason in r for r in row["reasons"]), row["reasons"]
    stored = receiver.state.inbox_event(row["key"])
    assert stored is not None and stored["body"] == raw
    assert receiver.state.return_effects() == []
    metrics = receiver.http.get("/metrics").text
    assert _metric(metrics, "etl_inbox_events_total", status="unprocessable") == 1


def test_receiver_healthz_reports_counts_and_the_last_event(receiver: Receiver) -> None:
    empty = receiver.http.get("/healthz")
    assert empty.status_code == 200
    assert empty.json()["ok"] is True and empty.json()["last_event_at"] is None
    assert empty.json()["jobs"] == {"spool mover": True, "inbox worker": True}
    receiver.post(return_event(state="open"))
    receiver.post(b"not json")
    receiver.settle()
    health = receiver.http.get("/healthz").json()
    assert health["inbox"] == {
        "received": 0,
        "processed": 1,
        "failed": 0,
        "unprocessable": 1,
        "duplicates": 0,
    }
    assert health["last_event_at"].startswith("20")


def test_receiver_healthz_is_503_when_a_job_died(receiver: Receiver) -> None:
    assert receiver.process.worker is not None
    receiver.process.worker.stop()
    response = receiver.http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert response.json()["jobs"] == {"spool mover": True, "inbox worker": False}


def test_receiver_metrics_are_prometheus_text(receiver: Receiver) -> None:
    receiver.post(return_event(state="open"))
    receiver.post(return_event(state="open"), "nope")
    receiver.settle()
    response = receiver.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE etl_loop_webhooks_total counter" in text
    assert _metric(text, "etl_loop_webhooks_total", result="accepted") == 1
    assert _metric(text, "etl_loop_webhooks_total", result="rejected") == 1
    assert _metric(text, "etl_loop_webhooks_total", result="duplicate") == 0
    assert _metric(text, "etl_inbox_events_total", status="processed") == 1
    assert _metric(text, "etl_inbox_events_total", status="failed") == 0
    assert _metric(text, "etl_inbox_stored", status="processed") == 1
    assert _metric(text, "etl_loop_webhook_seconds_count") == 2
    assert _metric(text, "etl_inbox_last_received_timestamp_seconds") > 1.7e9
    assert SECRET not in text


def test_receiver_each_app_counts_on_its_own(tmp_path: Path) -> None:
    with (
        running_receiver(tmp_path / "a.duckdb") as a,
        running_receiver(tmp_path / "b.duckdb") as b,
    ):
        a.post(return_event())
        assert _metric(a.http.get("/metrics").text, "etl_loop_webhooks_total", result="accepted")
        assert (
            _metric(b.http.get("/metrics").text, "etl_loop_webhooks_total", result="accepted") == 0
        )


def test_receiver_stores_events_without_processing_them_when_asked(tmp_path: Path) -> None:
    with running_receiver(tmp_path / "s.duckdb", process_events=False) as receiver:
        assert receiver.post(return_event()).status_code == 200
        assert [r["status"] for r in receiver.state.inbox_events()] == ["received"]
        assert receiver.http.get("/healthz").json()["jobs"] == {"spool mover": True}


def _full_disk_under(path: Path) -> None:
    """Every later write to `path` through this process's open descriptor fails as on a full
    disk (ENOSPC): /dev/full takes the descriptor's place."""
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        fds = [fd for fd in os.listdir("/proc/self/fd") if _target(fd) == str(path)]
        assert fds, f"{path} is not open"
        for fd in fds:
            os.dup2(full, int(fd))
    finally:
        os.close(full)


def _target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_receiver_answers_503_when_the_spool_cannot_be_written(receiver: Receiver) -> None:
    """Loop retries a 5xx (never a 4xx): a signed event the state cannot take is not lost."""
    _full_disk_under(receiver.state.spool.path)
    response = receiver.post(return_event())
    assert response.status_code == 503
    assert "send it again" in response.json()["error"]
    metrics = receiver.http.get("/metrics")
    assert metrics.status_code == 200
    assert _metric(metrics.text, "etl_loop_webhooks_total", result="error") == 1
    assert _metric(metrics.text, "etl_loop_webhooks_total", result="accepted") == 0
    assert _stored(receiver) == 0


def test_receiver_answers_503_once_the_spool_is_full_because_the_inbox_is_broken(
    tmp_path: Path,
) -> None:
    """The mover cannot move (the inbox is gone): deliveries stay durable in the spool, answered
    200, until it holds its limit; then 503, and /healthz says the state is broken."""
    with running_receiver(tmp_path / "s.duckdb", spool_max_bytes=4096) as receiver:
        receiver.state.db.execute("DROP TABLE inbox")
        codes = [receiver.post(return_event()).status_code for _ in range(30)]
        assert codes[0] == 200 and codes[-1] == 503, codes
        assert codes == sorted(codes)  # 200s, then only 503s
        assert 0 < _spooled_bytes(receiver) <= 4096
        metrics = receiver.http.get("/metrics")
        assert metrics.status_code == 200
        assert _metric(metrics.text, "etl_loop_webhooks_total", result="error") == codes.count(503)
        assert _metric(metrics.text, "etl_inbox_readable") == 0
        assert receiver.http.get("/healthz").status_code == 503


def test_receiver_the_signature_is_checked_on_the_bytes_not_a_parse(receiver: Receiver) -> None:
    raw = php_json(return_event())
    header = sign(SECRET, raw + b" ")
    response = receiver.http.post("/webhooks/loop", content=raw, headers={SIGNATURE_HEADER: header})
    assert response.status_code == 401


def test_receiver_concurrent_deliveries_of_one_event_store_it_once(receiver: Receiver) -> None:
    """Batched intake: copies arriving together meet in one batch and are still one event."""
    from concurrent.futures import ThreadPoolExecutor

    body = return_event(return_id="31337", state="open")
    others = [return_event(state="open") for _ in range(30)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(receiver.post, [body] * 20 + others))
    assert {a.status_code for a in answers} == {200}
    assert sum(not a.json()["duplicate"] for a in answers[:20]) == 1
    assert not any(a.json()["duplicate"] for a in answers[20:])
    receiver.settle()
    rows = receiver.state.inbox_events()
    assert len(rows) == 31
    (mine,) = [r for r in rows if r["return_id"] == "31337"]
    assert mine["duplicates"] == 19
    assert len(receiver.state.return_effects()) == 31
