"""When Loop refuses the key or is down, the run stops at once (exit 1, the reason named, never
the key) and parks nothing; once it is fixed, a normal run sends everything."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from tests.e2e.conftest import Etl, Loop, clean_env

ENTITIES = ("--entity=locations", "--entity=customers")
WRONG_KEY = "wrong-key-7f3a9c"


def test_a_refused_key_stops_the_run_and_parks_nothing(etl: Etl, loop: Loop) -> None:
    wrong = Etl(etl.mapping, etl.state, {**etl.env, "LOOP_API_KEY": WRONG_KEY}, etl.cwd)

    refused = wrong.run_json(*ENTITIES)

    assert refused.code == 1, refused
    assert f"Loop at {loop.base_url} refused the API key (401" in refused.stderr
    assert WRONG_KEY not in refused.stdout + refused.stderr
    # at most the requests already in flight (target.concurrency, 4) before the first 401
    assert loop.request_count() <= 4, "nothing more is sent once the key is refused"
    listed = etl("quarantine", str(etl.mapping), "list", "--json")
    assert listed.code == 0 and listed.stdout.strip() == "", listed

    fixed = etl.run_json(*ENTITIES)
    assert fixed.code == 0, fixed
    summary = fixed.summary
    assert summary["locations"]["created"] > 0 and summary["customers"]["deferred"] > 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_loop_that_is_down_ends_the_run_within_the_outage_window(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id,email\n1,a@x.test\n2,b@x.test\n")
    mapping = tmp_path / "down.yaml"
    port = _closed_port()
    mapping.write_text(
        "version: 1\nname: down\n"
        f"source: {{connector: files, root: {tmp_path}}}\n"
        f"target: {{base_url: 'http://127.0.0.1:{port}', api_key: k, outage_s: 2, "
        "rate_limit: 0/min, max_retries: 1000}\n"
        "entities:\n  customers:\n    extract: {path: customers.csv}\n"
        "    map: {external_id: to_string(id), email: email}\n"
    )
    etl = Etl(mapping, tmp_path / "state.duckdb", clean_env(), tmp_path)

    started = time.monotonic()
    down = etl.run_json()
    took = time.monotonic() - started

    assert down.code == 1, down
    assert f"http://127.0.0.1:{port}" in down.stderr and "no answer for" in down.stderr
    assert "ConnectError" in down.stderr
    assert took < 60, f"took {took:.0f} s: the window is 2 s, retries would take far longer"
    status = etl("status", str(mapping), "--json")
    assert json.loads(status.stdout)["runs"][0]["status"] == "failed"
