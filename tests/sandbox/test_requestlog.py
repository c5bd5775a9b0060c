"""The request log held in memory and written in batches: a reader through the sandbox sees
every request at once, the table gets them within FLUSH_AFTER_S (or when a batch is full), and
closing the sandbox writes what is held."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from engine.sandbox import requestlog
from engine.sandbox.server import SandboxHandle, running_sandbox


def _table_count(handle: SandboxHandle) -> int:
    sb = handle.sandbox
    with sb.lock:
        row = sb.db.execute("SELECT count(*) FROM sandbox_requests").fetchone()
    return int(row[0]) if row else 0


def _send(handle: SandboxHandle, count: int) -> None:
    with handle.client() as api:
        for i in range(count):
            assert api.get(f"/customers/external/c{i}").status_code == 404


def test_requestlog_the_admin_api_sees_every_request_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(requestlog, "FLUSH_AFTER_S", 60.0)
    with running_sandbox(rate_limit="0/min") as handle:
        _send(handle, 3)
        assert _table_count(handle) == 0  # held back
        logged = handle.admin.requests()
        assert [r["path"] for r in logged] == [f"/api/2026-10/customers/external/c{i}"
                                               for i in range(3)]  # fmt: skip
        assert [r["seq"] for r in logged] == [1, 2, 3]


def test_requestlog_rows_reach_the_table_without_a_reader() -> None:
    with running_sandbox(rate_limit="0/min") as handle:
        _send(handle, 2)
        deadline = time.monotonic() + 5
        while _table_count(handle) < 2 and time.monotonic() < deadline:
            time.sleep(requestlog.FLUSH_AFTER_S / 5)
        assert _table_count(handle) == 2


def test_requestlog_a_full_batch_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requestlog, "FLUSH_AFTER_S", 60.0)
    monkeypatch.setattr(requestlog, "BATCH_ROWS", 4)
    with running_sandbox(rate_limit="0/min") as handle:
        _send(handle, 5)
        assert _table_count(handle) == 4


def test_requestlog_closing_writes_what_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requestlog, "FLUSH_AFTER_S", 60.0)
    db = tmp_path / "sandbox.duckdb"
    with running_sandbox(rate_limit="0/min", db_path=str(db)) as handle:
        _send(handle, 3)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT max(seq), count(*) FROM sandbox_requests").fetchone() == (3, 3)
    with running_sandbox(rate_limit="0/min", db_path=str(db)) as handle:
        _send(handle, 1)
        assert [r["seq"] for r in handle.admin.requests()] == [1, 2, 3, 4]


def test_requestlog_is_trimmed_as_before_every_100_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As when each row was written alone: at request 200 the log keeps the newest 150 (from
    51), and it is not trimmed again before request 300."""
    monkeypatch.setattr(requestlog, "FLUSH_AFTER_S", 60.0)
    with running_sandbox(rate_limit="0/min", request_log_rows=150) as handle:
        _send(handle, 260)
        assert [r["seq"] for r in handle.admin.requests()] == list(range(51, 261))


def test_requestlog_a_held_row_is_no_pending_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timer that writes the rows is not a job of the sandbox's worker, whose queue the
    deliveries API reports as `pending` (and `wait_idle` waits for)."""
    monkeypatch.setattr(requestlog, "FLUSH_AFTER_S", 60.0)
    with running_sandbox(rate_limit="0/min") as handle:
        _send(handle, 1)
        assert handle.admin.get("/deliveries").json()["pending"] == 0
        assert handle.sandbox.worker.pending() == 0
