"""engine.loop.returns against the sandbox over real HTTP: the returns list page by page through
the sandbox's own next page links, in windows, and the actions round trip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.loop.client import LoopClient
from engine.loop.returns import ReturnActionError, Returns
from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, create_return, flush, sandbox, sync_order

LIST = "/api/2026-10/warehouse/return/list"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def returns(server: SandboxHandle) -> Iterator[Returns]:
    server.admin.reset()
    with LoopClient(server.base_url, server.api_key, rate_limit="0/min") as client:
        yield Returns(client)


@pytest.fixture
def order(server: SandboxHandle, returns: Returns) -> Order:
    return sync_order(server, tag="9300", quantities=(10, 10))


def test_returns_list_pages_through_the_next_page_links(
    server: SandboxHandle, returns: Returns, order: Order
) -> None:
    made = [str(create_return(server, order)["id"]) for _ in range(5)]

    found = list(returns.list_returns(datetime.now(UTC) - timedelta(hours=1), page_size=2))

    assert [r.id for r in found] == made
    requests = server.admin.requests("GET", LIST)
    assert len(requests) == 3
    assert all("pageSize=2" in r["query"] and "filter=updated_at" in r["query"] for r in requests)
    assert "cursor=" in requests[1]["query"] and "cursor=" in requests[2]["query"]


def test_returns_list_windows_and_pages_together(
    server: SandboxHandle, returns: Returns, order: Order
) -> None:
    now = datetime.now(UTC)
    ages = (245, 244, 200, 100, 2, 1)
    made = [
        str(create_return(server, order, created_at=(now - timedelta(days=d)).isoformat())["id"])
        for d in ages
    ]

    found = list(returns.list_returns(now - timedelta(days=250), now, filter="created_at",
                                      page_size=1))  # fmt: skip

    assert [r.id for r in found] == made
    requests = server.admin.requests("GET", LIST)
    starts = [r for r in requests if "cursor=" not in r["query"]]
    assert len(starts) == 3, "three windows"
    assert all("filter=created_at" in r["query"] for r in requests)


def test_returns_actions_round_trip(server: SandboxHandle, returns: Returns, order: Order) -> None:
    rid = str(create_return(server, order)["id"])

    flagged = returns.flag(int(rid))
    returns.note(rid, "checked by the warehouse")
    details = returns.details(rid)
    notes = returns.notes(rid)
    closed = returns.close(rid)

    assert flagged.summary == f"return {rid}: flagged for review"
    assert details.id == rid and details.state == "review"
    assert [n.content for n in notes] == ["checked by the warehouse"]
    assert closed.summary == f"return {rid}: closed"
    with pytest.raises(ReturnActionError) as caught:
        returns.process(rid)
    assert caught.value.return_id == rid and caught.value.action == "process"
    flush(server)
