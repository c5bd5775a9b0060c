"""`etl serve` as a user runs it (a subprocess): kill -9 with events queued and restart, the
state file held while it runs, a clean SIGTERM, and the embedded sandbox's signed deliveries
arriving in the inbox."""

from __future__ import annotations

import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import httpx
from click.testing import CliRunner

from engine.cli import main
from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from engine.serve.server import listen
from engine.state import State
from tests.cli.serve_support import SECRET, Served, sandbox_handle, start_serve, write_mapping
from tests.sandbox.support import create_return, flush, sync_order

_ids = itertools.count(7_000_000_000_000_000_001)


# Two hundred lines a return (~60 KB): processing a backlog of them takes long enough for a
# kill -9 soon after a start to land in the middle of it.
LINE = {
    "line_item_id": "123456789012345678",
    "sku": "SHOE-1",
    "title": "Trail shoe",
    "price": "31.65",
    "refund": "31.65",
    "returned_at": "2026-03-01 10:00:00",
    "return_reason": "Too small",
    "outcome": "default",
}


def _body(return_id: int, state: str) -> bytes:
    trigger = {"open": "return.created", "closed": "return.closed"}.get(state, "return.updated")
    return php_json(
        {
            "topic": "return",
            "trigger": trigger,
            "id": str(return_id),
            "state": state,
            "created_at": "2026-03-01 10:00:00",
            "edited_at": None,
            "line_items": [LINE] * 200,
        }
    )


def _post(client: httpx.Client, url: str, raw: bytes) -> int:
    headers = {SIGNATURE_HEADER: sign(SECRET, raw), "Content-Type": "application/json"}
    try:
        return client.post(url, content=raw, headers=headers).status_code
    except httpx.HTTPError:
        return 0  # no answer: the process was killed while this one was in flight


def _send(served: Served, bodies: list[bytes]) -> list[bytes]:
    """Every body from 8 senders; the bodies that were answered 200."""
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda raw: _post(client, served.receiver, raw), bodies))
    return [raw for raw, code in zip(bodies, codes, strict=True) if code == 200]


def test_serve_killed_with_events_queued_loses_none_and_processes_none_twice(
    tmp_path: Path,
) -> None:
    mapping, state = write_mapping(tmp_path), tmp_path / "state.duckdb"
    returns = [next(_ids) for _ in range(150)]
    bodies = [_body(r, s) for r in returns for s in ("open", "closed")]
    # 1. events arrive while nothing processes them, some twice; then kill -9
    served = start_serve(mapping, state, "--receive-only")
    accepted = _send(served, bodies + bodies[:100])
    assert len(accepted) == len(bodies) + 100
    served.kill()
    # 2. processing starts on the 300 queued events: kill -9 soon after (a batch is 200
    # events; on this machine the backlog takes ~0.05-0.2 s), likely between two batches
    for delay_s in (0.05, 0.1, 0.15):
        served = start_serve(mapping, state)
        time.sleep(delay_s)
        served.kill()
    # 3. again, with more events arriving meanwhile
    served = start_serve(mapping, state)
    more = [_body(next(_ids), "open") for _ in range(100)]
    sender = threading.Thread(target=lambda: accepted.extend(_send(served, more)))
    sender.start()
    served.wait_until(lambda h: h["inbox"]["processed"] > 0, timeout_s=30)
    served.kill()
    sender.join()
    # 4. restart: everything received gets processed
    served = start_serve(mapping, state)
    served.wait_until(lambda h: h["inbox"]["received"] == 0)
    code, _, stderr = served.terminate()
    assert code == 0, stderr

    with State(state) as s:
        rows = s.inbox_events()
        effects = s.return_effects()
        stored = {bytes(s.inbox_event(r["key"])["body"]) for r in rows}  # type: ignore[index]
    assert set(accepted) <= stored  # nothing answered 200 was lost
    assert {r["status"] for r in rows} == {"processed"}
    assert {r["attempts"] for r in rows} == {1}  # none processed twice
    reported = {(r["return_id"], r["return_state"]) for r in rows}
    assert sorted((e["return_id"], e["state"]) for e in effects) == sorted(reported)


def test_serve_killed_with_answered_deliveries_not_yet_moved_loses_none(tmp_path: Path) -> None:
    """Answered 200 means durable in the spool: killed before the mover moved any of them,
    `etl inbox list` then sees every one (opening the state moves the spool), and the next
    `etl serve` processes each once; repeats are counted once each."""
    mapping, state = write_mapping(tmp_path), tmp_path / "state.duckdb"
    bodies = [_body(next(_ids), "open") for _ in range(60)]
    served = start_serve(mapping, state, "--receive-only", "--spool-linger", "3600")
    accepted = _send(served, bodies + bodies[:10])
    assert len(accepted) == 70
    served.kill()
    with duckdb.connect(str(state), read_only=True) as db:  # nothing had reached the inbox
        assert db.execute("SELECT count(*) FROM inbox").fetchone() == (0,)
    listed = _etl("inbox", str(mapping), "list", "--json", "--state", str(state))
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert len(rows) == 60 and {r["status"] for r in rows} == {"received"}
    assert sum(r["duplicates"] for r in rows) == 10
    served = start_serve(mapping, state)
    served.wait_until(lambda h: h["inbox"]["processed"] == 60)
    code, _, err = served.terminate()
    assert code == 0, err
    with State(state) as s:
        rows = s.inbox_events()
        stored = {bytes(s.inbox_event(r["key"])["body"]) for r in rows}  # type: ignore[index]
        assert s.inbox_counts()["duplicates"] == 10
    assert stored == set(bodies)
    assert {(r["status"], r["attempts"]) for r in rows} == {("processed", 1)}


