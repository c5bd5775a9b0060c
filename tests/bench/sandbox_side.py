"""One side of the sandbox benchmark, run as a script so that `engine` can come from another
checkout (PYTHONPATH=<checkout of the baseline ref>): the whole `etl run`, a replay of a
captured request mix against a sandbox in this process, or a standalone sandbox server.

    python tests/bench/sandbox_side.py run ORDERS FOLDER   -> JSON figures; FOLDER/mix.jsonl
    python tests/bench/sandbox_side.py replay MIX.jsonl    -> JSON figures (in-process sandbox)
    python tests/bench/sandbox_side.py serve PORT_FILE     -> serves until SIGTERM

Only what main already had is imported from `engine`, so any recent ref can be measured.
Not a pytest test; tests/bench/bench_sandbox.py drives it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import httpx

API_KEY = "sandbox"
# Headers the client sets itself on a replay; every other logged header is sent again.
OWN_HEADERS = {"host", "content-length", "connection", "accept-encoding", "user-agent"}


def run(orders: int, folder: Path) -> dict[str, Any]:
    """`etl run mappings/shopify-like.yaml` with the demo and the sandbox embedded, unlimited
    rate: seconds and requests; the sandbox's request log is saved as the replay mix."""
    os.environ.update(ETL_DEMO_ORDERS=str(orders), ETL_DEMO_SEED="1", LOOP_RATE_LIMIT="0/min")
    for name in ("SHOP_URL", "LOOP_API_URL", "LOOP_API_KEY"):
        os.environ.pop(name, None)
    import engine
    from engine.context import run_mapping
    from engine.mapping.compile import compile_mapping
    from engine.mapping.load import load_mapping
    from engine.pipeline.run import RunOptions

    mapping = Path(engine.__file__).resolve().parents[1] / "mappings" / "shopify-like.yaml"
    state = folder / "run.duckdb"
    compiled = compile_mapping(load_mapping(mapping))
    start = time.perf_counter()
    run_mapping(compiled, RunOptions(), state)
    seconds = time.perf_counter() - start
    mix = _save_mix(state.with_name(state.stem + ".sandbox.duckdb"), folder / "mix.jsonl")
    return {"seconds": seconds, "requests": mix}


def _save_mix(db: Path, out: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT method, path, query, headers, body, status FROM sandbox_requests ORDER BY seq"
        ).fetchall()
    with out.open("w", encoding="utf-8") as fh:
        for method, path, query, headers, body, status in rows:
            fh.write(json.dumps({"method": method, "path": path, "query": query,
                                 "headers": json.loads(headers), "status": status,
                                 "body": bytes(body).decode("utf-8")}) + "\n")  # fmt: skip
    return len(rows)


def replay(mix: Path, base_url: str) -> dict[str, Any]:
    """Send every request of the mix in order; seconds, and how many statuses differ."""
    requests = [json.loads(line) for line in mix.read_text(encoding="utf-8").splitlines()]
    differ: Counter[str] = Counter()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        start = time.perf_counter()
        for r in requests:
            headers = {k: v for k, v in r["headers"].items() if k not in OWN_HEADERS}
            headers["x-authorization"] = API_KEY
            url = r["path"] + (f"?{r['query']}" if r["query"] else "")
            got = client.request(r["method"], url, content=r["body"].encode(), headers=headers)
            if got.status_code != r["status"]:
                differ[f"{r['status']}->{got.status_code}"] += 1
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "requests": len(requests), "differ": dict(differ)}


def replay_in_process(mix: Path) -> dict[str, Any]:
    """The mix against a sandbox on a loopback port in this process, as `base_url: embedded`."""
    import tempfile

    from engine.sandbox.server import running_sandbox

    with tempfile.TemporaryDirectory() as tmp, running_sandbox(
        rate_limit="0/min", db_path=str(Path(tmp) / "sandbox.duckdb")
    ) as handle:  # fmt: skip
        return replay(mix, handle.base_url)


def serve(port_file: Path) -> None:
    """A standalone sandbox (its database next to the port file) until SIGTERM."""
    from engine.sandbox.core import SandboxConfig
    from engine.sandbox.server import listen
    from engine.sandbox.server import serve as serve_sandbox

    sock = listen("127.0.0.1", 0)
    port_file.write_text(str(sock.getsockname()[1]), encoding="utf-8")
    db = port_file.with_name(port_file.stem + ".duckdb")
    serve_sandbox(SandboxConfig(rate_limit="0/min", db_path=str(db)), sock)


def main(argv: list[str]) -> None:
    mode, *rest = argv
    if mode == "run":
        print(json.dumps(run(int(rest[0]), Path(rest[1]))))
    elif mode == "replay":
        print(json.dumps(replay_in_process(Path(rest[0]))))
    elif mode == "serve":
        serve(Path(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r} (run, replay, serve)")


if __name__ == "__main__":
    main(sys.argv[1:])
