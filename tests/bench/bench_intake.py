"""Benchmark of webhook intake (issue 9): events/s and answer latency of `etl serve`'s receiver.

Run from the repository root:

    python -m tests.bench.bench_intake [--events 10000] [--senders 50] [--lines 3]
        [--duplicates 0.1] [--repeat 3] [--rate 0] [--receive-only]

`etl serve` runs as a subprocess (as in production: its own interpreter, processing on) over a
fresh state file, with a mapping whose Loop is never called. `senders` concurrent senders
(asyncio, one keep-alive connection each, a bare HTTP/1.1 writer) post `events` signed `return` webhooks,
Loop-style (PHP JSON, `lines` line items each, ~1 KB a line), of which a `duplicates` share
repeats an earlier body. Printed per repeat, then as medians: intake events/s (answered 200
per second of wall time), p50 / p99 / max answer latency, and how long the worker took to
process the backlog (until /healthz shows nothing left `received`; reading the inbox moves
the spool into it first, so a delivery answered but still in the spool counts). The sender shares the
machine with the server, so the figures are a floor. Not a pytest test (bench_*.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from engine.loop.webhooks import SIGNATURE_HEADER, php_json, sign
from tests.cli.serve_support import SECRET, start_serve, write_mapping

LINE = {
    "line_item_id": "123456789012345678",
    "provider_line_item_id": "450789469",
    "product_id": "632910392",
    "variant_id": "808950810",
    "sku": "SHOE-42",
    "title": "Trail shoe",
    "barcode": "",
    "price": "31.65",
    "discount": "0.00",
    "tax": "2.53",
    "refund": "31.65",
    "returned_at": "2026-03-01 10:00:00",
    "exchange_variant": "",
    "return_reason": "Too small",
    "parent_return_reason": "Fit",
    "return_comment": "",
    "outcome": "default",
}


@dataclass
class Pass:
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    drain_s: float

    @property
    def rate(self) -> float:
        return self.statuses.get(200, 0) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def bodies(n: int, lines: int, duplicates: float, rng: random.Random) -> list[bytes]:
    """n signed-ready bodies; a `duplicates` share repeats one sent before it."""
    out: list[bytes] = []
    for i in range(n):
        if out and rng.random() < duplicates:
            out.append(rng.choice(out))
            continue
        state = rng.choice(("open", "closed", "review"))
        trigger = {"open": "return.created", "closed": "return.closed"}.get(state, "return.updated")
        body = {
            "topic": "return",
            "trigger": trigger,
            "shop_id": "77",
            "id": str(80_000_000_000_000_000 + i),
            "state": state,
            "created_at": "2026-03-01 10:00:00",
            "edited_at": None,
            "total": "63.30",
            "currency": "USD",
            "status_page_url": "https://returns.example.com/r/1",
            "line_items": [LINE] * lines,
        }
        out.append(php_json(body))
    return out


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, raw: bytes
) -> int:
    """One keep-alive HTTP/1.1 POST: its status (the body is read and dropped)."""
    writer.write(head + raw)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def send_all(url: str, raws: list[bytes], senders: int, rate: float = 0.0) -> tuple[float, list[float], dict[int, int]]:  # fmt: skip
    """Post every body from `senders` concurrent senders, each on its own keep-alive
    connection; wall seconds, latencies, statuses. `rate` > 0 offers that many events a second
    in all (open loop: event i is due at i / rate, and its latency counts from then, so a late
    answer is not hidden by the sender waiting for it); 0 sends as fast as answers come. A bare HTTP/1.1 writer rather than httpx:
    on a small machine httpx's own cost per request would be most of what is measured."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        (
            (
                f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
                f"{SIGNATURE_HEADER}: {sign(SECRET, raw)}\r\n\r\n"
            ).encode(),
            raw,
        )
        for raw in raws
    ]
    queue: asyncio.Queue[tuple[int, bytes, bytes]] = asyncio.Queue()
    for index, (head, raw) in enumerate(requests):
        queue.put_nowait((index, head, raw))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                index, head, raw = queue.get_nowait()
                started = time.perf_counter()
                if rate:
                    due = begun + index / rate
                    if due > started:
                        await asyncio.sleep(due - started)
                    started = due
                status = await post(reader, writer, head, raw)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    begun = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return time.perf_counter() - begun, latencies, statuses


def one_pass(
    work: Path, raws: list[bytes], senders: int, index: int, rate: float, processing: bool
) -> Pass:
    folder = work / f"pass{index}"
    folder.mkdir()
    extra = () if processing else ("--receive-only",)
    served = start_serve(write_mapping(folder), folder / "state.duckdb", *extra)
    try:
        seconds, latencies, statuses = asyncio.run(send_all(served.receiver, raws, senders, rate))
        sent_at = time.perf_counter()
        if processing:
            served.wait_until(lambda h: h["inbox"]["received"] == 0, timeout_s=600)
        drain_s = time.perf_counter() - sent_at
    finally:
        served.terminate()
    return Pass(seconds, latencies, statuses, drain_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--lines", type=int, default=3, help="line items per return")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of repeats")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="offered events/s in all (open loop); 0: as fast as answers come",
    )  # fmt: skip
    parser.add_argument(
        "--receive-only", action="store_true",
        help="serve with --receive-only (no processing beside intake), for comparison",
    )  # fmt: skip
    args = parser.parse_args(argv)

    raws = bodies(args.events, args.lines, args.duplicates, random.Random(9))
    size = statistics.mean(len(r) for r in raws)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"{args.events:,} events ({size:,.0f} bytes on average, {args.duplicates:.0%} repeats), "
          f"{args.senders} concurrent senders, "
          f"processing {'off' if args.receive_only else 'on'}, "
          + (f"offered {args.rate:,.0f}/s (open loop)" if args.rate else "as fast as answered"))  # fmt: skip
    print(f"{'pass':<6} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'drain s':>8}  answers")  # fmt: skip
    passes = []
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        for i in range(args.repeat):
            p = one_pass(Path(tmp), raws, args.senders, i, args.rate, not args.receive_only)
            passes.append(p)
            print(f"{i + 1:<6} {p.rate:>9,.0f} {p.pct(0.5):>7.1f} {p.pct(0.99):>7.1f} "
                  f"{max(p.latencies) * 1000:>7.1f} {p.drain_s:>8.2f}  {p.statuses}")  # fmt: skip
    print(f"{'median':<6} {statistics.median(p.rate for p in passes):>9,.0f} "
          f"{statistics.median(p.pct(0.5) for p in passes):>7.1f} "
          f"{statistics.median(p.pct(0.99) for p in passes):>7.1f}")  # fmt: skip
    if any(set(p.statuses) != {200} for p in passes):
        sys.exit("some deliveries were not answered 200")


if __name__ == "__main__":
    main()
