"""Return actions from the platform (bucket III): a receipts file whose rows become actions on
Loop returns, against the real sandbox: found by order external id (the ID map) or name,
exactly once per key, refusals quarantined, returns not yet in Loop held back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.server import SandboxHandle, running_sandbox
from engine.state import BatchOutcome, State, Synced
from tests.pipeline.conftest import Pipeline
from tests.sandbox.support import create_return, flush, sync_order

SOURCE = """\
  customers:
    extract: {path: customers.csv}
    map: {external_id: to_string(id), email: email}
return_actions:
  receipts:
    extract: {path: receipts.csv}
    key: RECEIPT_NO
    order: ORDER_NO
    order_name: ORDER_NAME
    orders_entity: customers
    action: "STATUS == 'received' && 'process' || 'flag'"
    note: "Receipt {{ RECEIPT_NO }}: {{ NOTE }}"
"""
HEADER = "RECEIPT_NO,ORDER_NO,ORDER_NAME,STATUS,NOTE\n"


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min", webhook_time_scale=0.01) as handle:
        yield handle


def _state_knows_order(pipeline: Pipeline, external_id: str, loop_id: int) -> None:
    """As a sync of the orders entity leaves it: the order's external id -> its Loop id."""
    with State(pipeline.state_path) as state:
        run_id = state.start_run("seed")
        state.commit(BatchOutcome("customers", synced=[Synced(external_id, loop_id, "h")]), run_id)


def _return(sandbox: SandboxHandle, return_id: Any) -> dict[str, Any]:
    flush(sandbox)
    with sandbox.client() as api:
        details = api.get("/warehouse/return/details", params={"return_id": str(return_id)})
        notes = api.get(f"/warehouse/return/{return_id}/notes")
    body = dict(details.json())
    body["notes"] = notes.json()["notes"] if notes.status_code == 200 else []
    return body


def test_receipts_become_return_actions_once(pipeline: Pipeline, sandbox: SandboxHandle) -> None:
    pipeline.write("customers.csv", "id,email\n1,a@x.test\n")
    first = sync_order(sandbox, tag="901")
    second = sync_order(sandbox, tag="902")
    no_return = sync_order(sandbox, tag="903")
    processed = create_return(sandbox, first)
    flagged = create_return(sandbox, second)
    _state_knows_order(pipeline, "O-901", first.id)
    _state_knows_order(pipeline, "O-903", no_return.id)
    pipeline.write(
        "receipts.csv",
        HEADER
        + "R1,O-901,,received,all there\n"
        + f"R2,,{second.name},damaged,box crushed\n"
        + "R3,O-903,,received,\n",
    )
    compiled = pipeline.compile(SOURCE)

    summary = pipeline.run(compiled)

    stats = {s.entity: s for s in summary.entities}["receipts"]
    assert (stats.extracted, stats.created, stats.held, stats.quarantined) == (3, 2, 1, 0)
    assert _return(sandbox, processed["id"])["state"] == "closed"
    after = _return(sandbox, flagged["id"])
    assert after["state"] == "review"
    assert [n["content"] for n in after["notes"]] == ["Receipt R2: box crushed"]
    [held] = pipeline.parked("held")
    assert held["key"] == "R3" and "no return in Loop yet" in held["reasons"][0]

    again = {s.entity: s for s in pipeline.run(compiled).entities}["receipts"]
    assert (again.created, again.unchanged) == (0, 2)
    assert len(_return(sandbox, flagged["id"])["notes"]) == 1, "nothing acted twice"


def test_a_refused_action_is_quarantined_with_loops_words(
    pipeline: Pipeline, sandbox: SandboxHandle
) -> None:
    pipeline.write("customers.csv", "id,email\n1,a@x.test\n")
    order = sync_order(sandbox, tag="911")
    created = create_return(sandbox, order)
    with sandbox.client() as api:
        assert api.post(f"/warehouse/return/{created['id']}/cancel").json() in (True, "true")
    pipeline.write("receipts.csv", HEADER + f"R9,,{order.name},received,\n")

    summary = pipeline.run(pipeline.compile(SOURCE))

    stats = {s.entity: s for s in summary.entities}["receipts"]
    assert (stats.created, stats.quarantined) == (0, 1)
    [row] = pipeline.parked()
    assert row["key"] == "R9" and "cannot be processed" in row["reasons"][0]


def test_a_record_the_mapping_cannot_read_is_quarantined(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.write("customers.csv", "id,email\n1,a@x.test\n")
    pipeline.write("receipts.csv", HEADER + "R5,O-1,,shredded,\n")
    text = SOURCE.replace(
        "action: \"STATUS == 'received' && 'process' || 'flag'\"", "action: STATUS"
    )
    summary = pipeline.run(pipeline.compile(text))
    stats = {s.entity: s for s in summary.entities}["receipts"]
    assert stats.quarantined == 1
    [row] = pipeline.parked()
    assert "'shredded' is not one of process, flag" in row["reasons"][0]


def test_a_return_id_that_is_no_number_or_a_note_too_long_is_quarantined(
    pipeline: Pipeline, sandbox: SandboxHandle
) -> None:
    pipeline.write("customers.csv", "id,email\n1,a@x.test\n")
    pipeline.write("receipts.csv", "RECEIPT_NO,RETURN_ID,NOTE\nR1,abc,x\nR2,12," + "n" * 300 + "\n")
    text = """\
  customers:
    extract: {path: customers.csv}
    map: {external_id: to_string(id), email: email}
return_actions:
  receipts:
    extract: {path: receipts.csv}
    key: RECEIPT_NO
    return_id: RETURN_ID
    action: "'note'"
    note: "{{ NOTE }}"
"""
    summary = pipeline.run(pipeline.compile(text))
    stats = {s.entity: s for s in summary.entities}["receipts"]
    assert (stats.created, stats.quarantined) == (0, 2)
    reasons = {row["key"]: row["reasons"][0] for row in pipeline.parked()}
    assert "abc" in reasons["R1"] and "255" in reasons["R2"]


def test_a_return_action_source_can_be_run_alone(pipeline: Pipeline) -> None:
    pipeline.write("customers.csv", "id,email\n1,a@x.test\n")
    pipeline.write("receipts.csv", HEADER)
    summary = pipeline.run(pipeline.compile(SOURCE), entities=("receipts",))
    assert [s.entity for s in summary.entities] == ["receipts"]
