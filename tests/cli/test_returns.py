"""`etl returns` against a sandbox over real HTTP: every action succeeds and changes the return,
list and show read it back, and a refusal (whether Loop's documented 200-with-error body or a
4xx) prints Loop's own message and exits 1."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle
from tests.cli.loop_support import etl, mapping_file
from tests.sandbox.support import Order, api, create_return, flush, sync_order

_tags = itertools.count(9100)


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)), quantities=(20, 20))


@pytest.fixture
def mapping(tmp_path: Path) -> str:
    return str(mapping_file(tmp_path))


def make(sb: SandboxHandle, order: Order, state: str = "open", **extra: Any) -> str:
    line = {"line_item_id": order.lines[0], "quantity": 1, "outcome": "refund"}
    return str(create_return(sb, order, line, state=state, **extra)["id"])


def stored(sb: SandboxHandle, return_id: str) -> dict[str, Any]:
    return dict(sb.admin.get(f"/returns/{return_id}").json())


def loop_message(body: Any) -> str:
    """Loop's words in an error body of any documented shape (for the refusal tests)."""
    if isinstance(body, dict):
        for key in ("errors", "error"):
            if isinstance(body.get(key), dict) and "message" in body[key]:
                return str(body[key]["message"])
        return str(body.get("message") or body.get("content"))
    return str(body)


# --- actions that succeed ----------------------------------------------------------------


def test_returns_process_is_queued_then_the_return_closes_with_the_details(
    sb: SandboxHandle, order: Order, mapping: str
) -> None:
    rid = make(sb, order)

    result = etl(
        sb, "returns", mapping, "process", rid, "--detail", "erp=RMA-7", "--detail", "a=b=c"
    )

    assert result.exit_code == 0, result.output
    assert f"return {rid}: queued for processing" in result.stdout
    assert "asynchronously" in result.stdout and "return.processing.failed" in result.stdout
    flush(sb)
    assert stored(sb, rid)["state"] == "closed"
    assert stored(sb, rid)["additional_details"] == {"erp": "RMA-7", "a": "b=c"}


@pytest.mark.parametrize(
    ("action", "state", "said"),
    [
        pytest.param("flag", "review", "flagged for review", id="flag"),
        pytest.param("cancel", "cancelled", "cancelled", id="cancel"),
        pytest.param("close", "closed", "closed", id="close"),
    ],
)
def test_returns_state_actions_change_the_return(
    sb: SandboxHandle, order: Order, mapping: str, action: str, state: str, said: str
) -> None:
    rid = make(sb, order)

    result = etl(sb, "returns", mapping, action, rid)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"return {rid}: {said}"
    assert stored(sb, rid)["state"] == state


def test_returns_flag_with_a_note_flags_then_notes(
    sb: SandboxHandle, order: Order, mapping: str
) -> None:
    rid = make(sb, order)

    flagged = etl(sb, "returns", mapping, "flag", rid, "--note", "box arrived crushed")
    notes = etl(sb, "returns", mapping, "notes", rid)

    assert flagged.exit_code == 0, flagged.output
    assert flagged.stdout.splitlines() == [
        f"return {rid}: flagged for review",
        f"return {rid}: note added",
    ]
    assert stored(sb, rid)["state"] == "review"
    assert notes.exit_code == 0, notes.output
    assert "box arrived crushed" in notes.stdout and "1 note(s)" in notes.stdout


def test_returns_note_then_notes_as_json(sb: SandboxHandle, order: Order, mapping: str) -> None:
    rid = make(sb, order)

    added = [etl(sb, "returns", mapping, "note", rid, text) for text in ("first", "second")]
    listed = etl(sb, "returns", mapping, "notes", rid, "--json")

    assert [r.exit_code for r in added] == [0, 0], added[0].output + added[1].output
    assert listed.exit_code == 0, listed.output
    notes = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [n["content"] for n in notes] == ["first", "second"]
    assert all(set(n) == {"id", "content", "created_at"} for n in notes)


def test_returns_remove_removes_the_lines_and_processes(
    sb: SandboxHandle, order: Order, mapping: str
) -> None:
    created = create_return(
        sb,
        order,
        {"line_item_id": order.lines[0], "outcome": "refund"},
        {"line_item_id": order.lines[0], "outcome": "store_credit"},
        {"line_item_id": order.lines[1], "outcome": "refund"},
    )
    rid, lines = str(created["id"]), [str(li["line_item_id"]) for li in created["line_items"]]

    result = etl(sb, "returns", mapping, "remove", rid, "--line", lines[0], "--line", lines[1])

    assert result.exit_code == 0, result.output
    assert "line items removed; processing queued" in result.stdout
    flush(sb)
    # As Loop does (loop-api.md §3.3): removed lines stay, zeroed; the current ones are in
    # presentment.line_items.
    with sb.client() as api:
        after = api.get("/warehouse/return/details", params={"return_id": rid}).json()
    current = [str(li["line_item_id"]) for li in after["presentment"]["line_items"]]
    assert current == [lines[2]]
    assert [str(li["line_item_id"]) for li in after["line_items"]] == lines
    assert after["state"] == "closed"


