"""`etl run` options end to end: --dry-run, --limit, --entity, --json; a broken mapping."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import MAPPINGS, Etl, Loop, write_counts

SUMMARY_KEYS = {"entity", "extracted", "unchanged", "created", "updated", "quarantined", "held",
                "requests", "rate_limited", "source_requests", "seconds", "outside_window",
                "deferred"}  # fmt: skip


def test_run_dry_run_sends_nothing_and_writes_no_state(etl: Etl, loop: Loop) -> None:
    result = etl.run_json("--dry-run")

    # References to records the run would create first count as resolved: nothing is held.
    assert result.code == 0, result
    assert loop.request_count() == 0
    assert not etl.state.exists(), "a dry run wrote a state file"
    summary = result.summary
    assert summary["customers"]["created"] == summary["customers"]["extracted"] > 0
    assert summary["orders"]["created"] == summary["orders"]["extracted"] > 0
    assert all(s["held"] == s["quarantined"] == 0 for s in summary.values())
    assert all(s["requests"] == 0 for s in summary.values())


def test_run_limit_entity_and_json_select_what_is_sent(etl: Etl, loop: Loop) -> None:
    result = etl.run_json("--entity", "locations", "--limit", "2")

    assert result.code == 0, result
    (stats,) = result.summary.values()
    assert set(stats) - {"total"} == SUMMARY_KEYS
    assert (stats["entity"], stats["extracted"], stats["created"], stats["requests"]) == (
        "locations",
        2,
        2,
        2,
    )
    assert write_counts(loop.writes()) == Counter({"PUT /locations": 2})
    assert len(loop.by_external_id("location")) == 2
    # the summary names where the records came from and went
    shop = etl.env["SHOP_URL"]
    summary = json.loads(result.stdout)
    assert summary["source"] == {"connector": "http", "base_url": shop, "embedded": False}
    assert summary["target"] == {"base_url": loop.base_url, "embedded": False}

    result = etl.run_json("-e", "customers")

    assert result.code == 0, result
    assert list(result.summary) == ["customers"]
    # customers are `send: referenced`: without their orders in the run, none is sent
    customers = result.summary["customers"]
    assert customers["extracted"] > 0 and customers["deferred"] == customers["extracted"]
    assert write_counts(loop.writes()) == Counter({"PUT /locations": 2})


def test_run_broken_mapping_exits_2_naming_the_place_and_runs_nothing(
        etl: Etl, loop: Loop, tmp_path: Path) -> None:  # fmt: skip
    text = (MAPPINGS / "shopify-like.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("total_price | cents(currency)", "total_price | cent(currency)"))
    line = next(n for n, row in enumerate(broken.read_text().splitlines(), 1) if "| cent(" in row)

    result = Etl(broken, etl.state, etl.env, etl.cwd).run()

    assert result.code == 2, result
    assert re.search(rf"broken\.yaml:{line}:\d+: .*unknown filter 'cent'", result.stderr), result
    assert loop.request_count() == 0
    assert not etl.state.exists()


def test_run_exits_1_when_the_source_fails(etl: Etl, loop: Loop) -> None:
    """A fatal error (the platform answers 401: a wrong token) ends the run with exit 1 and a
    message that names the request but not the token."""
    env = {**etl.env, "SHOP_TOKEN": "wrong-secret-token"}
    result = Etl(etl.mapping, etl.state, env, etl.cwd).run()

    assert result.code == 1, result
    assert "error:" in result.stderr and "401" in result.stderr, result
    assert "wrong-secret-token" not in result.stderr + result.stdout
    assert loop.request_count() == 0
