"""State changes of a return and the webhooks they send; asynchronous processing, as Loop's.

Processing (the process and remove actions, or Loop's automation when a label is delivered) is
queued: the action answers 200 at once and the sandbox's worker then closes the return, sends
return.closed and return.updated, restock.requested (unless restock webhooks are off for the
return or the sandbox) and, for store credit, giftcard.requested. Loop Anywhere shops refund
on their own platform, so `refunds[]` stays empty. With the `process_fail_rate` fault, the
worker sends return.processing.failed instead and the return keeps its state.
"""

from __future__ import annotations

from typing import Any

from engine.sandbox.core import Sandbox, chance
from engine.sandbox.returns.lines import restock_location
from engine.sandbox.returns.payloads import (
    failure_payload,
    giftcard_payload,
    restock_payload,
    return_payload,
    send,
)
from engine.sandbox.returns.store import load_return, save_return
from engine.sandbox.returns.totals import compute_totals, lines_by_outcome

# `source` of return.processing.failed for each way processing starts: an API call, or Loop's
# own automation (null in Loop's enum).
API, AUTOMATION = "api", None


def announce(sb: Sandbox, record: dict[str, Any], *triggers: str) -> None:
    for trigger in triggers:
        send(sb, return_payload(record, trigger))


def set_state(sb: Sandbox, record: dict[str, Any], state: str) -> None:
    """Moves a return to `state` (totals follow: a cancelled return's are zeroed), stores it
    and sends return.closed (when closed) and return.updated."""
    record["state"] = state
    compute_totals(record)
    save_return(sb, record)
    announce(sb, record, *(("return.closed",) if state == "closed" else ()), "return.updated")


def processing_fails(sb: Sandbox) -> bool:
    """Whether the next processing fails (the `process_fail_rate` fault)."""
    return chance(sb.rng, sb.config.process_fail_rate)


def queue_processing(
    sb: Sandbox, return_id: int, details: dict[str, Any], source: str | None, *, fails: bool
) -> None:
    """Queues the worker's half of processing. Whether it fails is decided by the caller, when
    the call comes in, so a fault turned on afterwards does not reach back to it."""
    sb.worker.submit(lambda: finish_processing(sb, return_id, details, source, fails=fails))


def finish_processing(
    sb: Sandbox,
    return_id: int,
    details: dict[str, Any],
    source: str | None = API,
    *,
    fails: bool = False,
) -> None:
    """The worker's half of processing: close the return, fulfil outcomes, send the webhooks;
    or, when it fails, only return.processing.failed."""
    record = load_return(sb, return_id)
    if record is None or record["state"] != "open":
        return
    if fails:
        send(sb, failure_payload(record, source), string_ids=False)
        return
    record["additional_details"] = {**record.get("additional_details", {}), **details}
    set_state(sb, record, "closed")
    if record.get("restock_webhooks", True) and sb.config.restock_webhooks:
        location = restock_location(sb, int(record["order_id"]))
        send(sb, restock_payload(record, location))
    if lines_by_outcome(record)["store_credit"]:
        send(sb, giftcard_payload(record, sb.new_id()))