# --- reading -----------------------------------------------------------------------------


def test_returns_list_and_show(sb: SandboxHandle, order: Order, mapping: str) -> None:
    first, second = make(sb, order), make(sb, order)
    api(sb).post(f"/warehouse/return/{second}/flag")

    everything = etl(sb, "returns", mapping, "list", "--json")
    flagged = etl(sb, "returns", mapping, "list", "--state", "needs review")
    shown = etl(sb, "returns", mapping, "show", first)

    assert everything.exit_code == 0, everything.output
    rows = [json.loads(line) for line in everything.stdout.splitlines()]
    assert [str(r["id"]) for r in rows] == [first], "Loop's default leaves flagged ones out"
    assert flagged.exit_code == 0, flagged.output
    assert flagged.stdout.splitlines()[0] == "id  state  created_at  updated_at  order  total"
    assert flagged.stdout.splitlines()[1].startswith(f"{second}  review  ")
    assert flagged.stdout.splitlines()[-1] == "1 return(s)"
    assert shown.exit_code == 0, shown.output
    assert str(json.loads(shown.stdout)["id"]) == first


def test_returns_list_reads_250_days_in_three_windows(
    sb: SandboxHandle, order: Order, mapping: str
) -> None:
    now = datetime.now(UTC)
    ids = [make(sb, order, created_at=(now - timedelta(days=d)).isoformat()) for d in (240, 130, 1)]

    result = etl(sb, "returns", mapping, "list", "--since", "250d", "--json")

    assert result.exit_code == 0, result.output
    assert [str(json.loads(line)["id"]) for line in result.stdout.splitlines()] == ids
    requests = sb.admin.requests("GET", "/api/2026-10/warehouse/return/list")
    assert len(requests) == 3
    assert all(r["query"].count("filter=updated_at") == 1 for r in requests)


def test_returns_list_of_nothing_says_so(sb: SandboxHandle, mapping: str) -> None:
    result = etl(sb, "returns", mapping, "list", "--since", "2026-01-01", "--until", "2026-01-02")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "0 return(s)"


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "state", "extra"),
    [
        pytest.param("process", "cancelled", (), id="process a cancelled return"),
        pytest.param("process", "closed", (), id="process a closed return"),
        pytest.param("process", "review", (), id="process a flagged return"),
        pytest.param("flag", "closed", (), id="flag a closed return"),
        pytest.param("cancel", "review", (), id="cancel a flagged return"),
        pytest.param("close", "cancelled", (), id="close a cancelled return"),
        pytest.param("remove", "closed", ("--line", "LINE"), id="remove from a closed return"),
    ],
)
def test_returns_refused_action_prints_loops_message_and_exits_1(
    sb: SandboxHandle, order: Order, mapping: str, action: str, state: str, extra: tuple[str, ...]
) -> None:
    rid = make(sb, order, state=state)
    line = str(stored(sb, rid)["line_items"][0]["line_item_id"])
    args = tuple(line if a == "LINE" else a for a in extra)
    # What this Loop answers (200 with an error body, or a 4xx), asked directly first.
    params = {"line_item_id": line} if action == "remove" else None
    direct = api(sb).post(f"/warehouse/return/{rid}/{action}", params=params)
    assert direct.json() != "true"

    result = etl(sb, "returns", mapping, action, rid, *args)

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {action} return {rid}: Loop said: ")
    assert loop_message(direct.json()) in result.stderr
    assert f"HTTP {direct.status_code}" in result.stderr
    assert stored(sb, rid)["state"] == state


def test_returns_unknown_return_is_loops_not_found(sb: SandboxHandle, mapping: str) -> None:
    result = etl(sb, "returns", mapping, "show", "123456789")

    assert result.exit_code == 1, result.output
    assert "error: show return 123456789: Loop said: " in result.stderr
    assert "NOT_FOUND" in result.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        pytest.param(("note", "RID", "x" * 255), "under 255 characters", id="a note too long"),
        pytest.param(("flag", "RID", "--note", "x" * 300), "under 255", id="flag's note too long"),
        pytest.param(("show", "abc"), "not an id", id="an id that is no number"),
        pytest.param(("remove", "RID", "--line", "x"), "not an id", id="a line id no number"),
        pytest.param(("remove", "RID"), "--line", id="remove without lines"),
        pytest.param(("process", "RID", "--detail", "novalue"), "KEY=VALUE", id="a bad detail"),
        pytest.param(("list", "--since", "last week"), "age such as", id="a bad time"),
        pytest.param(
            ("list", "--since", "2026-02-01", "--until", "2026-01-01"),
            "is after",
            id="since after until",
        ),
    ],
)
def test_returns_bad_arguments_exit_2_and_send_nothing(
    sb: SandboxHandle, order: Order, mapping: str, args: tuple[str, ...], shown: str
) -> None:
    rid = make(sb, order)
    before = len(sb.admin.requests())

    result = etl(sb, "returns", mapping, *(rid if a == "RID" else a for a in args))

    assert result.exit_code == 2, result.output
    assert shown in result.stderr
    assert len(sb.admin.requests()) == before, "something was sent"
    assert stored(sb, rid)["state"] == "open"
