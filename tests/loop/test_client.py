"""LoopClient through real HTTP: the sandbox on a loopback port for the Commerce Data round
trips, errors, faults and pacing; a tiny http.server stub for Retry-After and dropped
connections; pure units for the error text, the backoff and map_concurrent."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.errors import PermanentLoadError, TransientLoadError
from engine.loop.client import LoopClient
from engine.loop.concurrent import map_concurrent
from engine.loop.errors import LoopRefused, loop_error_text, path_template
from engine.net import RetryPolicy, TargetDown
from engine.sandbox.server import SandboxHandle, running_sandbox

KEY = "sandbox"
PACING_KEY = "pacing-key"
SHARED_KEY = "shared-key"
SECRET = "sk_live_do-not-leak-4242"
ADDRESS = {"address1": "1 Main St", "city": "Springfield", "country_code": "US"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min", api_keys=(KEY, PACING_KEY, SHARED_KEY)) as handle:
        yield handle


@pytest.fixture
def sandbox(server: SandboxHandle) -> SandboxHandle:
    server.admin.reset()
    return server


def make_client(sandbox: SandboxHandle, key: str = KEY, **kwargs: Any) -> LoopClient:
    options: dict[str, Any] = {
        "rate_limit": "0/min",
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
        "rng": random.Random(7),
    }
    return LoopClient(sandbox.base_url, key, **(options | kwargs))


@pytest.fixture
def loop(sandbox: SandboxHandle) -> Iterator[LoopClient]:
    with make_client(sandbox) as client:
        yield client


def product(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "name": f"Product {external_id}",
        "price": {"amount": 1000, "currency_code": "USD"},
        "options": [{"position": 1, "name": "Color", "values": ["Red", "Blue"]}],
        **fields,
    }


def order(external_id: str, product_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "name": f"#{external_id}",
        "status": "active",
        "taxes_included": False,
        "total_price": {"amount": 1000, "currency_code": "USD"},
        "created_at": "2024-03-01T15:00:00+00:00",
        "line_items": [
            {
                "external_id": f"{external_id}-1",
                "product": {"id": product_id},
                "unit_price": {"amount": 1000},
                "taxable": True,
                "quantity": 1,
            }
        ],
        **fields,
    }


# --- round trips ---------------------------------------------------------------------------


def test_client_upsert_each_kind_round_trip(sandbox: SandboxHandle, loop: LoopClient) -> None:
    prod = loop.upsert("product", product("p1"))
    payloads: dict[str, Callable[[str], dict[str, Any]]] = {
        "location": lambda name: {
            "external_id": "l1",
            "name": name,
            "status": "active",
            "address": ADDRESS,
        },
        "customer": lambda name: {"external_id": "c1", "first_name": name},
        "product": lambda name: product("p1", name=name),
        "collection": lambda name: {
            "external_id": "k1",
            "name": name,
            "products": [{"id": prod["id"]}],
        },
        "order": lambda name: order("o1", prod["id"], name=name),
    }
    for kind, payload in payloads.items():
        created = loop.upsert(kind, payload("First"))
        updated = loop.upsert(kind, payload("Second"))
        assert updated["id"] == created["id"], kind
        assert isinstance(created["id"], int) and created["id"] > 2**53, kind
        assert loop.get(kind, created["id"]) == updated
        assert loop.get_by_external_id(kind, payload("x")["external_id"]) == updated
        stored = sandbox.admin.records(kind)
        assert [r["id"] for r in stored] == [created["id"]], kind
    assert loop.stats.by_endpoint["PUT /products"] == 3
    assert loop.stats.by_endpoint["GET /orders/{id}"] == 1
    assert loop.stats.by_endpoint["GET /orders/external/{external_id}"] == 1


def test_client_variant_by_product_external_path_and_inventory(
    sandbox: SandboxHandle, loop: LoopClient
) -> None:
    odd_id = "shirt #1?size=L & ä"
    prod = loop.upsert("product", product(odd_id))
    location = loop.upsert(
        "location", {"external_id": "l1", "name": "W", "status": "active", "address": ADDRESS}
    )
    body = {
        "external_id": "v1",
        "name": "Red",
        "taxable": True,
        "options": [{"position": 1, "value": "Red"}],
    }
    variant = loop.upsert_variant(odd_id, body)
    again = loop.upsert_variant(odd_id, body | {"sku": "RED-1"})
    assert again["id"] == variant["id"] and again["sku"] == "RED-1"
    assert variant["product"]["id"] == prod["id"] and variant["id"] > 2**53
    inventory = loop.put_inventory(variant["id"], location["id"], 7)
    assert inventory["available_count"] == 7
    assert inventory["product_variant"][0]["id"] == variant["id"]
    assert loop.put_inventory(variant["id"], location["id"], 3)["id"] == inventory["id"]
    assert [r["available_count"] for r in sandbox.admin.records("inventory")] == [3]
    assert [i["available_count"] for i in loop.list_all("inventories")] == [3]


def test_client_list_all_follows_next_page_url(sandbox: SandboxHandle, loop: LoopClient) -> None:
    wanted = [f"p{i:03}" for i in range(255)]
    results = list(loop.map_concurrent(lambda e: loop.upsert("product", product(e)), wanted))
    assert not [r for _, r in results if isinstance(r, Exception)]
    listed = list(loop.list_all("product"))
    assert sorted(p["external_id"] for p in listed) == wanted
    assert len({p["id"] for p in listed}) == 255
    pages = sandbox.admin.requests(method="GET", path="/api/2026-10/products")
    assert len(pages) == 2 and "limit=250" in pages[0]["query"]
    assert "cursor=" in pages[1]["query"]
    assert [p["external_id"] for p in loop.list_all("products", external_id="p007")] == ["p007"]


def test_client_refuses_a_next_page_url_on_another_host(loop: LoopClient) -> None:
    with pytest.raises(PermanentLoadError, match="refusing to follow"):
        loop.request("GET", "https://elsewhere.example/api/2026-10/products?cursor=x")
    assert loop.stats.sent == 0


# --- permanent errors ----------------------------------------------------------------------


def test_client_422_is_permanent_with_loops_field_text(loop: LoopClient) -> None:
    prod = loop.upsert("product", product("p1"))
    with pytest.raises(PermanentLoadError) as caught:
        loop.upsert("product", {"external_id": "p2", "price": {"amount": 1}})
    assert caught.value.status == 422
    assert str(caught.value) == "The given data was invalid.: name: The name field is required."
    assert isinstance(caught.value.body, dict) and "errors" in caught.value.body
    with pytest.raises(PermanentLoadError, match=r"line_items\.0\.product\.id: The selected"):
        loop.upsert("order", order("o1", prod["id"] + 999))
    assert loop.stats.permanent_failures == 2 and loop.stats.retries == 0


def test_client_401_is_fatal_never_shows_the_key_and_stops_sending(
    sandbox: SandboxHandle,
) -> None:
    with make_client(sandbox, SECRET) as client:
        with pytest.raises(LoopRefused) as caught:
            client.upsert("product", product("p1"))
        assert str(caught.value) == (
            f"Loop at {sandbox.base_url} refused the API key (401: Unauthorized. "
            "(GEN-UNAUTHORIZED)): check LOOP_API_KEY or target.api_key"
        )
        sent = client.stats.sent
        with pytest.raises(LoopRefused):
            client.upsert("product", product("p2"))
        assert client.stats.sent == sent == 1, "nothing more is sent once the key is refused"
        for text in (str(caught.value), repr(caught.value), repr(client), repr(client.stats)):
            assert SECRET not in text


def test_client_stops_once_loop_gives_no_answer_for_the_outage_window() -> None:
    client = LoopClient("http://127.0.0.1:9", "k", rate_limit="0/min", max_retries=50,
                        backoff_s=0.01, max_backoff_s=0.02, outage_s=0.3)  # fmt: skip
    with client, pytest.raises(TargetDown, match=r"no answer for \d+ s .*ConnectError"):
        client.upsert("product", product("p1"))
    assert client.stats.sent < 50


def test_client_404_by_external_id_is_none(loop: LoopClient) -> None:
    assert loop.get_by_external_id("product", "nope") is None
    prod = loop.upsert("product", product("p1"))
    assert loop.delete("product", prod["id"]) == {"id": prod["id"], "success": True}
    assert loop.get_by_external_id("product", "p1") is None
    with pytest.raises(PermanentLoadError, match="Product not found") as caught:
        loop.get("product", prod["id"])
    assert caught.value.status == 404


# --- transient errors, retries -------------------------------------------------------------


def test_client_retries_faults_and_upserts_stay_idempotent(sandbox: SandboxHandle) -> None:
    sandbox.admin.configure(fail_rate=0.3, seed=11)
    wanted = [f"p{i:02}" for i in range(40)]
    with make_client(sandbox, max_retries=10) as client:
        for external_id in wanted:
            client.upsert("product", product(external_id))
        assert client.stats.retries > 0
        assert client.stats.ok == len(wanted)
        assert client.stats.sent == len(wanted) + client.stats.retries
    faults = [r["fault"] for r in sandbox.admin.requests(method="PUT")]
    # Dropped connections ran the write before dropping: their retries met an existing record.
    assert faults.count("dropped") > 0 and faults.count("error") > 0
    stored = sorted(r["external_id"] for r in sandbox.admin.records("product"))
    assert stored == wanted


class Stub:
    """A loopback HTTP server answering from a script of (status, headers, body) or "drop"."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.arrivals: list[float] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.arrivals.append(time.monotonic())
                step = stub.script[min(len(stub.arrivals), len(stub.script)) - 1]
                if step == "drop":
                    self.close_connection = True
                    return
                status, headers, body = step
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def stub_client(stub: Stub, **kwargs: Any) -> LoopClient:
    options: dict[str, Any] = {"rate_limit": "0/min", "backoff_s": 0.01, "max_backoff_s": 0.02}
    return LoopClient(stub.url, "stub-key", **(options | kwargs))


