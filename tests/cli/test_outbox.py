"""`etl outbox`: a step the platform refused is failed and visible (list, show, /metrics), and
`retry` after the cause is fixed runs it once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from engine.cli import main
from engine.state import State
from examples.shopify_like import running_shopify_like
from tests.cli.serve_support import sandbox_handle
from tests.outcomes.test_crash import _process, _serve
from tests.outcomes.test_execute import MAPPING, _refunds, _returnable, _wait


def test_outbox_shows_a_refused_refund_and_retry_refunds_it_once(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    cli = CliRunner()
    with running_shopify_like(orders=12, seed=3) as shop:
        env = {"SHOP_URL": shop.api_url, "SHOP_LOCATION_IDS": "", "LOOP_RATE_LIMIT": "0/min"}
        served = _serve(shop, state)
        try:
            sandbox = sandbox_handle(served.urls["sandbox"])
            served.wait_until(lambda h: len(sandbox.admin.records("order")) >= 12, 120)
            order, line = _returnable(sandbox)
            shop.fail_refunds(int(order["external_id"]), 1)
            lines = [{"line_item_id": line["id"], "quantity": 1, "outcome": "refund"}]
            rid = _process(served, lines, order)
            _wait(lambda: any(w["status"] == 422 for w in shop.writes()))
            served.wait_until(lambda h: h["inbox"]["received"] == 0)
            metrics = httpx.get(served.urls["metrics"], timeout=10).text
        finally:
            code, _, err = served.terminate()
        assert code == 0, err
        args, where = ["outbox", str(MAPPING)], ["--state", str(state)]
        listed = cli.invoke(main, [*args, "list", "--status", "failed", "--json", *where], env=env)
        assert listed.exit_code == 0, listed.output
        [row] = [json.loads(x) for x in listed.output.splitlines()]
        shown = cli.invoke(main, [*args, "show", str(row["id"]), *where], env=env)
        not_failed = cli.invoke(main, [*args, "retry", "999", *where], env=env)
        retried = cli.invoke(main, [*args, "retry", str(row["id"]), *where], env=env)
        again = cli.invoke(main, [*args, "retry", str(row["id"]), *where], env=env)
        refunds = _refunds(shop, f"Loop return {rid}")
        with State(state) as s:
            run = s.outbox.run(rid, "refund")
    assert 'etl_outcome_steps_total{outcome="refund",result="failed"} 1.0' in metrics
    assert listed.exit_code == 0, listed.output
    assert row["step"] == "refund" and row["status"] == "failed" and "422" in row["reason"]
    assert json.loads(shown.output)["response"]["errors"]  # the shop's own words are kept
    assert not_failed.exit_code == 1 and "no step 999" in not_failed.output
    assert retried.exit_code == 0, retried.output
    assert "[confirmed]" in retried.output and "refund: done" in retried.output
    assert again.exit_code == 1 and "only a failed step is retried" in again.output
    assert [r["status"] for r in refunds] == [422, 201]
    assert run is not None and run.status == "done" and run.synced_at is not None


def test_outbox_without_a_state_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["outbox", str(MAPPING), "list", "--state", str(tmp_path / "none.duckdb")]
    )
    assert result.exit_code == 1 and "no state yet" in result.output
