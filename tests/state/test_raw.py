"""Raw records: staged as the platform sent them, upserted per entity and key."""

from __future__ import annotations

import json
from pathlib import Path

from engine.state import State


def test_state_stage_raw_upserts_records_with_their_parent_key_and_run(tmp_path: Path) -> None:
    with State(tmp_path / "s.duckdb") as state:
        first, second = state.start_run("run"), state.start_run("run")
        state.stage_raw("lines", [("l1", {"q": 1}, "o1"), ("l2", {"q": "é"}, None)], first)
        state.stage_raw("lines", iter([("l1", {"q": 2}, "o2")]), second)
        state.stage_raw("lines", [], second)  # nothing to stage
        with state.transaction() as db:
            rows = db.execute(
                "SELECT key, record, parent_key, run_id FROM raw_records ORDER BY key"
            ).fetchall()
        assert [(k, json.loads(r), p, run) for k, r, p, run in rows] == [
            ("l1", {"q": 2}, "o2", second),
            ("l2", {"q": "é"}, None, first),
        ]
