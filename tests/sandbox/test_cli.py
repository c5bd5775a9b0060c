"""`etl sandbox`: help, the banner, and serving on a port until SIGTERM (in a subprocess)."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from engine.cli import main


def test_cli_sandbox_help() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert result.exit_code == 0
    for option in (
        "--port",
        "--db",
        "--api-key",
        "--webhook-secret",
        "--rate-limit",
        "--fail-rate",
        "--latency-ms",
        "--seed",
        "--webhook-time-scale",
        "--webhook-debug-headers",
        "--integer-ids",
        "LOOP_WEBHOOK_SECRET",
    ):
        assert option in result.output


def test_cli_sandbox_rejects_a_bad_rate_limit() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--rate-limit", "lots", "--port", "1"])
    assert result.exit_code == 2
    assert "N/min" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_sandbox_serves_until_sigterm() -> None:
    port = _free_port()
    env = {**os.environ, "LOOP_WEBHOOK_SECRET": "top-secret-value"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from engine.cli import main; main()",
            "sandbox",
            "--port",
            str(port),
            "--api-key",
            "k1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/2026-10/products"
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(url, headers={"X-Authorization": "k1"}, timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200
        assert httpx.get(url, headers={"X-Authorization": "sandbox"}).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}" in output
    assert "top-secret-value" not in output


def _read_banner(proc: subprocess.Popen[str], timeout_s: float = 15) -> str:
    """The line that starts with 'Loop sandbox on', read while the server keeps running."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("Loop sandbox on"):
                return line
            assert line or proc.poll() is None, "the sandbox exited before its banner"
    raise AssertionError("no banner within the timeout")


def test_cli_sandbox_port_0_prints_the_port_it_bound() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _read_banner(proc)
        match = re.search(r"on (http://127\.0\.0\.1:(\d+))/api/2026-10 \(admin: (\S+),", banner)
        assert match is not None, banner
        base, port, admin = match.group(1), int(match.group(2)), match.group(3)
        assert port != 0
        products = httpx.get(f"{base}/api/2026-10/products", headers={"X-Authorization": "sandbox"})
        assert products.status_code == 200
        index = httpx.get(admin)
        assert index.status_code == 200 and index.json()["endpoints"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_cli_sandbox_port_in_use_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