def test_serve_holds_the_state_file_while_it_runs(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path), tmp_path / "state.duckdb"
    served = start_serve(mapping, state)
    try:
        for args in (["inbox", str(mapping), "list"], ["status", str(mapping)]):
            other = _etl(*args, "--state", str(state))
            assert other.exit_code == 1, other.output
            assert "another process is using it" in other.output
            assert "Traceback" not in other.output
    finally:
        code, out, err = served.terminate()
    assert code == 0, err
    assert "Traceback" not in err and SECRET not in out + err


def test_serve_sigterm_stops_cleanly_and_prints_every_url(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path), tmp_path / "state.duckdb"
    served = start_serve(mapping, state)
    assert set(served.urls) == {"receiver", "health", "metrics", "loop"}
    assert served.receiver.endswith("/webhooks/loop")
    metrics = httpx.get(served.urls["metrics"], timeout=10).text
    assert 'etl_loop_webhooks_total{result="accepted"} 0.0' in metrics
    code, out, err = served.terminate()
    assert code == 0, err
    assert f"state:    {state}" in out
    with State(state) as s:  # released, and readable
        assert s.inbox_counts()["received"] == 0


def test_serve_receives_the_embedded_sandboxs_signed_return_events(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")  # the sandbox's own secret
    try:
        assert "sandbox" in served.urls
        assert any("subscribed to return.created" in line for line in served.lines)
        sandbox = sandbox_handle(served.urls["sandbox"])
        created = create_return(sandbox, sync_order(sandbox, tag="501"))
        flush(sandbox)
        served.wait_until(lambda h: h["inbox"]["processed"] >= 1)
        deliveries = sandbox.admin.deliveries()
        assert [d["status"] for d in deliveries if d["trigger"] == "return.created"] == [200]
        health = served.health()
        assert health["ok"] is True and health["inbox"]["unprocessable"] == 0
        metrics = httpx.get(served.urls["metrics"], timeout=10).text
        assert 'etl_loop_webhooks_total{result="accepted"} 1.0' in metrics
        assert 'etl_inbox_events_total{status="processed"} 1.0' in metrics
    finally:
        code, _, err = served.terminate()
    assert code == 0, err
    with State(state) as s:
        (row,) = s.inbox_events()
        effects = s.return_effects()
    assert row["key"].startswith(f"return:{created['id']}:open:")
    assert row["key"].endswith(":return.created")
    assert row["status"] == "processed" and row["source"] == "webhook"
    assert [(e["return_id"], e["state"]) for e in effects] == [(str(created["id"]), "open")]


def test_serve_subscribes_once_across_restarts(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path, target="embedded"), tmp_path / "state.duckdb"
    for _ in range(2):
        served = start_serve(mapping, state, LOOP_WEBHOOK_SECRET="")
        try:
            hooks = (
                sandbox_handle(served.urls["sandbox"]).client().get("/webhooks").json()["webhooks"]
            )
        finally:
            served.terminate()
        assert sorted(h["trigger"] for h in hooks) == [
            "return.closed",
            "return.created",
            "return.updated",
        ]
        assert {h["url"] for h in hooks} == {served.receiver}
        assert {h["status"] for h in hooks} == {"active"}


def test_serve_without_a_webhook_secret_is_a_configuration_error(tmp_path: Path) -> None:
    mapping, state = write_mapping(tmp_path), tmp_path / "s.duckdb"
    result = _etl(
        "serve", str(mapping), "--port", "0", "--state", str(state), LOOP_WEBHOOK_SECRET=""
    )
    assert result.exit_code == 2
    assert "LOOP_WEBHOOK_SECRET" in result.output and "target.webhook_secret" in result.output


def test_serve_on_a_port_in_use_is_a_clean_error(tmp_path: Path) -> None:
    state = tmp_path / "s.duckdb"
    with listen("127.0.0.1", 0) as taken:
        port = str(taken.getsockname()[1])
        result = _etl("serve", str(write_mapping(tmp_path)), "--port", port, "--state", str(state))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not state.exists()  # refused before touching the state


def _etl(*args: str, **env: str) -> Any:
    environment: dict[str, str | None] = {"LOOP_WEBHOOK_SECRET": SECRET, "LOOP_API_URL": None}
    return CliRunner().invoke(main, list(args), env={**environment, **env})
