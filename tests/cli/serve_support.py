"""`etl serve` in a subprocess, as a user runs it: a small mapping, the printed URLs, and
waiting on /healthz."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engine.sandbox.server import AdminClient, SandboxHandle
from tests.e2e.conftest import clean_env, etl_command

SECRET = "serve-test-secret"
START_TIMEOUT_S = 60.0
MAPPING = """\
version: 1
name: serve-test
source: {{connector: files, root: data}}
target: {{base_url: "{target}", api_key: sandbox, rate_limit: 0/min}}
schedule: {{sync: null, poll: null}}  # these tests watch the webhooks alone
entities:
  customers:
    extract: {{path: customers.json}}
    map: {{external_id: to_string(id), email: email}}
"""


def write_mapping(folder: Path, target: str = "http://127.0.0.1:9") -> Path:
    """A mapping whose source is a small folder; its target is never called unless embedded."""
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "customers.json").write_text(json.dumps([{"id": 1, "email": "a@b.co"}]))
    path = folder / "serve.yaml"
    path.write_text(MAPPING.format(target=target))
    return path


@dataclass
class Served:
    """A running `etl serve`: its process, the lines it printed and the URLs in them."""

    process: subprocess.Popen[str]
    stderr_path: Path
    lines: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    reader: threading.Thread | None = None

    @property
    def receiver(self) -> str:
        return self.urls["receiver"]

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.urls["health"], timeout=10).json())

    def wait_until(self, check: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            health = self.health()
            if check(health):
                return
            assert time.monotonic() < deadline, f"gave up waiting: {health}"
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self._wait()

    def terminate(self) -> tuple[int, str, str]:
        """SIGTERM, then (exit code, stdout, stderr)."""
        self.process.send_signal(signal.SIGTERM)
        self._wait()
        return self.process.returncode, "\n".join(self.lines), self.stderr_path.read_text()

    def _wait(self) -> None:
        self.process.wait(timeout=30)
        if self.reader is not None:
            self.reader.join(timeout=10)


def start_serve(mapping: Path, state: Path, *args: str, **env: str) -> Served:
    """`etl serve MAPPING --port 0 --state STATE ARGS...`, once it printed that it serves."""
    stderr_path = state.with_name(f"{state.stem}.{time.monotonic_ns()}.stderr")
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*etl_command(), "serve", str(mapping), "--port", "0", "--state", str(state), *args],
            env=clean_env(**{"LOOP_WEBHOOK_SECRET": SECRET, **env}),
            cwd=mapping.parent,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    served = Served(process, stderr_path)
    started = threading.Event()

    def read() -> None:  # reads to the end, so the process never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            served.lines.append(line.rstrip("\n"))
            name, _, rest = line.partition(":")
            if rest.strip().startswith("http"):
                served.urls[name.strip()] = rest.strip().split()[0]
            if line.startswith("processing"):
                started.set()
        started.set()

    served.reader = threading.Thread(target=read, daemon=True)
    served.reader.start()
    started.wait(START_TIMEOUT_S)
    if process.poll() is not None or not any(x.startswith("processing") for x in served.lines):
        process.kill()
        served._wait()
        raise AssertionError(f"etl serve did not start: {served.lines} {stderr_path.read_text()}")
    return served


def sandbox_handle(url: str) -> SandboxHandle:
    """A handle on a sandbox another process runs (its admin API and its `sandbox` key)."""
    admin = AdminClient(base_url=f"{url}/_sandbox", timeout=30)
    return SandboxHandle(url, None, admin, "sandbox")  # type: ignore[arg-type]