def test_client_honours_retry_after_on_429() -> None:
    script = [
        (429, {"Retry-After": "1"}, {"message": "Too Many Attempts."}),
        (200, {}, {"product": {"id": 2**60 + 1, "external_id": "p1"}}),
    ]
    with Stub(script) as stub, stub_client(stub) as client:
        assert client.upsert("product", product("p1")) == {"id": 2**60 + 1, "external_id": "p1"}
        assert stub.arrivals[1] - stub.arrivals[0] >= 1.0
        assert (client.stats.rate_limited, client.stats.retries) == (1, 1)
        assert client.budget.stats().penalties == 1


def test_client_gives_up_after_max_retries_with_a_transient_error() -> None:
    script = [
        (503, {"Retry-After": "0"}, {"errors": {"code": "UNEXPECTED_ERROR", "message": "Down."}})
    ]
    with Stub(script) as stub, stub_client(stub, max_retries=2) as client:
        with pytest.raises(TransientLoadError, match=r"after 3 attempts: 503 Down\.") as caught:
            client.get("product", 1)
        assert caught.value.status == 503 and len(stub.arrivals) == 3
        assert client.stats.transient_failures == 1 and client.stats.retries == 2


def test_client_retries_a_dropped_connection_but_not_for_post() -> None:
    script = ["drop", (200, {}, {"order": {"id": 5}})]
    with Stub(script) as stub, stub_client(stub) as client:
        assert client.upsert("order", {"external_id": "o1"}) == {"id": 5}
        assert client.stats.retries == 1
    with Stub(["drop"]) as stub, stub_client(stub) as client:
        with pytest.raises(TransientLoadError, match="POST is not retried"):
            client.request("POST", "/orders", json={"name": "x"})
        assert len(stub.arrivals) == 1


