"""Running `etl serve`'s app on uvicorn with its background jobs: `listen` + `run_server`
(blocking, until SIGINT or SIGTERM) and `running_server` (a background thread on a free
loopback port, for tests, benchmarks and embedding applications).

`listen` is the sandbox's (engine/sandbox/server.py), repeated because the engine outside the
sandbox may not import it.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import uvicorn
from starlette.types import ASGIApp

from engine.errors import EngineError
from engine.net.sockets import listen as _listen

START_TIMEOUT_S = 10.0
GRACE_S = 5  # seconds uvicorn lets answers in flight finish on shutdown


class BackgroundJob(Protocol):
    """A job the serve process runs beside its app: the inbox worker, and later the scheduled
    sync and reconcile. Started before the app serves, stopped after it ends."""

    name: str

    @property
    def alive(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 10.0) -> None: ...


class ThreadJob:
    """A BackgroundJob on a daemon thread: `start`, `stop` (sets the stop and wake events, then
    joins), `wake`, `alive`. A subclass sets `name` and `thread_name` and writes `_run`, which
    loops until `self._stop` is set, waiting on `self._wake` between rounds."""

    name = "job"
    thread_name = "etl-job"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        raise NotImplementedError


def listen(host: str = "127.0.0.1", port: int = 8080) -> socket.socket:
    """engine.net.sockets.listen, with this server's default port."""
    return _listen(host, port)


def _server(app: ASGIApp, sock: socket.socket) -> uvicorn.Server:
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # one line per delivery would drown the log; /metrics counts them
        lifespan="off",
        timeout_graceful_shutdown=GRACE_S,
    )
    return uvicorn.Server(config)


def run_server(app: ASGIApp, sock: socket.socket, jobs: Sequence[BackgroundJob]) -> None:
    """Serve `app` on `sock` with `jobs` running until SIGINT or SIGTERM, then stop the jobs.

    uvicorn shuts down gracefully on either signal and then raises it again; with the handlers
    below that ends as SystemExit(0), so the caller's `with` blocks close the state cleanly."""
    previous = {sig: signal.signal(sig, _exit_cleanly) for sig in (signal.SIGINT, signal.SIGTERM)}
    started: list[BackgroundJob] = []
    try:
        for job in jobs:
            job.start()
            started.append(job)
        _server(app, sock).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for job in reversed(started):
            job.stop()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@contextmanager
def running_server(app: ASGIApp, jobs: Sequence[BackgroundJob] = ()) -> Iterator[str]:
    """Serve `app` on a free loopback port in a background thread, with `jobs` running; yields
    the base URL; everything stops when the block ends."""
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = _server(app, sock)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"etl-serve-{port}", daemon=True
    )
    started: list[BackgroundJob] = []
    try:
        for job in jobs:
            job.start()
            started.append(job)
        thread.start()
        _wait_started(server, thread)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        for job in reversed(started):
            job.stop()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise EngineError("the receiver stopped while starting")
        if time.monotonic() > deadline:
            raise EngineError(f"the receiver did not start within {START_TIMEOUT_S} s")
        time.sleep(0.005)
