"""Two source records with one identity in a run are never raced into Loop: every record
sharing the key is quarantined (one row, naming them all) and none is sent."""

from __future__ import annotations

from tests.pipeline.conftest import Pipeline

CUSTOMERS = """\
  customers:
    extract: {path: customers.csv}
    map:
      external_id: customer_no
      email: email
"""
ROWS = "id,customer_no,email\n10,C1,a@x.test\n11,C1,b@x.test\n12,C2,c@x.test\n"


def _loop_customers(pipeline: Pipeline) -> dict[str, str]:
    return {r["external_id"]: r["email"] for r in pipeline.sandbox.admin.records("customer")}


def test_duplicate_keys_in_one_batch_are_quarantined_and_never_sent(pipeline: Pipeline) -> None:
    pipeline.write("customers.csv", ROWS)
    compiled = pipeline.compile(CUSTOMERS)

    stats = pipeline.run(compiled).entities[0]

    assert (stats.created, stats.quarantined) == (1, 1)
    assert _loop_customers(pipeline) == {"C2": "c@x.test"}
    [row] = pipeline.parked()
    assert (row["key"], row["stage"]) == ("C1", "duplicate")
    [reason] = row["reasons"]
    assert "duplicate key in source" in reason
    assert "id 10" in reason and "id 11" in reason


def test_a_rerun_on_unchanged_duplicates_sends_nothing(pipeline: Pipeline) -> None:
    pipeline.write("customers.csv", ROWS)
    compiled = pipeline.compile(CUSTOMERS)
    pipeline.run(compiled)
    sent = len(pipeline.sandbox.admin.requests(method="PUT"))

    again = pipeline.run(compiled, full_refresh=True).entities[0]

    assert (again.created, again.updated, again.unchanged, again.quarantined) == (0, 0, 1, 1)
    assert again.requests == 0
    assert len(pipeline.sandbox.admin.requests(method="PUT")) == sent


def test_a_key_met_again_in_a_later_batch_is_quarantined_naming_both(
    pipeline: Pipeline,
) -> None:
    pipeline.write("customers.csv", ROWS)
    compiled = pipeline.compile(CUSTOMERS)

    stats = pipeline.run(compiled, batch_size=1).entities[0]

    # the first C1 went before the second was read; the second is never sent over it
    assert (stats.created, stats.quarantined) == (2, 1)
    assert _loop_customers(pipeline) == {"C1": "a@x.test", "C2": "c@x.test"}
    [row] = pipeline.parked()
    assert row["key"] == "C1" and "earlier batch" in row["reasons"][0]
    assert "id 11" in row["reasons"][0]


def test_distinct_keys_are_not_duplicates(pipeline: Pipeline) -> None:
    pipeline.write("customers.csv", "id,customer_no,email\n1,C1,a@x.test\n2,C2,b@x.test\n")
    stats = pipeline.run(pipeline.compile(CUSTOMERS)).entities[0]
    assert (stats.created, stats.quarantined) == (2, 0)
    assert pipeline.parked() == []