# --- pacing against the sandbox's own limit ------------------------------------------------


def most_in_window(stamps: list[datetime], seconds: float) -> int:
    times = sorted(s.timestamp() for s in stamps)
    return max(sum(1 for u in times[i:] if u - t < seconds) for i, t in enumerate(times))


def test_client_budget_paces_without_a_429(sandbox: SandboxHandle, loop: LoopClient) -> None:
    for _, result in loop.map_concurrent(
        lambda i: loop.upsert("product", product(f"p{i}")), range(100)
    ):
        assert not isinstance(result, Exception)
    sandbox.admin.configure(rate_limit="20/s")
    # Reads, not upserts: on a loaded test machine an in-process upsert can take a few hundred
    # ms, and the budget (rightly) counts a request until its answer is back, which at a
    # 1 s window costs rate; at Loop's 60 s window the same latency costs well under 1 %.
    with make_client(sandbox, PACING_KEY, rate_limit="20/s", concurrency=4) as client:
        started = time.monotonic()
        results = list(
            client.map_concurrent(
                lambda i: client.get_by_external_id("product", f"p{i}"), range(100)
            )
        )
        elapsed = time.monotonic() - started
        assert all(isinstance(r, dict) for _, r in results)
        assert client.stats.rate_limited == 0 and client.stats.sent == 100
        burst = client.budget.burst
    log = sandbox.admin.requests(method="GET")
    assert [r["status"] for r in log].count(429) == 0 and len(log) == 100
    assert elapsed >= (100 - burst) / 20
    # (how much of the rate a sync uses is a benchmark figure: tests/bench/bench_pipeline.py)
    assert most_in_window([datetime.fromisoformat(r["received_at"]) for r in log], 1.0) <= 20


