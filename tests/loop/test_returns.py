"""engine.loop.returns through a LoopClient on httpx.MockTransport: Loop's 200-with-error answers
in every documented shape, 4xx refusals, notes with none, what each action sends, and the
returns list's windows and pages (next page links kept on the same Loop and their query kept)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from engine.errors import ConfigError
from engine.loop.client import LoopClient
from engine.loop.returns import (
    ReturnActionError,
    ReturnRecord,
    Returns,
    loop_failure,
    normalise_state,
    windows,
)

BASE = "https://loop.test"
API = f"{BASE}/api/2026-10"
Answer = tuple[int, Any]  # status, JSON body (a str is sent as a JSON string)


class Loop:
    """A scripted Loop: answers from a table by (method, path), and records every request."""

    def __init__(self, answers: dict[tuple[str, str], Answer | list[Answer]]) -> None:
        self.answers = answers
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path = request.url.path.removeprefix("/api/2026-10")
        found = self.answers.get((request.method, path), (404, {"errors": {"code": "NOT_FOUND"}}))
        status, body = found.pop(0) if isinstance(found, list) else found
        return httpx.Response(status, json=body)

    def query(self, n: int) -> dict[str, list[str]]:
        return parse_qs(self.sent[n].url.query.decode())


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[Returns, Loop]]]:
    clients: list[LoopClient] = []

    def make(answers: dict[tuple[str, str], Answer | list[Answer]]) -> tuple[Returns, Loop]:
        loop = Loop(answers)
        client = LoopClient(
            BASE, "key", rate_limit="0/min", max_retries=0, transport=httpx.MockTransport(loop)
        )
        clients.append(client)
        return Returns(client), loop

    yield make
    for client in clients:
        client.close()


ACTIONS: list[tuple[str, str, Callable[[Returns], Any]]] = [
    ("process", "/warehouse/return/7/process", lambda r: r.process(7)),
    ("flag", "/warehouse/return/7/flag", lambda r: r.flag("7")),
    ("cancel", "/warehouse/return/7/cancel", lambda r: r.cancel(7)),
    ("close", "/warehouse/return/7/close", lambda r: r.close("7")),
    ("note", "/warehouse/return/7/note", lambda r: r.note(7, "damaged box")),
    ("remove", "/warehouse/return/7/remove", lambda r: r.remove(7, [11])),
]
REFUSALS = [
    pytest.param(
        {"errors": {"message": "Return is closed and therefore cannot be processed.",
                    "code": "UNPROCESSABLE_RETURN"}},
        "Return is closed and therefore cannot be processed.", "UNPROCESSABLE_RETURN",
        id="errors message and code",
    ),
    pytest.param(
        {"message": "Return is cancelled and therefore cannot be processed."},
        "Return is cancelled and therefore cannot be processed.", None, id="message",
    ),
    pytest.param({"content": "Return is flagged."}, "Return is flagged.", None, id="content"),
    pytest.param(
        {"error": {"message": "The line_item_id field is required."}},
        "The line_item_id field is required.", None, id="error singular",
    ),
    pytest.param("false", "false (the action was not done)", None, id="the string false"),
    pytest.param(False, "false (the action was not done)", None, id="JSON false"),
    pytest.param({"success": True}, "{'success': True}", None, id="an object that is not true"),
]  # fmt: skip


@pytest.mark.parametrize(("action", "path", "call"), ACTIONS, ids=[a[0] for a in ACTIONS])
@pytest.mark.parametrize(("body", "message", "code"), REFUSALS)
def test_returns_action_200_with_an_error_body_is_a_failure(
    scripted: Callable[..., tuple[Returns, Loop]],
    action: str,
    path: str,
    call: Callable[[Returns], Any],
    body: Any,
    message: str,
    code: str | None,
) -> None:
    returns, _ = scripted({("POST", path): (200, body)})

    with pytest.raises(ReturnActionError) as caught:
        call(returns)

    error = caught.value
    assert (error.action, error.return_id, error.status, error.code) == (action, "7", 200, code)
    assert error.message == message
    assert f"{action} return 7: Loop said: {message}" in str(error) and "HTTP 200" in str(error)
    if code:
        assert f"code {code}" in str(error)


@pytest.mark.parametrize(("action", "path", "call"), ACTIONS, ids=[a[0] for a in ACTIONS])
@pytest.mark.parametrize("body", [True, "true"], ids=["JSON true", "the string true"])
def test_returns_action_true_is_success(
    scripted: Callable[..., tuple[Returns, Loop]],
    action: str,
    path: str,
    call: Callable[[Returns], Any],
    body: Any,
) -> None:
    returns, loop = scripted({("POST", path): (200, body)})

    result = call(returns)

    assert (result.action, result.return_id) == (action, "7")
    assert result.queued is (action in ("process", "remove"))
    assert len(loop.sent) == 1


def test_returns_process_says_queued_and_asynchronous(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    returns, loop = scripted({("POST", "/warehouse/return/7/process"): [(200, "true")] * 2})

    plain = returns.process(7)
    detailed = returns.process("7", {"erp_ref": "RMA-1"})

    assert plain.queued and "queued" in plain.summary
    assert "return.processing.failed" in plain.summary
    assert loop.sent[0].content == b"", "no details: no body"
    assert json.loads(loop.sent[1].content) == {"erp_ref": "RMA-1"}
    assert detailed.summary == plain.summary


def test_returns_remove_sends_the_line_ids_comma_separated(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    returns, loop = scripted({("POST", "/warehouse/return/7/remove"): (200, "true")})

    returns.remove("7", [11, "12", 11])

    assert loop.query(0) == {"line_item_id": ["11,12"]}


@pytest.mark.parametrize(
    ("status", "body", "message", "code"),
    [
        pytest.param(
            422, {"error": {"message": "The line_item_id field is required."}},
            "The line_item_id field is required.", None, id="422 error singular",
        ),
        pytest.param(
            422, {"errors": {"message": "Return cannot be modified.", "code": "UNPROCESSABLE_RETURN"}},
            "Return cannot be modified.", "UNPROCESSABLE_RETURN", id="422 errors",
        ),
        pytest.param(
            404, {"errors": {"code": "NOT_FOUND", "message": "Return not found."}},
            "Return not found.", "NOT_FOUND", id="404",
        ),
    ],
)  # fmt: skip
def test_returns_remove_4xx_is_a_failure_with_the_status(
    scripted: Callable[..., tuple[Returns, Loop]],
    status: int,
    body: Any,
    message: str,
    code: str | None,
) -> None:
    returns, _ = scripted({("POST", "/warehouse/return/7/remove"): (status, body)})

    with pytest.raises(ReturnActionError) as caught:
        returns.remove(7, [1])

    assert (caught.value.status, caught.value.message, caught.value.code) == (status, message, code)
    assert f"HTTP {status}" in str(caught.value)


def test_returns_notes_none_is_an_empty_list(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    returns, _ = scripted({("GET", "/warehouse/return/7/notes"): (422, "false")})

    assert returns.notes(7) == []


def test_returns_notes_are_read_and_other_refusals_raise(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    note = {"id": 5, "content": "damaged", "created_at": "2026-01-05 10:00:00"}
    returns, _ = scripted(
        {
            ("GET", "/warehouse/return/7/notes"): (200, {"notes": [note]}),
            ("GET", "/warehouse/return/8/notes"): (422, {"errors": {"message": "Nope."}}),
        }
    )

    (found,) = returns.notes("7")

    assert (found.id, found.content, found.created_at) == ("5", "damaged", "2026-01-05 10:00:00")
    with pytest.raises(ReturnActionError, match=r"Nope\. \(HTTP 422\)"):
        returns.notes(8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda r: r.note(7, "x" * 255), "under 255 characters", id="note 255 chars"),
        pytest.param(lambda r: r.note(7, "   "), "needs some text", id="empty note"),
        pytest.param(lambda r: r.remove(7, []), "at least one line", id="no line ids"),
        pytest.param(lambda r: r.remove(7, ["a"]), "line item id", id="a line id not a number"),
        pytest.param(lambda r: r.flag("7/../8"), "return id", id="a return id not a number"),
        pytest.param(lambda r: r.details(True), "return id", id="a bool is no id"),
    ],
)
def test_returns_bad_arguments_are_refused_before_sending(
    scripted: Callable[..., tuple[Returns, Loop]], call: Callable[[Returns], Any], message: str
) -> None:
    returns, loop = scripted({})

    with pytest.raises(ConfigError, match=message):
        call(returns)

    assert loop.sent == []


def test_returns_a_note_of_254_characters_is_sent(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    returns, loop = scripted({("POST", "/warehouse/return/7/note"): (200, "true")})

    returns.note(7, "x" * 254)

    assert json.loads(loop.sent[0].content) == {"content": "x" * 254}


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        pytest.param({"errors": {"message": "m", "code": "C"}}, "m", "C", id="errors"),
        pytest.param({"error": {"message": "m", "code": 401}}, "m", "401", id="error"),
        pytest.param({"message": "m", "code": "C"}, "m", "C", id="message and code"),
        pytest.param({"content": "m"}, "m", None, id="content"),
        pytest.param(
            {"message": "The given data was invalid.", "errors": {"to": ["Too long."]}},
            "The given data was invalid.: to: Too long.", None, id="laravel fields",
        ),
        pytest.param({"errors": "Unauthorized."}, "Unauthorized.", None, id="errors text"),
        pytest.param(None, "an empty answer", None, id="nothing"),
        pytest.param("Server says no", "Server says no", None, id="text"),
    ],
)  # fmt: skip
def test_loop_failure_reads_every_shape(body: Any, message: str, code: str | None) -> None:
    assert loop_failure(body) == (message, code)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("review", "review"), ("needs review", "review"), ("Needs Review", "review"),
     ("needs_review", "review"), ("open", "open"), (None, None)],
)  # fmt: skip
def test_normalise_state_spells_the_flagged_state_review(given: Any, expected: Any) -> None:
    assert normalise_state(given) == expected


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "count"),
    [(0, 1), (1, 1), (119, 1), (120, 2), (121, 2), (239, 2), (250, 3), (365, 4)],
)
def test_windows_are_consecutive_under_120_days_and_cover_the_span(days: int, count: int) -> None:
    start = NOW - timedelta(days=days)

    found = windows(start, NOW)

    assert len(found) == count
    assert found[0][0] == start and found[-1][1] == NOW
    for (_, stop), (following, _) in itertools.pairwise(found):
        assert following - stop == timedelta(seconds=1), "a gap or an overlap"
    assert all(timedelta(0) <= stop - begin < timedelta(days=120) for begin, stop in found)


def test_windows_take_naive_times_as_utc_and_refuse_a_reversed_range() -> None:
    naive = datetime(2026, 1, 1, 10, 0, 0, 123456)

    ((begin, stop),) = windows(naive, naive + timedelta(hours=1))

    assert begin == datetime(2026, 1, 1, 10, tzinfo=UTC) and stop.tzinfo == UTC
    with pytest.raises(ConfigError, match="is after"):
        windows(NOW, NOW - timedelta(seconds=1))


def _page(ids: list[Any], next_url: str | None) -> Answer:
    items = [{"id": i, "state": "needs review" if i == 3 else "open"} for i in ids]
    return 200, {"returns": items, "nextPageUrl": next_url, "previousPageUrl": None}


def test_returns_list_splits_250_days_into_three_windows(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    returns, loop = scripted({("GET", "/warehouse/return/list"): [_page([1], None)] * 3})

    found = list(returns.list_returns(NOW - timedelta(days=250), NOW, state="needs review"))

    assert [r.id for r in found] == ["1", "1", "1"] and len(loop.sent) == 3
    first, last = loop.query(0), loop.query(2)
    assert first["from"] == ["2026-03-26 12:00:00"] and last["to"] == ["2026-12-01 12:00:00"]
    assert first["filter"] == ["updated_at"] and first["state"] == ["review"]
    assert first["paginate"] == ["true"] and first["pageSize"] == ["250"]


def test_returns_list_follows_next_page_urls_and_keeps_the_query(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    bare_next = f"{API}/warehouse/return/list?cursor=abc"  # Loop's link may drop our query
    full_next = f"{API}/warehouse/return/list?cursor=def&filter=created_at&from=x&to=y"
    pages = [_page([1, "2"], bare_next), _page([3], full_next), _page([4], None)]
    returns, loop = scripted({("GET", "/warehouse/return/list"): pages})

    found = list(returns.list_returns(NOW - timedelta(days=1), NOW, filter="created_at"))

    assert [r.id for r in found] == ["1", "2", "3", "4"], "ids compare as strings"
    assert [r.state for r in found] == ["open", "open", "review", "open"]
    second, third = loop.query(1), loop.query(2)
    assert second["cursor"] == ["abc"] and second["filter"] == ["created_at"]
    assert second["from"] == loop.query(0)["from"] and second["pageSize"] == ["250"]
    assert third["from"] == ["x"], "what the link carries wins"


def test_returns_list_refuses_a_next_page_on_another_host(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    elsewhere = "https://evil.test/api/2026-10/warehouse/return/list?cursor=a"
    returns, loop = scripted({("GET", "/warehouse/return/list"): [_page([1], elsewhere)]})

    with pytest.raises(ReturnActionError, match=r"refusing to follow https://evil\.test"):
        list(returns.list_returns(NOW - timedelta(days=1), NOW))

    assert len(loop.sent) == 1


def test_returns_list_stops_on_a_next_page_that_repeats(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    same = f"{API}/warehouse/return/list?cursor=a"
    returns, _ = scripted({("GET", "/warehouse/return/list"): [_page([1], same)] * 3})

    with pytest.raises(ReturnActionError, match="the next page repeats"):
        list(returns.list_returns(NOW - timedelta(days=1), NOW))


def test_returns_list_reads_a_bare_array_and_a_range_refusal(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    invalid = {"message": "The given data was invalid.", "errors": {"to": ["More than 120 days."]}}
    answers: list[Answer] = [(200, [{"id": "9", "state": "closed"}]), (422, invalid)]
    returns, _ = scripted({("GET", "/warehouse/return/list"): answers})

    assert [r.id for r in returns.list_returns(NOW - timedelta(days=1), NOW)] == ["9"]
    with pytest.raises(ReturnActionError, match=r"to: More than 120 days\. \(HTTP 422\)"):
        list(returns.list_returns(NOW - timedelta(days=1), NOW))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda r: r.list_returns(NOW, filter="edited_at"), "filter", id="filter"),
        pytest.param(lambda r: r.list_returns(NOW, state="gone"), "state", id="state"),
        pytest.param(lambda r: r.list_returns(NOW, page_size=751), "page_size", id="page size"),
    ],
)
def test_returns_list_refuses_bad_arguments(
    scripted: Callable[..., tuple[Returns, Loop]], call: Callable[[Returns], Any], message: str
) -> None:
    returns, loop = scripted({})

    with pytest.raises(ConfigError, match=message):
        call(returns)  # at the call, before any page is asked for

    assert loop.sent == []


def test_returns_details_takes_an_id_as_text_or_number(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    body = {"id": 7, "state": "Needs Review", "refunds": []}
    returns, loop = scripted({("GET", "/warehouse/return/details"): [(200, body)] * 2})

    by_number, by_text = returns.details(7), returns.details(" 7 ")

    assert by_number == by_text == ReturnRecord("7", "review", {**body, "state": "review"})
    assert loop.query(0) == loop.query(1) == {"return_id": ["7"]}
    assert urlsplit(str(loop.sent[0].url)).path == "/api/2026-10/warehouse/return/details"


def test_returns_details_error_body_is_a_failure(
    scripted: Callable[..., tuple[Returns, Loop]],
) -> None:
    missing = {"errors": {"code": "NOT_FOUND", "message": "Return not found."}}
    returns, _ = scripted(
        {("GET", "/warehouse/return/details"): [(200, {"message": "No."}), (404, missing)]}
    )

    with pytest.raises(ReturnActionError, match=r"show return 7: Loop said: No\. \(HTTP 200\)"):
        returns.details(7)
    with pytest.raises(ReturnActionError, match="code NOT_FOUND, HTTP 404"):
        returns.details(7)