def test_client_two_clients_of_one_key_share_one_budget(sandbox: SandboxHandle) -> None:
    sandbox.admin.configure(rate_limit="50/s")
    first = make_client(sandbox, SHARED_KEY, rate_limit="50/s")
    second = make_client(sandbox, SHARED_KEY, rate_limit="50/s", api_version="2026-07")
    assert first.budget is second.budget
    with make_client(sandbox, KEY) as other:
        assert other.budget is not first.budget

    def work(client: LoopClient, prefix: str) -> None:
        for i in range(40):
            client.upsert("customer", {"external_id": f"{prefix}{i}"})

    threads = [threading.Thread(target=work, args=(c, p)) for c, p in ((first, "a"), (second, "b"))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    first.close()
    second.close()
    assert first.stats.rate_limited + second.stats.rate_limited == 0
    assert len(sandbox.admin.records("customer")) == 80
    assert elapsed >= (80 - first.budget.burst) / 50
    assert first.budget.stats().acquired == 80


# --- units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "message": "The given data was invalid.",
                "errors": {
                    "name": ["The name field is required."],
                    "line_items.0.product.id": ["The selected x is invalid."],
                },
            },
            "The given data was invalid.: name: The name field is required.; "
            "line_items.0.product.id: The selected x is invalid.",
            id="Laravel 422",
        ),
        pytest.param(
            {"errors": {"message": "Cannot process.", "code": "UNPROCESSABLE_RETURN"}},
            "Cannot process. (UNPROCESSABLE_RETURN)",
            id="errors message and code",
        ),
        pytest.param({"errors": {"code": "NOT_FOUND"}}, "NOT_FOUND", id="errors code only"),
        pytest.param(
            {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}},
            "Unauthorized. (GEN-UNAUTHORIZED)",
            id="error object",
        ),
        pytest.param({"errors": "Unauthorized."}, "Unauthorized.", id="errors string"),
        pytest.param({"message": "Too Many Attempts."}, "Too Many Attempts.", id="message"),
        pytest.param("<html> Bad\n gateway </html>", "<html> Bad gateway </html>", id="text"),
        pytest.param(None, "HTTP 502 with no error text", id="empty"),
    ],
)
def test_client_error_text_from_every_body_shape(body: Any, expected: str) -> None:
    assert loop_error_text(body, 502) == expected


def test_client_path_templates() -> None:
    assert path_template("/products/9007199255741995") == "/products/{id}"
    assert path_template("/products/external/a%20b/product-variants") == (
        "/products/external/{external_id}/product-variants"
    )
    assert path_template("/inventories/1/2?x=1") == "/inventories/{id}/{id}"


def test_client_map_concurrent_bounds_and_returns_exceptions() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.005)
        with lock:
            active -= 1
        if i == 7:
            raise ValueError("bad record")
        return i * 2

    results = dict(map_concurrent(work, iter(range(40)), 3))
    assert peak <= 3 and len(results) == 40
    assert isinstance(results.pop(7), ValueError)
    assert results == {i: i * 2 for i in range(40) if i != 7}


def test_client_sends_through_the_toolkit() -> None:
    """One retry policy, one rate grammar, one budget registry for Loop and the sources."""
    client = LoopClient("http://loop.test:1", "toolkit-key", rate_limit="0/min", max_retries=2)
    with client:
        assert isinstance(client.retry, RetryPolicy) and client.retry.max_retries == 2
        assert client.retry.max_retry_after_s == float("inf"), "Loop's Retry-After is waited out"
        assert client.budget.unlimited
        assert client.stats.sent == 0
